package exporter

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// stubRT answers every request with body, without a network: the handler
// path runs exactly as in production up to the Transport.
type stubRT struct {
	body []byte
	rd   bytes.Reader
	resp http.Response
	hdr  http.Header
}

func newStubRT(body string) *stubRT {
	s := &stubRT{body: []byte(body), hdr: http.Header{"Content-Type": {"application/json"}}}
	return s
}

func (s *stubRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close() // as the Transport does
	}
	s.rd.Reset(s.body)
	s.resp = http.Response{StatusCode: 200, Header: s.hdr, Body: io.NopCloser(&s.rd), ContentLength: int64(len(s.body))}
	return &s.resp, nil
}

// nopWriter is a reusable ResponseWriter.
type nopWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }
func (w *nopWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// handlerAllocs runs the real ServeHTTP for POST /predict with reqBody
// against an upstream answering respBody and returns allocations per request.
func handlerAllocs(t testing.TB, reqBody, respBody string) float64 {
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	e.rt = newStubRT(respBody)
	req, _ := http.NewRequest("POST", "http://x/predict", nil)
	req.Header.Set("Content-Type", "application/json")
	var rd bytes.Reader
	body := io.NopCloser(&rd)
	w := &nopWriter{h: http.Header{}}
	run := func() {
		rd.Reset([]byte(reqBody))
		req.Body, req.ContentLength = body, int64(len(reqBody))
		clear(w.h)
		e.ServeHTTP(w, req)
		if w.code != 200 {
			t.Fatalf("status %d", w.code)
		}
	}
	run() // label children and class counters are created once, on first use
	return testing.AllocsPerRun(500, run)
}

// TestHandlerMetricsAllocFree runs the real handler path (ServeHTTP, body
// read, rows counting, upstream exchange through the RoundTripper
// interface, answer copy, predictions counting, observations): the metrics
// work must add no allocation, so a request with rows and predictions
// allocates exactly as much as one without; the whole path stays within a
// budget (the Transport's own allocations are not in it).
func TestHandlerMetricsAllocFree(t *testing.T) {
	withMetrics := handlerAllocs(t, string(benchBody), `{"predictions": [0, 1, "yes", 2.5]}`)
	without := handlerAllocs(t, `{}`, `{}`)
	t.Logf("allocations per request: %v with rows and predictions, %v without", withMetrics, without)
	if withMetrics != without {
		t.Errorf("metrics work allocates: %v allocations per request with rows and predictions, %v without", withMetrics, without)
	}
	const budget = 24 // 21 measured (2026-12-01)
	if withMetrics > budget {
		t.Errorf("%v allocations per request on the handler path, budget %d", withMetrics, budget)
	}
}

// BenchmarkHandler is the handler path with a stub upstream (no network).
func BenchmarkHandler(b *testing.B) {
	b.ReportAllocs()
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		b.Fatal(err)
	}
	e.rt = newStubRT(`{"predictions": [0, 1]}`)
	req, _ := http.NewRequest("POST", "http://x/predict", nil)
	var rd bytes.Reader
	body := io.NopCloser(&rd)
	w := &nopWriter{h: http.Header{}}
	for b.Loop() {
		rd.Reset(benchBody)
		req.Body, req.ContentLength = body, int64(len(benchBody))
		clear(w.h)
		e.ServeHTTP(w, req)
	}
}
