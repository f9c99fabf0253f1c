package livecheck

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// stackOf returns the live stack with n demo models (demo, m1, m2, …).
func stackOf(n int) string {
	head, tail, _ := strings.Cut(liveStack, "prometheus:\n")
	var b strings.Builder
	b.WriteString(head)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - name: m%d\n    kind: demo\n", i)
	}
	b.WriteString("prometheus:\n" + tail)
	return b.String()
}

// realistic sets the default scrape and evaluation intervals (5s, 15s):
// at 1s, 102 targets and 450 rules keep Prometheus busier than a real
// stack would.
func realistic(y string) string {
	y = strings.Replace(y, "scrape_interval: 1s", "scrape_interval: 5s", 1)
	return strings.Replace(y, "evaluation_interval: 1s", "evaluation_interval: 15s", 1)
}

// BenchmarkCheck50Models checks a 50-model stack (every panel of 51
// dashboards and every rule: 2,264 queries, 1,964 distinct) against a real
// Prometheus scraping its 102 targets every 5s, before any traffic (the
// worst case: every empty panel is also asked over its range); the goal is
// seconds, not minutes.
func BenchmarkCheck50Models(b *testing.B) {
	e := startEnv(b, realistic(stackOf(50)))
	s := e.stack
	var rep Report
	for b.Loop() {
		var err error
		if rep, err = Check(context.Background(), e.api, s); err != nil {
			b.Fatal(err)
		}
	}
	if err := rep.Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(rep.Results)), "queries")
}

// BenchmarkCheck50ModelsTraffic is BenchmarkCheck50Models once every model
// has served requests: most panels have data at the check time, so their
// range is never asked for.
func BenchmarkCheck50ModelsTraffic(b *testing.B) {
	e := startEnv(b, realistic(stackOf(50)))
	e.traffic(b, 50)
	time.Sleep(6 * time.Second) // the next scrape
	e.traffic(b, 50)
	time.Sleep(6 * time.Second) // and one more: rates exist
	var rep Report
	for b.Loop() {
		var err error
		if rep, err = Check(context.Background(), e.api, e.stack); err != nil {
			b.Fatal(err)
		}
	}
	if err := rep.Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rep.Counts()[StatusOK]), "ok")
}
