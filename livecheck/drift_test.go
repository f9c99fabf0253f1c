package livecheck

import (
	"context"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
)

// driftStack is the demo model with drift on (alert rules evaluated by
// Grafana: their value queries are checked, not their loading).
const driftStack = `
name: t
models:
  - name: demo
    kind: demo
    drift: {window: 2m}
`

// TestDriftKnownAfterTraffic: on a fresh stack with drift, the recording
// rules' PSI and share series do not exist yet; their panels and the drift
// alerts' value queries are no_traffic, not failures. The exporter's
// pre-created drift series are checked normally: when a target does not
// export them (an exporter without --baseline), their panels fail. A stack
// without drift does not know the recorded series (negative control).
func TestDriftKnownAfterTraffic(t *testing.T) {
	exp := map[string]string{"job": "ml_model_exporter", "model": "demo", "instance": "demo-exporter:8000"}
	ms := map[string]string{"job": "model_server", "model": "demo", "instance": "demo:8080"}
	base := []string{"up", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_threads",
		"upstream_request_duration_seconds_bucket", "upstream_failures_total", "model_request_rows_sum", "model_request_rows_count",
		"model_request_rows_bucket", "http_requests_in_flight"}
	tf := []string{":tensorflow:serving:request_count", ":tensorflow:serving:request_latency_bucket",
		":tensorflow:serving:request_latency_sum", ":tensorflow:serving:request_latency_count"}
	driftExported := []string{stack.MetricFeatureBin, stack.MetricFeatureMissing, stack.MetricFeatureOutOfRange,
		stack.MetricFeatureBaselineRatio, stack.MetricPredictionBaselineRatio}
	tests := []struct {
		name     string
		yaml     string
		names    []string
		failing  []string // metrics the failures name; nil: no failure
		waitsFor string   // a metric the PSI panel waits for
	}{
		{name: "fresh stack with drift", yaml: driftStack, names: append(append([]string{}, base...), driftExported...),
			waitsFor: stack.RecFeaturePSI},
		{name: "exporter without its drift series", yaml: driftStack, names: base,
			failing: []string{stack.MetricFeatureBaselineRatio, stack.MetricFeatureMissing, stack.MetricFeatureOutOfRange, stack.MetricPredictionBaselineRatio}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustStack(t, tt.yaml)
			series := map[string][]map[string]string{"up": {exp, ms}}
			for _, n := range tt.names {
				if n != "up" {
					series[n] = []map[string]string{exp}
				}
			}
			for _, n := range tf {
				series[n] = []map[string]string{ms}
			}
			f := &fakeProm{names: append(append([]string{}, tt.names...), tf...), targets: []map[string]string{exp, ms}, series: series,
				answer: func(q string) (int, string) {
					for _, n := range driftExported {
						if strings.Contains(q, n) && !strings.Contains(q, ":window") {
							return 200, dataMatrix
						}
					}
					return 200, emptyMatrix
				}}
			rep, err := Check(context.Background(), newAPI(t, f), s)
			if err != nil {
				t.Fatal(err)
			}
			failed := map[string]bool{}
			for _, r := range rep.Failures() {
				for _, m := range r.Missing {
					failed[m] = true
				}
				if tt.failing == nil {
					t.Errorf("failure: %s: %s", r.Where(), r.Detail)
				}
			}
			for _, m := range tt.failing {
				if !failed[m] {
					t.Errorf("no failure names %s; failures: %v", m, rep.Failures())
				}
			}
			if tt.waitsFor == "" {
				return
			}
			var psi, rule bool
			for _, r := range rep.NoTraffic() {
				if r.Row == "Data drift" && r.Panel == "Feature drift (PSI)" && r.RefID == "A" {
					psi = strings.Contains(r.Detail, tt.waitsFor+" (Prometheus' drift recording rules")
				}
				rule = rule || (r.Kind == KindRule && r.Rule == stack.AlertFeatureDrift)
			}
			if !psi || !rule {
				t.Errorf("PSI panel waiting = %v, feature_drift rule waiting = %v; no-traffic results: %v", psi, rule, rep.NoTraffic())
			}
			for _, r := range rep.Results {
				if strings.HasPrefix(r.Panel, "Share per bin") && r.RefID == "B" && r.Status != StatusOK {
					t.Errorf("%s: %s; the baseline ratios exist from start", r.Where(), r.Status)
				}
			}
		})
	}
}

// TestDriftRecordedUnknownWithoutDrift: the recorded drift series are known
// only for stacks with drift; a stack without drift that reads one (a custom
// alert) fails, and with a model matcher no target has it fails too.
func TestDriftRecordedUnknownWithoutDrift(t *testing.T) {
	for _, tt := range []struct {
		yaml, query string
		want        Status
	}{
		{driftStack, `model_feature:psi:window{model="demo"}`, StatusNoTraffic},
		{driftStack, `model_feature:psi:window{model="dmo"}`, StatusUnknownMetric},
		{"name: t\nmodels:\n  - {name: demo, kind: demo}\n", `model_feature:psi:window{model="demo"}`, StatusUnknownMetric},
	} {
		s := mustStack(t, tt.yaml)
		exp := map[string]string{"job": "ml_model_exporter", "model": "demo", "instance": "demo-exporter:8000"}
		f := &fakeProm{names: []string{"up"}, targets: []map[string]string{exp}, series: map[string][]map[string]string{"up": {exp}}}
		res, err := checkItems(context.Background(), newAPI(t, f), []item{panelItem(tt.query)}, knownCatalog(s), Options{}.withDefaults())
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Status != tt.want {
			t.Errorf("%s on %q: %s %q, want %s", tt.query, strings.SplitN(tt.yaml, "\n", 4)[3], res[0].Status, res[0].Detail, tt.want)
		}
	}
}
