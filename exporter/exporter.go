package exporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Exporter is the inference proxy. Create it with New, serve it with Run or
// Serve, or mount Handler in a net/http server of your own.
type Exporter struct {
	cfg           *resolved
	m             *metrics
	pool          *pool
	customPredict string       // custom kind's predict path as a known route, else ""
	respLimit     int64        // largest answer buffered and parsed for predictions
	inFlight      atomic.Int64 // forwarded requests being served (MaxInFlight cap)
	log           logLimiter

	readyMu  sync.Mutex
	readyAt  time.Time
	readyOK  bool
	readyErr string
}

// New validates cfg and builds an Exporter. It does not contact the upstream.
func New(cfg Config) (*Exporter, error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("exporter config: %w", err)
	}
	e := &Exporter{cfg: rc, respLimit: rc.MaxBody}
	if rc.Kind == KindCustom {
		e.customPredict = rc.predictPath[len(rc.base.Path):]
		if i := strings.IndexByte(e.customPredict, '?'); i >= 0 {
			e.customPredict = e.customPredict[:i]
		}
	}
	e.m = newMetrics(rc, e.customPredict)
	e.pool = newPool(rc)
	return e, nil
}

// Registry returns the registry holding every metric the exporter serves at
// /metrics, so callers can add collectors of their own.
func (e *Exporter) Registry() *prometheus.Registry { return e.m.reg }

// Close releases pooled upstream connections. Run and Serve call it on return.
func (e *Exporter) Close() { e.pool.closeIdle(false) }

// Run listens on Config.Listen and serves until ctx ends, then stops
// accepting connections, waits up to Config.ShutdownTimeout for in-flight
// requests and returns nil (or the shutdown error).
func (e *Exporter) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", e.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.Listen, err)
	}
	return e.Serve(ctx, ln)
}

// server builds the fasthttp server. The request body is streamed
// (StreamRequestBody with a 1-byte pre-read limit), so the handler runs
// right after the header: the in-flight cap is checked before the body is
// read, the body buffer grows with bytes read, and max_body is enforced
// while reading. HeaderReceived gives every body BodyTimeout to arrive.
func (e *Exporter) server() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                       e.handle,
		Name:                          "stackgen-exporter",
		Concurrency:                   256 << 10, // the exporter's own cap limits forwarded requests
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  e.cfg.Timeout,
		IdleTimeout:                   2 * time.Minute,
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		MaxRequestBodySize:            1,
		StreamRequestBody:             true,
		DisablePreParseMultipartForm:  true,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: e.cfg.BodyTimeout}
		},
		ErrorHandler: e.readError,
		Logger:       quietLogger{},
	}
}

// readError answers a request the server could not read (malformed, header
// too large, or not received in time: a header within ReadTimeout, or the
// first body byte, read before the handler, within BodyTimeout) in the
// protocol's error shape. Such requests have no route and are not counted.
func (e *Exporter) readError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case isTimeout(err):
		e.writeError(ctx, fasthttp.StatusRequestTimeout, "", "request not received in time")
	case errors.As(err, &small):
		e.writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "", "request header too large")
	default:
		e.writeError(ctx, fasthttp.StatusBadRequest, "", "malformed request")
	}
}

// quietLogger drops fasthttp's per-connection error lines (a client
// closing early is not an event worth a log line).
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// Serve is Run on an existing listener, which it closes.
func (e *Exporter) Serve(ctx context.Context, ln net.Listener) error {
	defer e.pool.closeIdle(true)
	srv := e.server()
	e.logf("exporter: listening on %s, upstream %s (%s)", ln.Addr(), e.cfg.base, e.cfg.Kind)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	e.logf("exporter: shutting down, draining in-flight requests (up to %s)", e.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.ShutdownWithContext(sctx)
	// A Serve that had not started yet when Shutdown ran returns now.
	_ = ln.Close()
	if err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	e.logf("exporter: stopped")
	return nil
}

func (e *Exporter) logf(format string, args ...any) {
	if e.cfg.Logf != nil {
		e.cfg.Logf(format, args...)
	}
}

// b2s views b as a string without copying; the string must not outlive b.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// handle is the fasthttp request handler.
func (e *Exporter) handle(ctx *fasthttp.RequestCtx) { e.handleWith(ctx, nil) }

// handleWith serves ctx; ctxErr, when set, reports the departure of a
// client served through Handler (net/http), else the client's socket is
// watched.
func (e *Exporter) handleWith(ctx *fasthttp.RequestCtx, ctxErr func() error) {
	route := routeOf(b2s(ctx.Path()), e.customPredict)
	if isMonitoringRoute(route) {
		// Scrapes and probes are not traffic: counting them would make an idle
		// model look busy, dilute latency and keep in-flight above zero.
		e.serveMonitoring(ctx, route)
		return
	}
	start := time.Now()
	method := methodOf(b2s(ctx.Method()))
	// The cap is taken before the body is read, so that excess (possibly
	// slow) clients are answered at once and their connections closed.
	if e.inFlight.Add(1) > int64(e.cfg.MaxInFlight) {
		e.inFlight.Add(-1)
		code := e.overloaded(ctx)
		e.m.observe(route, method, code, time.Since(start).Seconds())
		return
	}
	e.m.inFlight.Inc()
	done := done{route: route, method: method, start: start}
	held := true
	defer func() {
		// fasthttp's server does not recover a handler's panic (the
		// process would exit): answer 500 and free the slot instead.
		if r := recover(); r != nil {
			e.log.printf(e, "exporter: panic serving %s %s: %v", ctx.Method(), ctx.Path(), r)
			ctx.Response.Reset()
			ctx.SetConnectionClose()
			e.writeError(ctx, fasthttp.StatusInternalServerError, "", "internal error")
			if held {
				e.finish(done, fasthttp.StatusInternalServerError)
			}
		}
	}()
	code, streamed := e.serve(ctx, route, ctxErr, done)
	held = false
	if streamed {
		return // the answer's stream observes and releases when it ends
	}
	e.finish(done, code)
}

// done is what finishing a forwarded request needs.
type done struct {
	route, method int
	start         time.Time
}

// finish records a forwarded request and frees its in-flight slot.
func (e *Exporter) finish(d done, code int) {
	e.m.observe(d.route, d.method, code, time.Since(d.start).Seconds())
	e.m.inFlight.Dec()
	e.inFlight.Add(-1)
}

// isMonitoringRoute reports the exporter's own endpoints (/metrics, /healthz,
// /readyz), which are left out of the http_* metrics.
func isMonitoringRoute(route int) bool {
	return route == routeMetrics || route == routeHealthz || route == routeReadyz
}

// isPredictRoute reports routes whose bodies are inference payloads.
func isPredictRoute(route int) bool {
	switch route {
	case routePredict, routeInvocations, routeCustomPredict:
		return true
	}
	if route >= routeTFFirst {
		return (route-routeTFFirst)%len(tfSuffixes) == 1 // ":predict"
	}
	return false
}

func (e *Exporter) serveMonitoring(ctx *fasthttp.RequestCtx, route int) {
	if ctx.Request.Header.ContentLength() != 0 {
		// Its body is not read: close rather than drain it.
		ctx.SetConnectionClose()
	}
	switch route {
	case routeMetrics:
		e.serveMetrics(ctx)
	case routeHealthz:
		ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
		ctx.Response.SetBodyString("ok\n")
	case routeReadyz:
		ok, why := e.ready()
		if !ok {
			writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": why})
			return
		}
		ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
		ctx.Response.SetBodyString("ready\n")
	}
}

// serve answers a forwarded route. It returns the status recorded and
// whether the answer streams (then its stream finishes the request).
func (e *Exporter) serve(ctx *fasthttp.RequestCtx, route int, ctxErr func() error, d done) (int, bool) {
	x := e.getExchange()
	raw := ctx.Request.Header.RequestURI()
	x.uri = x.uri[:0]
	if route == routePredict {
		if !ctx.IsPost() {
			ctx.Response.Header.Set("Allow", fasthttp.MethodPost)
			e.writeError(ctx, fasthttp.StatusMethodNotAllowed, "", "use POST /predict")
			x.release()
			return fasthttp.StatusMethodNotAllowed, false
		}
		x.uri = append(x.uri, e.cfg.predictPath...)
		if i := indexByte(raw, '?'); i >= 0 && i+1 < len(raw) {
			if indexByte(x.uri, '?') >= 0 {
				x.uri = append(x.uri, '&')
			} else {
				x.uri = append(x.uri, '?')
			}
			x.uri = append(x.uri, raw[i+1:]...)
		}
		return e.forward(ctx, x, true, ctxErr, d)
	}
	x.uri = append(x.uri, e.cfg.base.Path...)
	if len(raw) > 0 && raw[0] == '/' {
		x.uri = append(x.uri, raw...)
	} else { // absolute-form or "*"
		x.uri = append(x.uri, ctx.URI().RequestURI()...)
	}
	return e.forward(ctx, x, ctx.IsPost() && isPredictRoute(route), ctxErr, d)
}

func indexByte(b []byte, c byte) int {
	for i, v := range b {
		if v == c {
			return i
		}
	}
	return -1
}
