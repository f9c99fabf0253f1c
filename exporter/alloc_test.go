package exporter

import (
	"bytes"
	"context"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// memUpstream is an upstream served by fasthttp on an in-memory listener,
// answering every request with body; e's pool dials it. The handler path
// then runs exactly as in production, upstream exchange included (request
// write, answer read, connection reuse), without the kernel's sockets.
func memUpstream(tb testing.TB, e *Exporter, body string) {
	tb.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentType("application/json")
		ctx.Response.SetBodyString(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = ln.Close() })
	e.pool.dial = func(context.Context, string) (net.Conn, error) { return ln.Dial() }
}

// handlerRun returns a function serving one POST /predict with reqBody
// through the real fasthttp handler (e.handle).
func handlerRun(tb testing.TB, e *Exporter, reqBody string) func() {
	var ctx fasthttp.RequestCtx
	client, _ := net.Pipe() // stands for the client's connection
	tb.Cleanup(func() { _ = client.Close() })
	ctx.Init2(client, quietLogger{}, false)
	var rd bytes.Reader
	body := []byte(reqBody)
	return func() {
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.Header.SetRequestURI("/predict")
		ctx.Request.Header.SetContentType("application/json")
		rd.Reset(body)
		ctx.Request.SetBodyStream(&rd, len(body))
		e.handle(&ctx)
		if code := ctx.Response.StatusCode(); code != 200 {
			tb.Fatalf("status %d %s", code, ctx.Response.Body())
		}
	}
}

// handlerAllocs runs the real handler for POST /predict with reqBody
// against an upstream answering respBody and returns allocations per request.
func handlerAllocs(t testing.TB, reqBody, respBody string) float64 {
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	memUpstream(t, e, respBody)
	run := handlerRun(t, e, reqBody)
	run() // label children, class counters and the connection are made once
	return testing.AllocsPerRun(500, run)
}

// TestHandlerMetricsAllocFree runs the real handler path (route, in-flight
// cap, body read, rows counting, upstream request write and answer read on
// a pooled connection, answer copy, predictions counting, observations)
// and counts allocations in the whole process (the in-memory upstream
// included): the metrics work must add none, so a request with rows and
// predictions allocates exactly as much as one without, and the path stays
// within a small budget.
func TestHandlerMetricsAllocFree(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random: allocation counts are meaningless under it")
	}
	withMetrics := handlerAllocs(t, string(benchBody), `{"predictions": [0, 1, "yes", 2.5]}`)
	without := handlerAllocs(t, `{}`, `{}`)
	t.Logf("allocations per request: %v with rows and predictions, %v without", withMetrics, without)
	if withMetrics != without {
		t.Errorf("metrics work allocates: %v allocations per request with rows and predictions, %v without", withMetrics, without)
	}
	const budget = 2
	if withMetrics > budget {
		t.Errorf("%v allocations per request on the handler path, budget %d", withMetrics, budget)
	}
}

// BenchmarkHandler is the handler path with an in-memory upstream.
func BenchmarkHandler(b *testing.B) {
	b.ReportAllocs()
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	memUpstream(b, e, `{"predictions": [0, 1]}`)
	run := handlerRun(b, e, string(benchBody))
	for b.Loop() {
		run()
	}
}
