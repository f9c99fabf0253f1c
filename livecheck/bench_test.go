package livecheck

import (
	"context"
	"fmt"
	"strings"
	"testing"
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

// BenchmarkCheck50Models checks a 50-model stack (every panel of 51
// dashboards and every rule: 2,264 queries) against a real Prometheus
// scraping its 102 targets; the goal is seconds, not minutes.
func BenchmarkCheck50Models(b *testing.B) {
	e := startEnv(b, stackOf(50))
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
