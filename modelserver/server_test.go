package modelserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackgen/stackgen/model"
)

type protoCase struct {
	name        string
	method      string
	path        string
	contentType string
	body        string
	status      int
	want        string // exact JSON (compared semantically) when it starts with { or [
	contains    string // substring of the body otherwise
	header      map[string]string
}

func example(t testing.TB, format string) string {
	t.Helper()
	b, _, err := model.Example(model.Default(), format)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func do(t testing.TB, h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jsonEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("answer %s\nwant   %s", gb, wb)
	}
}

func runCases(t *testing.T, h http.Handler, cases []protoCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			rec := do(t, h, method, tc.path, tc.contentType, tc.body)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.status, body)
			}
			if tc.want != "" {
				jsonEqual(t, body, tc.want)
			}
			if !strings.Contains(body, tc.contains) {
				t.Fatalf("body %q does not contain %q", body, tc.contains)
			}
			for k, v := range tc.header {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

const (
	jsonCT = "application/json"
	csvCT  = "text/csv"
	// the example rows are predicted as class 0 and class 1
	wantLabels = `{"predictions": [0, 1]}`
)

func TestTFServingProtocol(t *testing.T) {
	h := New(Config{Name: "diabetes-prediction"})
	status := `{"model_version_status":[{"version":"1","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}`
	base := "/v1/models/diabetes-prediction"
	runCases(t, h, []protoCase{
		{name: "status", method: "GET", path: base, status: 200, want: status},
		{name: "status of version", method: "GET", path: base + "/versions/1", status: 200, want: status},
		{name: "status of unknown version", method: "GET", path: base + "/versions/2", status: 404, contains: `"error":`},
		{name: "status of unknown model", method: "GET", path: "/v1/models/other", status: 404, want: `{"error":"Could not find any versions of model other"}`},
		{name: "list", method: "GET", path: "/v1/models", status: 200,
			want: `{"models":[{"name":"diabetes-prediction","model_version_status":[{"version":"1","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}]}`},
		{name: "metadata", method: "GET", path: base + "/metadata", status: 200, contains: `"method_name": "tensorflow/serving/predict"`},
		{name: "metadata of version", method: "GET", path: base + "/versions/1/metadata", status: 200, contains: `"serving_default_age:0"`},
		{name: "predict instances", path: base + ":predict", body: example(t, "instances"), status: 200,
			want: `{"predictions":[[0.87628865,0.12371134],[0.0054941773,0.9945058]]}`},
		{name: "predict instances as lists", path: base + ":predict", body: `{"instances":[[37.07,5322.78,5.48,2.52,0.31,9.71,2.6]]}`, status: 200,
			want: `{"predictions":[[0.87628865,0.12371134]]}`},
		{name: "predict inputs", path: base + ":predict", body: example(t, "inputs"), status: 200,
			want: `{"outputs":[[0.87628865,0.12371134],[0.0054941773,0.9945058]]}`},
		{name: "predict version", path: base + "/versions/1:predict", body: example(t, "instances"), status: 200, contains: `"predictions"`},
		{name: "predict unknown version", path: base + "/versions/7:predict", body: example(t, "instances"), status: 404,
			want: `{"error":"Servable not found for request: Specific(diabetes-prediction, 7)"}`},
		{name: "predict unknown model", path: "/v1/models/demo:predict", body: example(t, "instances"), status: 404,
			want: `{"error":"Servable not found for request: Latest(demo)"}`},
		{name: "predict bad value", path: base + ":predict", body: `{"instances":[["x"]]}`, status: 400, contains: `{"error":"instances: row 0`},
		{name: "predict both keys", path: base + ":predict", body: `{"instances":[],"inputs":{}}`, status: 400, contains: "only one of"},
		{name: "predict no key", path: base + ":predict", body: example(t, "dataframe_split"), status: 400, want: `{"error":"Missing 'inputs' or 'instances' key"}`},
		{name: "predict not json", path: base + ":predict", body: `x`, status: 400, contains: `"error":"invalid JSON`},
		{name: "predict wrong signature", path: base + ":predict", body: `{"signature_name":"s","instances":[[1]]}`, status: 400, contains: "not found in signature def"},
		{name: "classify unsupported", path: base + ":classify", body: `{"examples":[]}`, status: 400, contains: ":predict only"},
		{name: "unknown verb", path: base + ":explain", body: `{}`, status: 404, contains: "Malformed request"},
		{name: "GET predict", method: "GET", path: base + ":predict", status: 404, contains: "Malformed request"},
		{name: "POST status", path: base, status: 404, contains: "Malformed request"},
		{name: "bad version", method: "GET", path: base + "/versions/x", status: 404, contains: "Malformed request"},
		{name: "extra segment", method: "GET", path: base + "/labels/stable", status: 404, contains: "Malformed request"},
		{name: "empty name", method: "GET", path: "/v1/models//versions/1", status: 404, contains: "Malformed request"},
	})
}

func TestBodyLimit(t *testing.T) {
	h := New(Config{MaxBodyBytes: 64})
	big := example(t, "instances")
	for _, tc := range []struct{ path, ct, want string }{
		{"/invocations", jsonCT, `{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "request body too large`},
		{"/v1/models/demo:predict", "", `"error":`},
	} {
		// with and without a known Content-Length
		for _, chunked := range []bool{false, true} {
			req := httptest.NewRequest("POST", tc.path, strings.NewReader(big))
			if chunked {
				req = httptest.NewRequest("POST", tc.path, io.MultiReader(strings.NewReader(big)))
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", tc.ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s chunked=%v: %d %s", tc.path, chunked, rec.Code, rec.Body)
			}
		}
	}
	if got := scrape(t, h)[`:tensorflow:serving:request_count{model_name="demo",status="RESOURCE_EXHAUSTED"}`]; got != 4 {
		t.Fatalf("RESOURCE_EXHAUSTED count %v, want 4", got)
	}
}

func TestErrorInjectionAndLatency(t *testing.T) {
	h := New(Config{ErrorRate: 1, Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond})
	start := time.Now()
	rec := do(t, h, "POST", "/invocations", jsonCT, example(t, "instances"))
	if rec.Code != 500 || rec.Body.String() != `{"error_code": "INTERNAL_ERROR", "message": "injected error (error rate 1)"}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("artificial latency not applied: %v", d)
	}
	rec = do(t, h, "POST", "/v1/models/demo:predict", "", example(t, "instances"))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"injected error`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// Invalid requests are rejected before latency and error injection.
	start = time.Now()
	if rec := do(t, h, "POST", "/invocations", jsonCT, "{"); rec.Code != 400 {
		t.Fatalf("%d", rec.Code)
	}
	if d := time.Since(start); d > 15*time.Millisecond {
		t.Fatalf("invalid request delayed %v", d)
	}
	m := scrape(t, h)
	if got := m[`:tensorflow:serving:request_count{model_name="demo",status="INTERNAL"}`]; got != 2 {
		t.Fatalf("INTERNAL count %v", got)
	}
	// latency sum is in microseconds: two requests of ≥ 15 ms
	if got := m[`:tensorflow:serving:request_latency_sum{API="predict",entrypoint="REST",model_name="demo"}`]; got < 30000 {
		t.Fatalf("latency sum %v µs, want ≥ 30000", got)
	}
}

func TestCancelledDuringLatency(t *testing.T) {
	h := New(Config{Latency: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("POST", "/invocations", strings.NewReader(example(t, "instances"))).WithContext(ctx)
	req.Header.Set("Content-Type", jsonCT)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not return after cancellation")
	}
	if got := scrape(t, h)[`:tensorflow:serving:request_count{model_name="demo",status="CANCELLED"}`]; got != 1 {
		t.Fatalf("CANCELLED count %v", got)
	}
}

func TestStringLabelsAndCustomModel(t *testing.T) {
	ds, err := model.ReadCSV(strings.NewReader("x,label\n1,No\n2,No\n8,Yes\n9,Yes\n"), "label", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Train(ds, model.TrainOptions{Name: "churn", Version: 3, Iterations: 300, LearningRate: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Model: m})
	runCases(t, h, []protoCase{
		{name: "labels", path: "/invocations", contentType: csvCT, body: "x\n1\n9\n", status: 200, want: `{"predictions":["No","Yes"]}`},
		{name: "status", method: "GET", path: "/v1/models/churn/versions/3", status: 200, contains: `"version": "3"`},
		{name: "old version", method: "GET", path: "/v1/models/churn/versions/1", status: 404},
	})
}

// TestConcurrent exercises the handler, metrics and buffer pool from many
// goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	srv := httptest.NewServer(New(Config{ErrorRate: 0.2}))
	defer srv.Close()
	bodies := []struct{ path, ct, body string }{
		{"/invocations", jsonCT, example(t, "dataframe_split")},
		{"/invocations", csvCT, example(t, "csv")},
		{"/v1/models/demo:predict", jsonCT, example(t, "inputs")},
		{"/invocations", jsonCT, `{"instances":[["x"]]}`},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				b := bodies[(g+i)%len(bodies)]
				resp, err := http.Post(srv.URL+b.path, b.ct, strings.NewReader(b.body))
				if err != nil {
					t.Error(err)
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && !bytes.HasPrefix(out, []byte(`{"`)) {
					t.Errorf("bad answer %q", out)
				}
			}
		}()
	}
	wg.Wait()
	m := scrapeURL(t, srv.URL+MetricsPath)
	total := 0.0
	for _, st := range []string{"OK", "INVALID_ARGUMENT", "INTERNAL"} {
		total += m[`:tensorflow:serving:request_count{model_name="demo",status="`+st+`"}`]
	}
	if total != 400 {
		t.Fatalf("counted %v requests, want 400 (%v)", total, m)
	}
	if c := m[`:tensorflow:serving:request_latency_count{API="predict",entrypoint="REST",model_name="demo"}`]; c != 400 {
		t.Fatalf("latency count %v, want 400", c)
	}
}

func TestGracefulShutdown(t *testing.T) {
	s := New(Config{Latency: 300 * time.Millisecond, ShutdownTimeout: 5 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()

	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(url+"/invocations", jsonCT, strings.NewReader(example(t, "instances")))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode, body: string(b)}
	}()
	time.Sleep(100 * time.Millisecond) // the request is now sleeping in the handler
	cancel()
	r := <-inflight
	if r.err != nil || r.code != 200 || r.body != wantLabels {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := http.Get(url + "/ping"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
}

func TestListenAndServeError(t *testing.T) {
	err := New(Config{}).ListenAndServe(context.Background(), "256.0.0.1:bad")
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("err = %v", err)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Fatalf("error %v does not wrap the net error", err)
	}
}

func BenchmarkInvocations(b *testing.B) {
	h := New(Config{})
	body := []byte(example(b, "dataframe_split"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/invocations", bytes.NewReader(body))
			req.Header.Set("Content-Type", jsonCT)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
}

func BenchmarkTFPredict(b *testing.B) {
	h := New(Config{})
	body := []byte(example(b, "instances"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/models/demo:predict", bytes.NewReader(body))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
}
