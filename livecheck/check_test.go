package livecheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/stack"
)

// fakeProm is an httptest Prometheus HTTP API: metric names, metadata,
// rules and query answers are set per test.
type fakeProm struct {
	names []string
	meta  map[string][]map[string]string
	rules string // data of /api/v1/rules
	// targets are the active targets' labels; series[metric] its series.
	targets []map[string]string
	series  map[string][]map[string]string
	// answer returns the HTTP status and JSON body for a query.
	answer func(query string) (int, string)
	delay  time.Duration

	mu          sync.Mutex
	queries     []string
	steps       []string // step parameter of each range query
	inFlight    int
	maxInFlight int
}

// Answers of the fake for common cases.
const (
	dataMatrix  = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"model":"demo"},"values":[[1700000000,"1.5"]]}]}}`
	dataVector  = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"model":"demo"},"value":[1700000000,"2"]}]}}`
	emptyMatrix = `{"status":"success","data":{"resultType":"matrix","result":[]}}`
	emptyVector = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	nanMatrix   = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"NaN"],[1700000005,"NaN"]]}]}}`
	nanVector   = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"NaN"]}]}}`
)

func apiError(typ, msg string) string {
	b, _ := json.Marshal(map[string]string{"status": "error", "errorType": typ, "error": msg})
	return string(b)
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	ok := func(data any) {
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}
	switch r.URL.Path {
	case "/api/v1/label/__name__/values":
		ok(f.names)
	case "/api/v1/targets/metadata":
		out := []map[string]any{}
		for family, ms := range f.meta {
			for _, m := range ms {
				out = append(out, map[string]any{"target": map[string]string{"job": m["job"], "instance": "py:80"},
					"metric": family, "type": m["type"], "help": m["help"], "unit": ""})
			}
		}
		ok(out)
	case "/api/v1/targets":
		active := []map[string]any{}
		for _, t := range f.targets {
			active = append(active, map[string]any{"labels": t, "health": "up", "scrapePool": t["job"], "scrapeUrl": "http://x/metrics"})
		}
		ok(map[string]any{"activeTargets": active, "droppedTargets": []any{}})
	case "/api/v1/series":
		_ = r.ParseForm()
		out := []map[string]string{}
		for _, m := range r.Form["match[]"] {
			name := strings.TrimSuffix(strings.TrimPrefix(m, `{__name__="`), `"}`)
			for _, ls := range f.series[name] {
				x := map[string]string{"__name__": name}
				for k, v := range ls {
					x[k] = v
				}
				out = append(out, x)
			}
		}
		ok(out)
	case "/api/v1/rules":
		rules := f.rules
		if rules == "" {
			rules = `{"groups":[]}`
		}
		_, _ = fmt.Fprintf(w, `{"status":"success","data":%s}`, rules)
	case "/api/v1/query", "/api/v1/query_range":
		q := r.FormValue("query")
		f.mu.Lock()
		f.queries = append(f.queries, q)
		if r.URL.Path == "/api/v1/query_range" {
			f.steps = append(f.steps, r.FormValue("step"))
		}
		f.inFlight++
		f.maxInFlight = max(f.maxInFlight, f.inFlight)
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
		if f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
				return
			}
		}
		code, body := http.StatusOK, emptyMatrix
		if f.answer != nil {
			code, body = f.answer(q)
		}
		if code == http.StatusOK && r.URL.Path == "/api/v1/query" && body == emptyMatrix {
			body = emptyVector
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	default:
		http.NotFound(w, r)
	}
}

func newAPI(t testing.TB, h http.Handler) v1.API {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}

func panelItem(q string) item {
	return item{res: Result{Kind: KindPanel, Dashboard: "d", Panel: "p", RefID: "A", Query: q}, rng: time.Hour, step: 5 * time.Second}
}

// TestClassify covers every verdict through the HTTP API: what Prometheus
// answers, which metric names exist, and which the stack's components
// export after traffic.
func TestClassify(t *testing.T) {
	live := []string{"up", "http_requests_in_flight", "process_cpu_seconds_total", "http_requests_total"}
	known := catalog{
		"model_predictions_total": {"the exporter", []string{"ml_model_exporter"}},
		"http_requests_total":     {"the exporter", []string{"ml_model_exporter"}},
		"up":                      {"Prometheus, for every scrape target", nil},
		"ALERTS":                  {"Prometheus, while an alert is pending or firing", nil},
	}
	exp := map[string]string{"job": "ml_model_exporter", "model": "demo", "instance": "a:8000"}
	targets := []map[string]string{exp,
		{"job": "ml_model_exporter", "model": "idle", "instance": "c:8000"},
		{"job": "model_server", "model": "demo", "instance": "b:8080"},
		{"job": "py", "instance": "py:80"}}
	series := map[string][]map[string]string{
		"up":                        targets,
		"http_requests_total":       {exp},
		"process_cpu_seconds_total": {exp},
		"http_requests_in_flight":   {exp},
	}
	tests := []struct {
		name       string
		query      string
		instant    bool
		code       int
		body       string
		meta       map[string][]map[string]string
		want       Status
		wantDetail string
		wantSent   bool
	}{
		{"data", `sum(rate(http_requests_total[1m]))`, false, 200, dataMatrix, nil, StatusOK, "1 series", true},
		{"instant data", `up`, true, 200, dataVector, nil, StatusOK, "1 series", true},
		{"empty, metric exists", `sum(rate(http_requests_total{code="500"}[1m]))`, false, 200, emptyMatrix, nil,
			StatusNoTraffic, "its metrics exist", true},
		{"empty, metric known after traffic", `sum by (class) (rate(model_predictions_total[5m]))`, false, 200, emptyMatrix, nil,
			StatusNoTraffic, "model_predictions_total (the exporter)", true},
		{"empty, metric declared by a target only", `rate(py_requests_total[5m])`, false, 200, emptyMatrix,
			map[string][]map[string]string{"py_requests": {{"type": "counter", "help": "h", "job": "py"}}},
			StatusNoTraffic, "a scrape target declares it", true},
		{"declared by the selected target", `rate(py_requests_total{job="py"}[5m])`, false, 200, emptyMatrix,
			map[string][]map[string]string{"py_requests_total": {{"type": "counter", "help": "h", "job": "py"}}},
			StatusNoTraffic, "a scrape target declares it", true},
		{"declared by another target only", `rate(py_requests_total{job="model_server"}[5m])`, false, 200, emptyMatrix,
			map[string][]map[string]string{"py_requests_total": {{"type": "counter", "help": "h", "job": "py"}}},
			StatusUnknownMetric, `metric py_requests_total is exported by no target matching {job="model_server"}`, true},
		{"NaN only is empty", `histogram_quantile(0.95, sum by (le) (rate(http_requests_total[5m])))`, false, 200, nanMatrix, nil,
			StatusNoTraffic, "no data yet", true},
		{"NaN only instant", `up / 0 * 0`, true, 200, nanVector, nil, StatusNoTraffic, "no data yet", true},
		{"misspelled metric", `sum(rate(http_request_total[1m]))`, false, 200, emptyMatrix, nil,
			StatusUnknownMetric, "metric http_request_total is exported by no target (did you mean http_requests_total?)", true},
		{"unknown metric even with data from another arm", `sum(rate(bogus_metric_xyz[5m])) or up`, false, 200, dataMatrix, nil,
			StatusUnknownMetric, "metric bogus_metric_xyz is exported by no target", true},
		{"parse error is not sent", `sum(rate(up[1m])`, false, 200, dataMatrix, nil, StatusError, "PromQL parse error", false},
		{"unexpanded variable", `rate(up[$foo])`, false, 200, dataMatrix, nil, StatusError, "PromQL parse error", false},
		{"rejected: bad_data", `up`, false, 400, apiError("bad_data", "invalid parameter"), nil, StatusError,
			"Prometheus rejected the query: invalid parameter", true},
		{"selector matches no target", `up{job="wrong"}`, true, 200, emptyVector, nil,
			StatusUnknownMetric, `metric up: no scrape target matches {job="wrong"}`, true},
		{"metric not exported by the selected targets", `rate(process_cpu_seconds_total{job="model_server"}[5m])`, false, 200, emptyMatrix, nil,
			StatusUnknownMetric, `metric process_cpu_seconds_total is exported by no target matching {job="model_server"}`, true},
		{"known metric on the wrong job", `rate(model_predictions_total{job="model_server"}[5m])`, false, 200, emptyMatrix, nil,
			StatusUnknownMetric, `metric model_predictions_total is exported by no target matching {job="model_server"}`, true},
		{"known metric on its job", `rate(model_predictions_total{job="ml_model_exporter", model="demo"}[5m])`, false, 200, emptyMatrix, nil,
			StatusNoTraffic, "model_predictions_total (the exporter)", true},
		{"model without traffic yet", `rate(http_requests_total{job="ml_model_exporter", model="idle"}[5m])`, false, 200, emptyMatrix, nil,
			StatusNoTraffic, "no series yet of http_requests_total (the exporter)", true},
		{"model no target has", `rate(http_requests_total{model=~"nosuch|other"}[5m])`, false, 200, emptyMatrix, nil,
			StatusUnknownMetric, `metric http_requests_total: no scrape target matches {model=~"nosuch|other"}`, true},
		{"target labels of a non-target label ignored", `http_requests_in_flight{code="500"}`, true, 200, emptyVector, nil,
			StatusNoTraffic, "its metrics exist", true},
		{"ALERTS is not tied to a target", `ALERTS{model="demo"}`, true, 200, emptyVector, nil,
			StatusNoTraffic, "ALERTS (Prometheus, while an alert is pending or firing)", true},
		{"rejected: execution", `up + on() group_left up`, false, 422,
			apiError("execution", "many-to-many matching not allowed"), nil, StatusError, "many-to-many", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeProm{names: live, meta: tc.meta, targets: targets, series: series,
				answer: func(string) (int, string) { return tc.code, tc.body }}
			it := panelItem(tc.query)
			it.instant = tc.instant
			res, err := checkItems(context.Background(), newAPI(t, f), []item{it}, known, Options{}.withDefaults())
			if err != nil {
				t.Fatalf("checkItems: %v", err)
			}
			r := res[0]
			if r.Status != tc.want || !strings.Contains(r.Detail, tc.wantDetail) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Detail, tc.want, tc.wantDetail)
			}
			if sent := len(f.queries) > 0; sent != tc.wantSent {
				t.Errorf("query sent to Prometheus: %v, want %v", sent, tc.wantSent)
			}
			if r.Status.Failed() != (tc.want == StatusError || tc.want == StatusUnknownMetric) {
				t.Errorf("Failed() = %v for %s", r.Status.Failed(), r.Status)
			}
		})
	}
}

// TestFatal: Prometheus unreachable or broken fails the check itself
// rather than blaming every query.
func TestFatal(t *testing.T) {
	tests := []struct {
		name string
		h    http.Handler
	}{
		{"server error", &fakeProm{answer: func(string) (int, string) { return 503, "overloaded" }}},
		{"metadata broken", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/query") {
				(&fakeProm{}).ServeHTTP(w, r)
				return
			}
			http.Error(w, "boom", http.StatusInternalServerError)
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkItems(context.Background(), newAPI(t, tc.h), []item{panelItem("up")}, nil, Options{}.withDefaults())
			if err == nil {
				t.Fatal("want an error")
			}
		})
	}
	// Connection refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, _ := api.NewClient(api.Config{Address: srv.URL})
	if _, err := checkItems(context.Background(), v1.NewAPI(c), []item{panelItem("up")}, nil, Options{}.withDefaults()); err == nil {
		t.Fatal("connection refused: want an error")
	}
}

// TestQueryTimeout: a query slower than QueryTimeout, or than the
// caller's http.Client timeout, is an error verdict naming the timeout; the
// check goes on.
func TestQueryTimeout(t *testing.T) {
	// The fake answers after 10s: finishing well before proves the timeout
	// cut the query short.
	f := &fakeProm{names: []string{"up"}, delay: 10 * time.Second}
	srv := httptest.NewServer(f)
	defer srv.Close()
	tests := []struct {
		name   string
		client *http.Client
		opt    Options
		want   string
	}{
		{"query timeout", nil, Options{QueryTimeout: 100 * time.Millisecond}, "did not finish within "},
		{"client timeout", &http.Client{Timeout: 300 * time.Millisecond}, Options{}, "did not finish within "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := api.NewClient(api.Config{Address: srv.URL, Client: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := checkItems(context.Background(), v1.NewAPI(c), []item{panelItem("up")}, nil, tc.opt.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Status != StatusError || !strings.Contains(res[0].Detail, tc.want) {
				t.Errorf("got %s %q", res[0].Status, res[0].Detail)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("the timeout was not enforced (%s)", time.Since(start))
			}
		})
	}
}

// TestHangingPrometheus: when queries keep timing out, the check stops
// with an error after MaxTimeouts instead of waiting QueryTimeout for each.
func TestHangingPrometheus(t *testing.T) {
	f := &fakeProm{names: []string{"up"}, delay: 10 * time.Second}
	var items []item
	for i := range 100 {
		items = append(items, panelItem(fmt.Sprintf("up{i=\"%d\"}", i)))
	}
	start := time.Now()
	_, err := checkItems(context.Background(), newAPI(t, f), items, nil, Options{QueryTimeout: 50 * time.Millisecond, MaxTimeouts: 3}.withDefaults())
	if err == nil || !strings.Contains(err.Error(), "3 queries did not finish within 50ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: the check did not stop", d)
	}
}

// TestBounded: identical queries run once and never more than Concurrency
// at a time.
func TestBounded(t *testing.T) {
	f := &fakeProm{names: []string{"up"}, delay: 50 * time.Millisecond,
		answer: func(string) (int, string) { return 200, dataMatrix }}
	var items []item
	for i := range 40 {
		items = append(items, panelItem(fmt.Sprintf("up{i=\"%d\"}", i%20)))
	}
	res, err := checkItems(context.Background(), newAPI(t, f), items, nil, Options{Concurrency: 3}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 20 {
		t.Errorf("%d queries sent, want 20 distinct", len(f.queries))
	}
	if len(f.steps) != 0 {
		t.Errorf("%d range queries although the query at the check time had data", len(f.steps))
	}
	if f.maxInFlight > 3 || f.maxInFlight < 2 {
		t.Errorf("max in flight %d, want 2..3", f.maxInFlight)
	}
	for _, r := range res {
		if r.Status != StatusOK {
			t.Errorf("%s: %s", r.Query, r.Status)
		}
	}
}

// TestRangeStep: a panel's range query has at most MaxPoints points, and
// Grafana's step when that is coarser.
func TestRangeStep(t *testing.T) {
	tests := []struct {
		rng, step time.Duration
		maxPoints int
		want      string
	}{
		{time.Hour, 5 * time.Second, 0, "30"},
		{time.Hour, 5 * time.Second, 720, "5"},
		{time.Hour, time.Minute, 0, "60"},
		{5 * time.Minute, 5 * time.Second, 0, "5"},
	}
	for _, tc := range tests {
		f := &fakeProm{names: []string{"up"}}
		it := panelItem("up")
		it.rng, it.step = tc.rng, tc.step
		if _, err := checkItems(context.Background(), newAPI(t, f), []item{it}, nil, Options{MaxPoints: tc.maxPoints}.withDefaults()); err != nil {
			t.Fatal(err)
		}
		if len(f.steps) != 1 || f.steps[0] != tc.want {
			t.Errorf("range %s step %s max %d: sent steps %v, want %s", tc.rng, tc.step, tc.maxPoints, f.steps, tc.want)
		}
	}
}

// TestCanceled: an ended context ends the check with its error.
func TestCanceled(t *testing.T) {
	f := &fakeProm{names: []string{"up"}, delay: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var items []item
	for i := range 10 {
		items = append(items, panelItem(fmt.Sprintf("up{i=\"%d\"}", i)))
	}
	if _, err := checkItems(ctx, newAPI(t, f), items, nil, Options{}.withDefaults()); err == nil {
		t.Fatal("want the context's error")
	}
}

// TestCheckStack runs Check on a whole stack against the fake: every panel
// and rule gets one result, the known-after-traffic metrics are no_traffic,
// a custom alert with a typo fails, and the rule health of engine
// prometheus is applied.
func TestCheckStack(t *testing.T) {
	s := mustStack(t, `
name: t
models:
  - name: demo
    kind: demo
alerting:
  engine: prometheus
alerts:
  - name: typo
    kind: custom
    expr: sum(rate(http_request_total[5m])) > 1
`)
	var served atomic.Int32
	f := &fakeProm{
		names: []string{"up", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_threads",
			"upstream_request_duration_seconds_bucket", "upstream_failures_total", "model_request_rows_sum", "model_request_rows_count",
			"http_requests_in_flight", ":tensorflow:serving:request_count", ":tensorflow:serving:request_latency_bucket",
			":tensorflow:serving:request_latency_sum", ":tensorflow:serving:request_latency_count"},
		answer: func(q string) (int, string) {
			served.Add(1)
			if strings.HasPrefix(q, "up{") || strings.HasPrefix(q, "process_") || strings.Contains(q, "(process_") {
				return 200, dataMatrix
			}
			return 200, emptyMatrix
		},
	}
	// Prometheus has loaded every rule but high_latency_p95; high_cpu fails.
	var loaded []string
	rs, err := alerting.Rules(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Name == "high_latency_p95" {
			continue
		}
		health, lastErr := "ok", ""
		if r.Name == "high_cpu" {
			health, lastErr = "err", "boom"
		}
		loaded = append(loaded, fmt.Sprintf(`{"type":"alerting","name":%q,"query":"x","health":%q,"lastError":%q,"labels":{"model":%q},"annotations":{},"alerts":[],"duration":0,"evaluationTime":0,"lastEvaluation":"2026-01-01T00:00:00Z","state":"inactive"}`,
			r.Name, health, lastErr, r.Model))
	}
	f.rules = `{"groups":[{"name":"stackgen-demo","file":"f","interval":5,"rules":[` + strings.Join(loaded, ",") + `]}]}`
	rep, err := Check(context.Background(), newAPI(t, f), s)
	if err != nil {
		t.Fatal(err)
	}
	byStatus := rep.Counts()
	if byStatus[StatusOK] == 0 || byStatus[StatusNoTraffic] == 0 {
		t.Errorf("counts %v: want some ok and some no_traffic", byStatus)
	}
	var panels, rules int
	for _, r := range rep.Results {
		switch r.Kind {
		case KindPanel:
			panels++
			if strings.Contains(r.Query, "$") {
				t.Errorf("unexpanded variable in %s", r)
			}
			if r.Status.Failed() {
				t.Errorf("panel failed: %s", r)
			}
		case KindRule:
			rules++
		}
	}
	if panels < 20 || rules < 5 {
		t.Errorf("%d panel and %d rule results", panels, rules)
	}
	fails := rep.Failures()
	if len(fails) != 3 {
		t.Fatalf("failures: %v", fails)
	}
	want := map[string]string{
		"typo":             "metric http_request_total is exported by no target",
		"high_cpu":         "Prometheus fails to evaluate the loaded rule: boom",
		"high_latency_p95": "Prometheus has not loaded this alert rule",
	}
	for _, r := range fails {
		if !strings.Contains(r.Detail, want[r.Rule]) || r.Rule == "" {
			t.Errorf("%s: got %s", r, r.Status)
		}
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), `alert rule "typo": `+"`sum(rate(http_request_total[5m]))") {
		t.Errorf("Err() = %v", err)
	}
	// Each distinct query is sent at most twice (at the check time, then
	// over the range when that was empty), and there are fewer distinct
	// queries than results: identical queries are shared.
	distinct := map[string]bool{}
	for _, q := range f.queries {
		distinct[q] = true
	}
	if len(distinct) >= len(rep.Results) || int(served.Load()) > 2*len(distinct) {
		t.Errorf("%d requests, %d distinct queries for %d results: identical queries are not shared", served.Load(), len(distinct), len(rep.Results))
	}
	for _, r := range rep.NoTraffic() {
		if r.Panel == "Predictions/s by class" && !strings.Contains(r.Detail, "model_predictions_total (the exporter)") {
			t.Errorf("predictions panel: %s", r.Detail)
		}
	}
}

func mustStack(t testing.TB, y string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(strings.TrimSpace(y)+"\n"), "stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
