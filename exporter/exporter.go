package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exporter is the inference proxy. Create it with New, serve it with Run or
// Serve, or mount Handler in a server of your own.
type Exporter struct {
	cfg            *resolved
	m              *metrics
	transport      *http.Transport
	rt             http.RoundTripper // transport, or a stub in tests
	metricsHandler http.Handler
	customPredict  string       // custom kind's predict path as a known route, else ""
	respLimit      int64        // largest answer buffered and parsed for predictions
	inFlight       atomic.Int64 // forwarded requests being served (MaxInFlight cap)
	log            logLimiter

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
	e.transport = newTransport(rc)
	e.rt = e.transport
	e.metricsHandler = promhttp.HandlerFor(e.m.reg, promhttp.HandlerOpts{})
	return e, nil
}

// Registry returns the registry holding every metric the exporter serves at
// /metrics, so callers can add collectors of their own.
func (e *Exporter) Registry() *prometheus.Registry { return e.m.reg }

// Handler returns the HTTP handler serving /predict, /metrics, /healthz,
// /readyz and the pass-through routes.
func (e *Exporter) Handler() http.Handler { return e }

// Close releases pooled upstream connections. Run and Serve call it on return.
func (e *Exporter) Close() { e.transport.CloseIdleConnections() }

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

// Serve is Run on an existing listener, which it closes.
func (e *Exporter) Serve(ctx context.Context, ln net.Listener) error {
	defer e.Close()
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
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
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// ServeHTTP implements http.Handler.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := routeOf(r.URL.Path, e.customPredict)
	if isMonitoringRoute(route) {
		// Scrapes and probes are not traffic: counting them would make an idle
		// model look busy, dilute latency and keep in-flight above zero.
		_, _ = e.serve(w, r, route)
		return
	}
	start := time.Now()
	method := methodOf(r.Method)
	// The cap is taken before the body is read, so that excess (possibly
	// slow) clients are answered at once and their connections closed.
	if e.inFlight.Add(1) > int64(e.cfg.MaxInFlight) {
		e.inFlight.Add(-1)
		code := e.overloaded(w)
		e.m.observe(route, method, code, time.Since(start).Seconds())
		return
	}
	e.m.inFlight.Inc()
	defer e.release()
	code, abort := e.serve(w, r, route)
	e.m.observe(route, method, code, time.Since(start).Seconds())
	if abort {
		// The upstream broke mid-body after the status was sent: abort the
		// response so the client sees a truncated answer, not a clean one.
		panic(http.ErrAbortHandler)
	}
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

// release frees an in-flight slot.
func (e *Exporter) release() {
	e.m.inFlight.Dec()
	e.inFlight.Add(-1)
}

func (e *Exporter) serve(w http.ResponseWriter, r *http.Request, route int) (int, bool) {
	if r.ContentLength != 0 && isMonitoringRoute(route) {
		// Its body is not read: close rather than drain it without a deadline.
		w.Header().Set("Connection", "close")
	}
	switch route {
	case routeMetrics:
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		e.metricsHandler.ServeHTTP(sw, r)
		return sw.code, false
	case routeHealthz:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
		return http.StatusOK, false
	case routeReadyz:
		ok, why := e.ready()
		if !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": why})
			return http.StatusServiceUnavailable, false
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ready\n")
		return http.StatusOK, false
	case routePredict:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			e.writeError(w, http.StatusMethodNotAllowed, "", "use POST /predict")
			return http.StatusMethodNotAllowed, false
		}
		uri := e.cfg.predictPath
		if r.URL.RawQuery != "" {
			sep := "?"
			if strings.Contains(uri, "?") {
				sep = "&"
			}
			uri += sep + r.URL.RawQuery
		}
		return e.forward(w, r, uri, true)
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") { // absolute-form or "*"
		uri = r.URL.RequestURI()
	}
	if p := e.cfg.base.Path; p != "" {
		uri = p + uri
	}
	return e.forward(w, r, uri, r.Method == http.MethodPost && isPredictRoute(route))
}

// statusWriter records the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
