package livecheck

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	builtins := builtinValues(time.Hour, 5*time.Second, 5*time.Second)
	vars := map[string]string{"model": "(demo|other)", "job": "ml_model_exporter"}
	tests := []struct{ in, want string }{
		{`rate(x{model=~"$model"}[$__rate_interval])`, `rate(x{model=~"(demo|other)"}[20s])`},
		{`rate(x[${__interval}])`, `rate(x[5s])`},
		{`increase(x{job="[[job]]"}[$__range])`, `increase(x{job="ml_model_exporter"}[3600s])`},
		{`x{job="${job:raw}"} * $__range_s`, `x{job="ml_model_exporter"} * 3600`},
		{`rate(x[$__interval_ms])`, `rate(x[5000])`},
		// Unknown variables and regexp/replacement syntax stay as written.
		{`label_replace(up, "a", "$1", "job", "(.*)")`, `label_replace(up, "a", "$1", "job", "(.*)")`},
		{`rate(x[$nosuch])`, `rate(x[$nosuch])`},
		{`up{job=~"a$"}`, `up{job=~"a$"}`},
	}
	for _, tc := range tests {
		if got := expand(tc.in, builtins, vars); got != tc.want {
			t.Errorf("expand(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestIntervals(t *testing.T) {
	tests := []struct {
		rng      time.Duration
		mdp      int
		scrape   time.Duration
		panelMin string
		want     time.Duration
		wantRate string
	}{
		{time.Hour, 800, 5 * time.Second, "", 5 * time.Second, "20s"},      // 4.5s rounds to 5s
		{time.Hour, 800, time.Second, "", 5 * time.Second, "6s"},           // rate: max(5s+1s, 4s)
		{6 * time.Hour, 800, 5 * time.Second, "", 30 * time.Second, "35s"}, // 27s rounds to 30s
		{time.Hour, 800, 5 * time.Second, ">1m", time.Minute, "65s"},
		{5 * time.Minute, 800, 15 * time.Second, "", 15 * time.Second, "60s"},
	}
	for _, tc := range tests {
		got := interval(tc.rng, tc.mdp, tc.scrape, tc.panelMin)
		if got != tc.want {
			t.Errorf("interval(%s, %d, %s, %q) = %s, want %s", tc.rng, tc.mdp, tc.scrape, tc.panelMin, got, tc.want)
		}
		if r := builtinValues(tc.rng, got, tc.scrape)["__rate_interval"]; r != tc.wantRate {
			t.Errorf("$__rate_interval = %s, want %s", r, tc.wantRate)
		}
	}
	for in, want := range map[string]time.Duration{"now-1h": time.Hour, "now-30m": 30 * time.Minute, "now-2d": 48 * time.Hour, "2026-01-01": time.Hour} {
		if got := timeRange(timeJSON{From: in, To: "now"}); got != want {
			t.Errorf("timeRange(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestTemplateValues(t *testing.T) {
	s := mustStack(t, `
name: t
models:
  - name: demo
    kind: demo
  - name: b-x
    kind: mlflow
    image: x:1
`)
	var looked []string
	lookup := func(label string, match []string) ([]string, error) {
		looked = append(looked, label+" "+strings.Join(match, ","))
		return []string{"a", "b"}, nil
	}
	list := `[
	  {"name":"single","type":"custom","current":{"value":"one"}},
	  {"name":"multi","type":"custom","multi":true,"current":{"value":["x","y.z"]}},
	  {"name":"allv","type":"query","includeAll":true,"allValue":".*","current":{"value":"$__all"}},
	  {"name":"opts","type":"custom","includeAll":true,"current":{"value":["$__all"]},"options":[{"value":"$__all"},{"value":"p"},{"value":"q"}]},
	  {"name":"lv","type":"query","includeAll":true,"query":{"query":"label_values(up{job=\"j\"}, instance)"},"current":{"value":"$__all"}},
	  {"name":"model","type":"query","includeAll":true,"query":"something()","current":{"value":"$__all"}}
	]`
	var vars []variableJSON
	if err := json.Unmarshal([]byte(list), &vars); err != nil {
		t.Fatal(err)
	}
	got, err := templateValues(vars, s, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"single": "one", "multi": `(x|y\\.z)`, "allv": ".*", "opts": "(p|q)", "lv": "(a|b)", "model": `(demo|b-x)`,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("$%s = %s, want %s", k, got[k], w)
		}
	}
	if len(looked) != 1 || looked[0] != `instance up{job="j"}` {
		t.Errorf("label_values lookups: %q", looked)
	}
}

// TestPanelItems: every query of every dashboard stackgen builds becomes one
// item, with no Grafana variable left and the dashboard's time range.
func TestPanelItems(t *testing.T) {
	s := mustStack(t, `
name: t
models:
  - name: demo
    kind: demo
  - name: flow
    kind: mlflow
    image: x:1
grafana:
  enabled: false
alerting:
  engine: prometheus
`)
	items, err := panelItems(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	dash := map[string]int{}
	ids := map[string]bool{}
	for _, it := range items {
		r := it.res
		dash[r.Dashboard]++
		id := fmt.Sprintf("%s/%d/%s", r.DashboardUID, r.PanelID, r.RefID)
		if r.PanelID == 0 || ids[id] {
			t.Errorf("panel id %s missing or repeated", id)
		}
		ids[id] = true
		if r.Dashboard != "t / all models" && r.Row == "" {
			t.Errorf("%s: no row", r.Where())
		}
		if r.Kind != KindPanel || r.Panel == "" || r.RefID == "" || r.DashboardUID == "" || r.DashboardFile == "" {
			t.Errorf("incomplete result %+v", r)
		}
		if strings.Contains(r.Query, "$") {
			t.Errorf("variable left in %s", r.Query)
		}
		if _, err := metricNames(r.Query); err != nil {
			t.Errorf("%s: %v", r.Query, err)
		}
		if it.instant || it.rng != time.Hour || it.step != 5*time.Second {
			t.Errorf("%s: instant %v range %s step %s", r.Query, it.instant, it.rng, it.step)
		}
	}
	// demo has the TF Serving row, flow does not; plus the overview.
	if len(dash) != 3 || dash["t / demo"] <= dash["t / flow"] || dash["t / all models"] == 0 {
		t.Errorf("queries per dashboard: %v", dash)
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		q    string
		want string
	}{
		{`sum(rate(http_requests_total{job="j"}[5m])) / sum(rate(http_requests_total[5m]))`, "http_requests_total"},
		{`histogram_quantile(0.9, sum by (le) (rate(:tensorflow:serving:request_latency_bucket[5m]))) / 1000`, ":tensorflow:serving:request_latency_bucket"},
		{`{__name__="up", job="x"} or {__name__=~"go_.*"}`, "up"},
		{`vector(1)`, ""},
		{`max_over_time(process_threads[5m:1m]) + on() group_left absent(ALERTS)`, "ALERTS process_threads"},
	}
	for _, tc := range tests {
		got, err := metricNames(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("metricNames(%s) = %v, want %s", tc.q, got, tc.want)
		}
	}
	if _, err := metricNames(`sum(`); err == nil {
		t.Error("want a parse error")
	}
}
