package report

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/stack"
)

// fiveModels is a 5-model stack (engine prometheus, mail catcher).
func fiveModels(t testing.TB) *stack.Stack {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: bench\nmodels:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - name: m%d\n    kind: demo\n    host_port: %d\n", i, 5100+i)
	}
	b.WriteString("grafana:\n  enabled: false\nalerting:\n  engine: prometheus\nsmtp:\n  mode: local\n")
	s, err := stack.Parse([]byte(b.String()), "bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// BenchmarkReport5Models is the speed goal: a 5-model stack over
// one hour (query_range against a fake Prometheus over HTTP, every chart
// drawn, index.html written) in under 5 s.
func BenchmarkReport5Models(b *testing.B) {
	s := fiveModels(b)
	o := testOptions(b, newFake())
	o.From = o.To.Add(-time.Hour)
	ds, _ := Dashboards(s)
	for b.Loop() {
		r, err := Collect(context.Background(), s, o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Write(r, b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(fromReport(ds))), "panels")
}
