package exporter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// seen records what the fake upstream received.
type seen struct {
	mu     sync.Mutex
	method string
	uri    string
	body   string
	header http.Header
}

func (s *seen) get() (method, uri, body string, h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.method, s.uri, s.body, s.header
}

// recordingUpstream answers every request with answer and records it.
func recordingUpstream(t *testing.T, answer string) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.method, s.uri, s.body, s.header = r.Method, r.RequestURI, string(b), r.Header.Clone()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

// startExporter serves a new exporter with the production server (Serve,
// fasthttp) on a loopback listener.
func startExporter(t *testing.T, cfg Config) (*Exporter, *testServer) {
	t.Helper()
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 2 * time.Second
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e, serveExporter(t, e)
}

// testServer is an exporter served by Serve on a loopback listener.
type testServer struct {
	URL      string
	Listener net.Listener
	stop     func()
}

// Close stops the server (Serve returns) and waits for it.
func (s *testServer) Close() { s.stop() }

// serveExporter runs e.Serve on a loopback listener until the test ends.
func serveExporter(tb testing.TB, e *Exporter) *testServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Serve(ctx, ln) }()
	s := &testServer{URL: "http://" + ln.Addr().String(), Listener: ln}
	s.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-served; err != nil {
			tb.Logf("Serve: %v", err)
		}
	})
	tb.Cleanup(s.stop)
	return s
}

func do(t *testing.T, method, url, ctype, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, url, err)
	}
	return resp, string(b)
}

// scrape fetches /metrics and parses it.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return mfs
}

func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// value returns the counter/gauge value, or histogram count, of the series
// of family name whose labels include want; ok is false when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		l := labelsOf(m)
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string, expect float64) {
	t.Helper()
	v, ok := value(mfs, name, want)
	if !ok {
		t.Errorf("no series %s%v", name, want)
		return
	}
	if v != expect {
		t.Errorf("%s%v = %v, want %v", name, want, v, expect)
	}
}

func TestRouting(t *testing.T) {
	const answer = `{"predictions":[1,0]}`
	body := `{"instances":[[1,2],[3,4]]}`
	tests := []struct {
		name             string
		cfg              Config // Upstream filled in; path appended to it
		basePath         string
		method, path     string
		wantURI          string
		wantRoute        string
		wantRowsObserved bool
	}{
		{"mlflow predict", Config{Kind: KindMLflow}, "", "POST", "/predict", "/invocations", "/predict", true},
		{"mlflow predict keeps query", Config{Kind: KindMLflow}, "", "POST", "/predict?v=2", "/invocations?v=2", "/predict", true},
		{"tfserving predict", Config{Kind: KindTFServing, ModelName: "diabetes"}, "", "POST", "/predict", "/v1/models/diabetes:predict", "/predict", true},
		{"custom predict", Config{Kind: KindCustom, PredictPath: "/score"}, "", "POST", "/predict", "/score", "/predict", true},
		{"custom predict path direct", Config{Kind: KindCustom, PredictPath: "/score"}, "", "POST", "/score", "/score", "/score", true},
		{"base path prefix", Config{Kind: KindMLflow}, "/model", "POST", "/predict", "/model/invocations", "/predict", true},
		{"passthrough invocations", Config{Kind: KindMLflow}, "", "POST", "/invocations", "/invocations", "/invocations", true},
		{"passthrough tf predict", Config{Kind: KindTFServing, ModelName: "m"}, "", "POST", "/v1/models/m:predict", "/v1/models/m:predict", "/v1/models/:name:predict", true},
		{"passthrough tf status", Config{Kind: KindTFServing, ModelName: "m"}, "", "GET", "/v1/models/m", "/v1/models/m", "/v1/models/:name", false},
		{"passthrough ping", Config{Kind: KindMLflow}, "", "GET", "/ping", "/ping", "/ping", false},
		{"passthrough unknown with query", Config{Kind: KindMLflow}, "", "GET", "/some/where?a=1&b=%20", "/some/where?a=1&b=%20", RouteOther, false},
		{"passthrough with base", Config{Kind: KindMLflow}, "/m", "GET", "/version", "/m/version", "/version", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, s := recordingUpstream(t, answer)
			cfg := tt.cfg
			cfg.Upstream = up.URL + tt.basePath
			_, px := startExporter(t, cfg)
			resp, got := do(t, tt.method, px.URL+tt.path, "application/json", body)
			if resp.StatusCode != 200 || got != answer {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, got, answer)
			}
			if resp.Header.Get("X-Upstream") != "yes" {
				t.Errorf("upstream header not copied back: %v", resp.Header)
			}
			m, uri, b, _ := s.get()
			if m != tt.method || uri != tt.wantURI {
				t.Errorf("upstream got %s %s, want %s %s", m, uri, tt.method, tt.wantURI)
			}
			if b != body {
				t.Errorf("upstream got body %q, want %q", b, body)
			}
			mfs := scrape(t, px.URL)
			mustValue(t, mfs, MetricRequests, map[string]string{"method": tt.method, "route": tt.wantRoute, "code": "200"}, 1)
			mustValue(t, mfs, MetricRequestDuration, map[string]string{"method": tt.method, "route": tt.wantRoute, "code": "200"}, 1)
			mustValue(t, mfs, MetricUpstreamDuration, nil, 1)
			if tt.wantRowsObserved {
				mustValue(t, mfs, MetricRequestRows, nil, 1)
				mustValue(t, mfs, MetricPredictions, map[string]string{"class": "1"}, 1)
				mustValue(t, mfs, MetricPredictions, map[string]string{"class": "0"}, 1)
			} else {
				mustValue(t, mfs, MetricRequestRows, nil, 0)
				if _, ok := mfs[MetricPredictions]; ok {
					t.Errorf("predictions counted for a non-predict route")
				}
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	up, s := recordingUpstream(t, `{}`)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow})
	req, _ := http.NewRequest("POST", px.URL+"/predict", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "abc")
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, _, _, h := s.get()
	for k, want := range map[string]string{"X-Request-Id": "abc", "Authorization": "Bearer t", "Content-Type": "application/json", "Keep-Alive": "", "Proxy-Authorization": ""} {
		if got := h.Get(k); got != want {
			t.Errorf("upstream header %s = %q, want %q", k, got, want)
		}
	}
	if resp.Header.Get("Content-Length") != "2" {
		t.Errorf("Content-Length = %q, want 2", resp.Header.Get("Content-Length"))
	}
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// hijacking returns an upstream that writes raw bytes on the connection.
func hijacking(t *testing.T, raw string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_, _ = bw.WriteString(raw)
		_ = bw.Flush()
		c.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFaults(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	ok, _ := recordingUpstream(t, `{"predictions":[1]}`)

	tests := []struct {
		name       string
		upstream   string
		body       string
		chunked    bool // send the body without Content-Length
		wantCode   int
		wantCause  string // upstream_failures_total cause, or ""
		wantReject bool   // http_request_rejected_total{reason="body_too_large"}
	}{
		{"refused", closedURL(t), `{}`, false, 502, CauseRefused, false},
		{"timeout", slow.URL, `{}`, false, 504, CauseTimeout, false},
		{"garbage status line", hijacking(t, "HELLO\r\n\r\n"), `{}`, false, 502, CauseBadResponse, false},
		{"closed without answer", hijacking(t, ""), `{}`, false, 502, CauseBadResponse, false},
		{"truncated body", hijacking(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"pred"), `{}`, false, 502, CauseBadResponse, false},
		{"body too large", ok.URL, strings.Repeat("x", 200), false, 413, "", true},
		{"body too large chunked", ok.URL, strings.Repeat("x", 200), true, 413, "", true},
		{"body at limit", ok.URL, strings.Repeat("x", 100), false, 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, px := startExporter(t, Config{Upstream: tt.upstream, Kind: KindMLflow, Timeout: 200 * time.Millisecond, MaxBody: 100})
			var r io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				r = io.MultiReader(r) // hides the length: chunked encoding
			}
			req, _ := http.NewRequest("POST", px.URL+"/predict", r)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tt.wantCode)
			}
			if tt.wantCode != 200 {
				// MLflow's error shape, so MLflow clients parse it.
				var e struct {
					ErrorCode string `json:"error_code"`
					Message   string `json:"message"`
					Cause     string `json:"cause"`
				}
				if err := json.Unmarshal(b, &e); err != nil || e.ErrorCode == "" || e.Message == "" {
					t.Errorf("error body %q is not an MLflow error (%v)", b, err)
				}
				if strings.Contains(string(b), "127.0.0.1") {
					t.Errorf("error body %q shows an internal address", b)
				}
				if resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("error Content-Type %q", resp.Header.Get("Content-Type"))
				}
				want := tt.wantCause
				if tt.wantReject {
					want = ReasonBodyTooLarge
				}
				if e.Cause != want {
					t.Errorf("error cause %q, want %q", e.Cause, want)
				}
			}
			mfs := scrape(t, px.URL)
			for _, c := range []string{CauseTimeout, CauseRefused, CauseBadResponse} {
				want := 0.0
				if c == tt.wantCause {
					want = 1
				}
				mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": c}, want)
			}
			reject := 0.0
			if tt.wantReject {
				reject = 1
			}
			mustValue(t, mfs, MetricRejected, map[string]string{"reason": ReasonBodyTooLarge}, reject)
			mustValue(t, mfs, MetricRequests, map[string]string{"method": "POST", "route": "/predict", "code": fmt.Sprint(tt.wantCode)}, 1)
		})
	}
}

func TestReadiness(t *testing.T) {
	var hits atomic.Int64
	var status atomic.Int64
	status.Store(200)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/ping" {
			t.Errorf("readiness probed %s, want /ping", r.URL.Path)
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(up.Close)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, ReadyCacheTTL: 300 * time.Millisecond})

	for i := 0; i < 5; i++ {
		if resp, b := do(t, "GET", px.URL+"/readyz", "", ""); resp.StatusCode != 200 {
			t.Fatalf("readyz = %d %s, want 200", resp.StatusCode, b)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("upstream probed %d times within the cache TTL, want 1", n)
	}
	status.Store(500)
	time.Sleep(350 * time.Millisecond)
	if resp, _ := do(t, "GET", px.URL+"/readyz", "", ""); resp.StatusCode != 503 {
		t.Errorf("readyz with upstream 500 = %d, want 503", resp.StatusCode)
	}
	status.Store(404) // any non-5xx answer means the server is up
	time.Sleep(350 * time.Millisecond)
	if resp, _ := do(t, "GET", px.URL+"/readyz", "", ""); resp.StatusCode != 200 {
		t.Errorf("readyz with upstream 404 = %d, want 200", resp.StatusCode)
	}
	if resp, b := do(t, "GET", px.URL+"/healthz", "", ""); resp.StatusCode != 200 || b != "ok\n" {
		t.Errorf("healthz = %d %q", resp.StatusCode, b)
	}
}

func TestReadinessPaths(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: KindMLflow}, "/ping"},
		{Config{Kind: KindTFServing, ModelName: "m"}, "/v1/models/m"},
		{Config{Kind: KindCustom, PredictPath: "/p"}, "/"},
		{Config{Kind: KindCustom, PredictPath: "/p", HealthPath: "/healthcheck"}, "/healthcheck"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			up, s := recordingUpstream(t, "")
			cfg := tt.cfg
			cfg.Upstream = up.URL
			_, px := startExporter(t, cfg)
			if resp, _ := do(t, "GET", px.URL+"/readyz", "", ""); resp.StatusCode != 200 {
				t.Fatalf("readyz = %d", resp.StatusCode)
			}
			if m, uri, _, _ := s.get(); m != "GET" || uri != tt.want {
				t.Errorf("probe %s %s, want GET %s", m, uri, tt.want)
			}
		})
	}
	_, px := startExporter(t, Config{Upstream: closedURL(t), Kind: KindMLflow})
	resp, b := do(t, "GET", px.URL+"/readyz", "", "")
	if resp.StatusCode != 503 || !strings.Contains(b, "refused") {
		t.Errorf("readyz with upstream down = %d %s, want 503 mentioning refused", resp.StatusCode, b)
	}
}

// TestSeedQueriesSeries checks that every series the seed 000 dashboard
// queries select exists, with the labels the queries use.
func TestSeedQueriesSeries(t *testing.T) {
	up, _ := recordingUpstream(t, `{"predictions":["stay","leave"]}`)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, Buckets: []float64{.01, .1, 1}})
	do(t, "POST", px.URL+"/predict", "application/json", `{"dataframe_records":[{"a":1},{"a":2}]}`)
	mfs := scrape(t, px.URL)
	for _, name := range []string{
		"http_requests_total", "http_request_duration_seconds", "http_requests_in_flight",
		"upstream_request_duration_seconds", "upstream_failures_total", "http_request_rejected_total",
		"model_predictions_total", "model_request_rows",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
		"process_threads", "go_goroutines",
	} {
		if mfs[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if v, _ := value(mfs, "process_threads", nil); v < 1 {
		t.Errorf("process_threads = %v, want >= 1", v)
	}
	for _, m := range mfs["http_request_duration_seconds"].GetMetric() {
		var bounds []float64
		for _, b := range m.GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		if fmt.Sprint(bounds) != "[0.01 0.1 1 +Inf]" {
			t.Errorf("buckets %v, want the configured [0.01 0.1 1]", bounds)
		}
		l := labelsOf(m)
		for _, k := range []string{"method", "route", "code"} {
			if l[k] == "" {
				t.Errorf("http_request_duration_seconds without label %s: %v", k, l)
			}
		}
	}
	mustValue(t, mfs, MetricPredictions, map[string]string{"class": "stay"}, 1)
	mustValue(t, mfs, MetricPredictions, map[string]string{"class": "leave"}, 1)
	if h := mfs[MetricRequestRows].GetMetric()[0].GetHistogram(); h.GetSampleSum() != 2 {
		t.Errorf("rows sum = %v, want 2", h.GetSampleSum())
	}
}

func TestCardinalityBounded(t *testing.T) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A new class for every answer.
		fmt.Fprintf(w, `{"predictions":["c%d"]}`, n.Add(1))
	}))
	t.Cleanup(up.Close)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, MaxClasses: 5})
	for i := 0; i < 20; i++ {
		do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`)
		do(t, "GET", fmt.Sprintf("%s/scan/%d?x=%d", px.URL, i, i), "", "")
		do(t, "GET", fmt.Sprintf("%s/v1/models/m%d/versions/%d", px.URL, i, i), "", "")
	}
	mfs := scrape(t, px.URL)
	if got := len(mfs[MetricPredictions].GetMetric()); got != 6 {
		t.Errorf("%d class series, want 5 + other", got)
	}
	mustValue(t, mfs, MetricPredictions, map[string]string{"class": OtherClass}, 15)
	routes := map[string]bool{}
	for _, m := range mfs[MetricRequests].GetMetric() {
		routes[labelsOf(m)["route"]] = true
	}
	want := map[string]bool{"/predict": true, RouteOther: true, "/v1/models/:name/versions/:version": true}
	if fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Errorf("routes %v, want %v", routes, want)
	}
	mustValue(t, mfs, MetricRequests, map[string]string{"route": RouteOther, "method": "GET", "code": "200"}, 20)
}

func TestMethodNotAllowed(t *testing.T) {
	up, _ := recordingUpstream(t, `{}`)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow})
	resp, _ := do(t, "GET", px.URL+"/predict", "", "")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /predict = %d Allow=%q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestStaleConnectionRetried: the upstream closes pooled keep-alive
// connections; the next request must still succeed.
func TestStaleConnectionRetried(t *testing.T) {
	up, _ := recordingUpstream(t, `{"predictions":[1]}`)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow})
	for i := 0; i < 3; i++ {
		// Concurrent requests fill the pool with several connections ...
		var wg sync.WaitGroup
		for j := 0; j < 8; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Post(px.URL+"/predict", "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("request %d: status %d", i, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		// ... which all go stale at once.
		up.CloseClientConnections()
		time.Sleep(20 * time.Millisecond)
		for j := 0; j < 3; j++ {
			if resp, b := do(t, "POST", px.URL+"/predict", "application/json", `{}`); resp.StatusCode != 200 {
				t.Fatalf("request after stale pool: %d %s", resp.StatusCode, b)
			}
		}
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": CauseBadResponse}, 0)
}

func TestLargeAndSpecialResponses(t *testing.T) {
	big := strings.Repeat("y", 600<<10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big": // chunked, larger than the pass-through buffer
			_, _ = io.WriteString(w, big[:1000])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, big[1000:])
		case "/bigcl":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			_, _ = io.WriteString(w, big)
		case "/nocontent":
			w.WriteHeader(204)
		case "/invocations":
			_, _ = io.WriteString(w, `{"predictions":[`+strings.Repeat(`1,`, 3000)+`1]}`)
		}
	}))
	t.Cleanup(up.Close)
	e, err := New(Config{Upstream: up.URL, Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	e.respLimit = 1000 // force streaming of the predict answer too
	px := serveExporter(t, e)
	for _, p := range []string{"/big", "/bigcl"} {
		resp, b := do(t, "GET", px.URL+p, "", "")
		if resp.StatusCode != 200 || b != big {
			t.Errorf("GET %s: %d, %d bytes, want 200 with %d bytes", p, resp.StatusCode, len(b), len(big))
		}
	}
	resp, b := do(t, "HEAD", px.URL+"/bigcl", "", "")
	if resp.StatusCode != 200 || b != "" || resp.ContentLength != int64(len(big)) {
		t.Errorf("HEAD: %d len %d body %d bytes", resp.StatusCode, resp.ContentLength, len(b))
	}
	if resp, _ := do(t, "GET", px.URL+"/nocontent", "", ""); resp.StatusCode != 204 {
		t.Errorf("204 passthrough: %d", resp.StatusCode)
	}
	resp, b = do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`)
	if resp.StatusCode != 200 || len(b) != len(`{"predictions":[`)+3001*2-1+2 {
		t.Errorf("streamed predict: %d, %d bytes", resp.StatusCode, len(b))
	}
}

// TestGracefulShutdown: cancelling Run's context lets in-flight requests
// finish, refuses new connections, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, `{"predictions":[1]}`)
	}))
	t.Cleanup(up.Close)
	e, err := New(Config{Upstream: up.URL, Kind: KindMLflow, ShutdownTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Post(url+"/predict", "application/json", strings.NewReader(`{}`))
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	<-started
	cancel()
	if r := <-got; r != `200 {"predictions":[1]}` {
		t.Errorf("in-flight request during shutdown: %s", r)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		// Accepted by a leftover backlog at most; it must not be served.
		_ = c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Error("a request was served after shutdown")
		}
		c.Close()
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no upstream", Config{Kind: KindMLflow}, "upstream URL is required"},
		{"bad scheme", Config{Upstream: "ftp://x", Kind: KindMLflow}, "scheme"},
		{"no kind", Config{Upstream: "http://x"}, "kind is required"},
		{"bad kind", Config{Upstream: "http://x", Kind: "onnx"}, "unknown kind"},
		{"tf without name", Config{Upstream: "http://x", Kind: KindTFServing}, "model name"},
		{"custom without path", Config{Upstream: "http://x", Kind: KindCustom}, "predict path"},
		{"relative path", Config{Upstream: "http://x", Kind: KindCustom, PredictPath: "p"}, "must start with /"},
		{"bad buckets", Config{Upstream: "http://x", Kind: KindMLflow, Buckets: []float64{1, 0.5}}, "increasing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) error %v, want one containing %q", tt.cfg, err, tt.want)
			}
		})
	}
	if b, err := ParseBuckets(" .005, .01,1 "); err != nil || fmt.Sprint(b) != "[0.005 0.01 1]" {
		t.Errorf("ParseBuckets = %v, %v", b, err)
	}
	for _, bad := range []string{"", "a", "-1", "1,1"} {
		if _, err := ParseBuckets(bad); err == nil {
			t.Errorf("ParseBuckets(%q) accepted", bad)
		}
	}
}

func TestTLSUpstreamAndCSV(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/invocations" || r.Header.Get("Content-Type") != "text/csv" {
			t.Errorf("upstream got %s %q", r.URL.Path, r.Header.Get("Content-Type"))
		}
		_, _ = io.WriteString(w, `["a","b","a"]`)
	}))
	t.Cleanup(up.Close)
	tlsConf := up.Client().Transport.(*http.Transport).TLSClientConfig
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, TLSClientConfig: tlsConf})
	resp, b := do(t, "POST", px.URL+"/predict", "text/csv", "x,y\n1,2\n3,4\n5,6\n")
	if resp.StatusCode != 200 || b != `["a","b","a"]` {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricPredictions, map[string]string{"class": "a"}, 2)
	if h := mfs[MetricRequestRows].GetMetric()[0].GetHistogram(); h.GetSampleSum() != 3 {
		t.Errorf("csv rows = %v, want 3", h.GetSampleSum())
	}
	// Without the test CA the handshake fails: counted as refused (no connection).
	_, px2 := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow})
	if resp, b := do(t, "POST", px2.URL+"/predict", "text/csv", "x\n1\n"); resp.StatusCode != 502 || !strings.Contains(b, "TLS") {
		t.Errorf("untrusted TLS upstream: %d %s", resp.StatusCode, b)
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e, err := New(Config{Listen: ln.Addr().String(), Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("Run on a busy port: %v", err)
	}
	e2, _ := New(Config{Listen: "127.0.0.1:0", Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e2.Run(ctx); err != nil {
		t.Errorf("Run with a done context: %v", err)
	}
}

// TestStreamBrokenMidBody: an answer larger than the buffer that breaks
// after the status was sent is aborted (the client sees an error, not a
// short clean answer) and counted as bad_response.
func TestStreamBrokenMidBody(t *testing.T) {
	chunk := strings.Repeat("z", 300<<10)
	up := hijacking(t, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"+chunk)
	_, px := startExporter(t, Config{Upstream: up, Kind: KindMLflow})
	resp, err := http.Get(px.URL + "/download")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Errorf("status %d, read error %v; want 200 and a truncated body", resp.StatusCode, err)
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": CauseBadResponse}, 1)
	mustValue(t, mfs, MetricRequests, map[string]string{"route": RouteOther, "code": "200"}, 1)
}
