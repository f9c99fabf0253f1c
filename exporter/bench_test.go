package exporter

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// benchBody is the request bench/exporter.sh's wrk script sends.
var benchBody = []byte(`{"dataframe_split":{"columns":["age","income","tenure"],"data":[[35,5000,3],[42,7200,10]]}}`)

// fastUpstream answers every request with two predictions, doing no work.
func fastUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"predictions": [0, 1]}`))
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: time.Second}).DialContext,
	}}
}

// runPost drives url with POSTs from b.N requests over parallel workers.
func runPost(b *testing.B, url string) {
	c := benchClient()
	var failed atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS concurrent clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(url, "application/json", bytes.NewReader(benchBody))
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d failed requests", n)
	}
}

// BenchmarkDirect is the baseline: the client talks to the upstream.
func BenchmarkDirect(b *testing.B) {
	up := fastUpstream(b)
	runPost(b, up.URL+"/invocations")
}

// BenchmarkProxy goes through the exporter's /predict. Compare its req/s with
// BenchmarkDirect (client, proxy and upstream share the same CPUs).
func BenchmarkProxy(b *testing.B) {
	up := fastUpstream(b)
	e, err := New(Config{Upstream: up.URL, Kind: KindMLflow})
	if err != nil {
		b.Fatal(err)
	}
	px := serveExporter(b, e)
	runPost(b, px.URL+"/predict")
}

// BenchmarkReverseProxyBaseline is the design this package replaces, for
// comparison: httputil.ReverseProxy on a tuned http.Transport, wrapped in
// promhttp's instrumentation handlers.
func BenchmarkReverseProxyBaseline(b *testing.B) {
	up := fastUpstream(b)
	target, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DisableCompression: true,
		ForceAttemptHTTP2: false, IdleConnTimeout: 90 * time.Second,
	}
	inner := rp.Director
	rp.Director = func(r *http.Request) { inner(r); r.URL.Path = "/invocations" }
	reg := prometheus.NewRegistry()
	cnt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"method", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d"}, []string{"method", "code"})
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	reg.MustRegister(cnt, dur, inflight)
	h := promhttp.InstrumentHandlerInFlight(inflight,
		promhttp.InstrumentHandlerDuration(dur, promhttp.InstrumentHandlerCounter(cnt, rp)))
	px := httptest.NewServer(h)
	b.Cleanup(px.Close)
	runPost(b, px.URL+"/predict")
}

// BenchmarkMetricsPath measures the per-request metrics work of the proxy
// with the functions the handler calls (route and label resolution, rows
// counting, predictions counting, observations). It must not allocate;
// TestHandlerMetricsAllocFree checks that on the whole handler path.
func BenchmarkMetricsPath(b *testing.B) {
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		b.Fatal(err)
	}
	answer := []byte(`{"predictions": [0, 1, "yes", 2.5]}`)
	ct := []byte("application/json")
	b.ReportAllocs()
	for b.Loop() {
		route := routeOf("/predict", "")
		e.m.inFlight.Inc()
		e.m.request(benchBody, isCSV(ct))
		e.m.answer(answer)
		e.m.upDur.Observe(0.001)
		e.m.observe(route, methodOf("POST"), 200, 0.002)
		e.m.inFlight.Dec()
	}
}
