package livecheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/drift"
	"github.com/stackgen/stackgen/exporter"
	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/modelserver"
	"github.com/stackgen/stackgen/prometheus"
	"github.com/stackgen/stackgen/stack"
)

// liveStack is the stack the integration test renders for the real
// Prometheus: the demo model with its exporter, rules evaluated by
// Prometheus, everything every second.
const liveStack = `
name: lc
models:
  - name: demo
    kind: demo
prometheus:
  scrape_interval: 1s
  evaluation_interval: 1s
grafana:
  enabled: false
alerting:
  engine: prometheus
smtp:
  mode: "off"
`

// pyMetrics is what Python's prometheus_client serves for a labelled
// counter with no children yet: HELP and TYPE, no sample.
const pyMetrics = "# HELP py_requests_total Requests.\n# TYPE py_requests_total counter\n"

// env is a running demo model server, exporter and real Prometheus.
type env struct {
	api      v1.API
	url      string // Prometheus' base URL
	exporter string // base URL
	stack    *stack.Stack
}

// startEnv starts the demo model server and an exporter in process and a
// real Prometheus (Debian's /usr/bin/prometheus) scraping them with the
// scrape jobs and rule file stackgen renders for the stack, every model's
// targets pointed at the in-process servers.
func startEnv(t testing.TB, stackYAML string) *env {
	t.Helper()
	bin := testtool.Path(t, "apt-get install prometheus", "prometheus")
	s := mustStack(t, stackYAML)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	serve := func(h func(context.Context, net.Listener) error) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = h(ctx, ln) }()
		return ln.Addr().String()
	}
	ms := modelserver.New(modelserver.Config{Name: s.Models[0].ModelName})
	msAddr := serve(ms.Serve)
	ecfg := exporter.Config{Upstream: "http://" + msAddr, Kind: exporter.Kind(s.Models[0].Protocol)}
	if m := s.Models[0]; m.DriftEnabled() {
		ecfg.Baseline = m.Drift.Baseline
	}
	exp, err := exporter.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	expAddr := serve(exp.Serve)
	pyAddr := serve(func(ctx context.Context, ln net.Listener) error {
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = io.WriteString(w, pyMetrics)
		})}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		return srv.Serve(ln)
	})
	promAddr := freeAddr(t)

	// The rendered configuration, targets replaced by the local addresses.
	cfg := prometheus.Build(s)
	cfg.Alerting = nil
	// Every model's targets point at the one exporter and model server.
	repl := map[string]string{"localhost:" + fmt.Sprint(stack.PrometheusContainerPort): promAddr}
	for _, m := range s.Models {
		repl[m.ExporterService()+":"+fmt.Sprint(stack.ExporterContainerPort)] = expAddr
		repl[m.ServiceName()+":"+fmt.Sprint(m.Port)] = msAddr
	}
	for i := range cfg.ScrapeConfigs {
		for j := range cfg.ScrapeConfigs[i].StaticConfigs {
			for k, tg := range cfg.ScrapeConfigs[i].StaticConfigs[j].Targets {
				a, ok := repl[tg]
				if !ok {
					t.Fatalf("target %s of job %s: no local address", tg, cfg.ScrapeConfigs[i].JobName)
				}
				cfg.ScrapeConfigs[i].StaticConfigs[j].Targets[k] = a
			}
		}
	}
	cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, prometheus.ScrapeConfig{JobName: "py", StaticConfigs: []prometheus.StaticConfig{{Targets: []string{pyAddr}}}})
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write("prometheus.yml", data)
	files, err := alerting.Render(s)
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join("rules", "alerts.yml"), files[alerting.PrometheusRulesPath])
	dfiles, err := drift.Render(s, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Models {
		if data, ok := dfiles[drift.RulesPath(m.Name)]; ok {
			write(filepath.Join("rules", filepath.Base(drift.RulesPath(m.Name))), data)
		}
	}

	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	c, err := api.NewClient(api.Config{Address: "http://" + promAddr})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{api: v1.NewAPI(c), url: "http://" + promAddr, exporter: "http://" + expAddr, stack: s}
	e.waitTargetsUp(t, 2*len(s.Models)+2)
	return e
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitTargetsUp waits until n targets are up and each was scraped at least
// twice (so rates over the first samples exist).
func (e *env) waitTargetsUp(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		tr, err := e.api.Targets(ctx)
		cancel()
		up := 0
		for _, a := range tr.Active {
			if a.Health == v1.HealthGood {
				up++
			}
		}
		if err == nil && up == n {
			time.Sleep(2 * time.Second) // two more scrapes
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d targets up after 20s (err %v): %+v", up, n, err, tr.Active)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// traffic sends n valid predictions and one invalid payload (400) through
// the exporter.
func (e *env) traffic(t testing.TB, n int) {
	t.Helper()
	body, ctype, err := model.Example(model.Default(), "")
	if err != nil {
		t.Fatal(err)
	}
	post := func(b []byte) int {
		resp, err := http.Post(e.exporter+"/predict", ctype, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range n {
		if code := post(body); code != http.StatusOK {
			t.Fatalf("predict: %d", code)
		}
	}
	if code := post([]byte(`{"nonsense": true}`)); code < 400 {
		t.Fatalf("invalid payload answered %d", code)
	}
}

// find returns query A of the panel: on the model dashboard's exporter rows
// unless panel starts with "TF:" (then the TF Serving row).
func find(t testing.TB, rep Report, dashboard, panel string) Result {
	t.Helper()
	row := "Exporter"
	if p, ok := strings.CutPrefix(panel, "TF:"); ok {
		row, panel = "TF Serving", p
	}
	for _, r := range rep.Results {
		if r.Dashboard == dashboard && strings.HasPrefix(r.Row, row) && r.Panel == panel && r.RefID == "A" {
			return r
		}
	}
	t.Fatalf("no result for dashboard %q row %s… panel %q", dashboard, row, panel)
	return Result{}
}

// TestLivePrometheus runs the check against a real Prometheus scraping the
// real exporter and demo model server: before traffic the exporter panels
// are no_traffic (not unknown_metric) and nothing fails; after traffic they
// are ok; a misspelled metric, a query Prometheus rejects and a custom
// alert on a typo fail.
func TestLivePrometheus(t *testing.T) {
	e := startEnv(t, liveStack)
	ctx := context.Background()
	const dash = "lc / demo"

	rep, err := CheckURL(ctx, e.url, e.stack)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("fresh stack: %v", err)
	}
	t.Logf("before traffic: %s", rep.Summary())
	for _, tc := range []struct {
		panel   string
		want    Status
		missing string
	}{
		// The exporter creates its POST /predict 200 series at 0 on start:
		// the rate is a real 0, the latency histogram empty (NaN).
		{"Requests/s (RPS)", StatusOK, ""},
		{"Latency (P95)", StatusNoTraffic, ""},
		{"Predictions/s by class", StatusNoTraffic, "model_predictions_total"},
		{"Upstream latency", StatusNoTraffic, ""}, // exported from start, empty histogram: NaN
		{"Target health", StatusOK, ""},
		{"Threads", StatusOK, ""},
		{"TF:Model server health", StatusOK, ""},
		{"TF:Requests/s (RPS)", StatusOK, ""}, // the demo model server creates its OK counter at 0
		{"TF:P95 latency", StatusNoTraffic, ""},
	} {
		r := find(t, rep, dash, tc.panel)
		if r.Status != tc.want || strings.Join(r.Missing, ",") != tc.missing {
			t.Errorf("before traffic, %s: %s (missing %v), want %s (missing %q)", r.Where(), r.Status, r.Missing, tc.want, tc.missing)
		}
	}
	waiting := map[string]bool{}
	for _, p := range rep.WaitingPanels() {
		waiting[p.Title] = true
	}
	if !waiting["Predictions/s by class"] || waiting["Target health"] || waiting["Requests/s (RPS)"] {
		t.Errorf("before traffic, waiting panels: %v", rep.WaitingPanels())
	}
	for _, r := range rep.Results {
		if r.Kind == KindRule && r.Rule == "exporter_down" && r.Status != StatusOK {
			t.Errorf("%s: %s", r, r.Status)
		}
	}

	// Traffic, then wait for two scrapes of the new series.
	e.traffic(t, 20)
	time.Sleep(1500 * time.Millisecond)
	e.traffic(t, 20)
	panels := []string{"Requests/s (RPS)", "P95 latency", "Latency (P95)", "Predictions/s by class", "Requests/s by route and code", "Upstream latency"}
	var notOK []Result
	deadline := time.Now().Add(15 * time.Second)
	for {
		if rep, err = Check(ctx, e.api, e.stack); err != nil {
			t.Fatal(err)
		}
		notOK = nil
		for _, panel := range panels {
			if r := find(t, rep, dash, panel); r.Status != StatusOK {
				notOK = append(notOK, r)
			}
		}
		if len(notOK) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("after traffic: %s", rep.Summary())
	if err := rep.Err(); err != nil {
		t.Fatalf("after traffic: %v", err)
	}
	for _, r := range notOK {
		t.Errorf("after traffic, %s: %s", r, r.Status)
	}
	if w := rep.WaitingPanels(); len(w) != 0 {
		t.Errorf("after traffic, waiting panels: %v", w)
	}

	// Negative controls against the same Prometheus.
	opt := Options{}.withDefaults()
	items := []item{
		panelItem(`sum(rate(http_request_total{job="ml_model_exporter"}[1m]))`),
		panelItem(`sum(rate(http_requests_total[1m])`),
		panelItem(`http_requests_total + on() http_requests_total`),
		panelItem(`rate(py_requests_total[5m])`),
		panelItem(`rate(py_requests_total{job="py"}[5m])`),
		panelItem(`up{job="ml_model_exportr"}`),
		panelItem(`rate(process_cpu_seconds_total{job="model_server"}[5m])`),
		panelItem(`rate(model_predictions_total{job="model_server", model="demo"}[5m])`),
	}
	res, err := checkItems(ctx, e.api, items, knownCatalog(e.stack), opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		status Status
		detail string
	}{
		{StatusUnknownMetric, "metric http_request_total is exported by no target (did you mean http_requests_total?)"},
		{StatusError, "PromQL parse error"},
		{StatusError, "Prometheus rejected the query: "},
		{StatusNoTraffic, "py_requests_total (a scrape target declares it)"},
		{StatusNoTraffic, "py_requests_total (a scrape target declares it)"},
		{StatusUnknownMetric, `metric up: no scrape target matches {job="ml_model_exportr"}`},
		{StatusUnknownMetric, `metric process_cpu_seconds_total is exported by no target matching {job="model_server"}`},
		{StatusUnknownMetric, `metric model_predictions_total is exported by no target matching {job="model_server", model="demo"}`},
	} {
		if res[i].Status != want.status || !strings.Contains(res[i].Detail, want.detail) {
			t.Errorf("%s: got %s %q, want %s %q", res[i].Query, res[i].Status, res[i].Detail, want.status, want.detail)
		}
	}

	typo := mustStack(t, liveStack+`
alerts:
  - name: typo
    kind: custom
    expr: sum(rate(http_requests_totl[5m])) > 1
`)
	rep, err = Check(ctx, e.api, typo)
	if err != nil {
		t.Fatal(err)
	}
	fails := rep.Failures()
	if len(fails) != 1 || fails[0].Rule != "typo" || fails[0].Status != StatusUnknownMetric {
		t.Fatalf("failures with a typo alert: %v", fails)
	}
	t.Logf("negative control: %v", rep.Err())

	// A rule stackgen renders but the running Prometheus has not loaded
	// (no reload after render) fails too.
	unloaded := mustStack(t, liveStack+`
alerts:
  - name: not_loaded
    kind: custom
    expr: up{job="ml_model_exporter"} == 0
`)
	if rep, err = Check(ctx, e.api, unloaded); err != nil {
		t.Fatal(err)
	}
	fails = rep.Failures()
	if len(fails) != 1 || fails[0].Rule != "not_loaded" || !strings.Contains(fails[0].Detail, "Prometheus has not loaded this alert rule") {
		t.Fatalf("failures with a rule Prometheus has not loaded: %v", fails)
	}
}
