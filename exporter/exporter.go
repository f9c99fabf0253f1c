package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exporter is the inference proxy. Create it with New, serve it with Run or
// Serve, or mount Handler in a server of your own.
type Exporter struct {
	cfg            *resolved
	m              *metrics
	client         *upstreamClient
	metricsHandler http.Handler
	customPredict  string // custom kind's predict path as a known route, else ""
	respLimit      int64  // response bytes buffered (and parsed) before streaming

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
	e := &Exporter{cfg: rc, respLimit: 16 << 20}
	if rc.Kind == KindCustom {
		e.customPredict = rc.predictPath[len(rc.base.Path):]
		if i := strings.IndexByte(e.customPredict, '?'); i >= 0 {
			e.customPredict = e.customPredict[:i]
		}
	}
	e.m = newMetrics(rc.Buckets, e.customPredict, rc.MaxClasses)
	e.client = newUpstreamClient(rc.base.Scheme, rc.base.Host, rc.Timeout, rc.TLSClientConfig)
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
func (e *Exporter) Close() { e.client.closeIdle() }

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
	e.m.inFlight.Inc()
	defer e.m.inFlight.Dec()
	method := methodOf(r.Method)
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

func (e *Exporter) serve(w http.ResponseWriter, r *http.Request, route int) (int, bool) {
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
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST /predict"})
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

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxPooledBuf is the largest buffer kept in bufPool.
const maxPooledBuf = 1 << 20

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// forward sends r (with uri as its request target) to the upstream and
// copies the answer back. predict marks inference calls, whose rows and
// predictions are counted. It returns the status sent and whether the
// response must be aborted.
func (e *Exporter) forward(w http.ResponseWriter, r *http.Request, uri string, predict bool) (int, bool) {
	maxBody := e.cfg.MaxBody
	if r.ContentLength > maxBody {
		return e.tooLarge(w), false
	}
	reqBP := bufPool.Get().(*[]byte)
	body, full, err := readBody(*reqBP, r.Body, maxBody, r.ContentLength)
	defer func() { putBuf(reqBP, body) }()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read request body: " + err.Error()})
		return http.StatusBadRequest, false
	}
	if !full {
		return e.tooLarge(w), false
	}
	if predict {
		if n := countRows(body, isCSV(r.Header)); n >= 0 {
			e.m.rows.Observe(float64(n))
		}
	}

	start := time.Now()
	resp, pc, err := e.client.do(r.Context(), r.Method, uri, r.Header, body, start.Add(e.cfg.Timeout))
	if err != nil {
		return e.fail(w, err), false
	}
	limit := e.respLimit
	if !predict {
		limit = 256 << 10
	}
	respBP := bufPool.Get().(*[]byte)
	rb, full, err := readBody(*respBP, resp.Body, limit, resp.ContentLength)
	defer func() { putBuf(respBP, rb) }()
	if err != nil {
		e.client.release(pc, false)
		return e.fail(w, fmt.Errorf("read response body: %w", err)), false
	}

	h := w.Header()
	for k, vv := range resp.Header {
		if !skipResponseHeader(k) {
			h[k] = vv
		}
	}
	if full {
		e.m.upDur.Observe(time.Since(start).Seconds())
		e.client.release(pc, !resp.Close)
		if r.Method == http.MethodHead {
			if resp.ContentLength >= 0 {
				h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
			}
		} else if bodyAllowed(resp.StatusCode) {
			h["Content-Length"] = contentLength(len(rb))
		}
		w.WriteHeader(resp.StatusCode)
		if len(rb) > 0 {
			_, _ = w.Write(rb)
		}
		if predict && resp.StatusCode/100 == 2 && len(rb) > 0 && resp.Header["Content-Encoding"] == nil {
			eachPrediction(rb, e.m.classes.inc)
		}
		return resp.StatusCode, false
	}

	// Large answer: send what was buffered, then stream the rest.
	if resp.ContentLength >= 0 {
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	}
	w.WriteHeader(resp.StatusCode)
	_, werr := w.Write(rb)
	var rerr error
	if werr == nil {
		rb = rb[:cap(rb)]
		_, rerr = copyBody(w, resp.Body, rb)
	}
	e.m.upDur.Observe(time.Since(start).Seconds())
	e.client.release(pc, werr == nil && rerr == nil && !resp.Close)
	if rerr != nil {
		e.m.failure[causeOf(rerr)].Inc()
		return resp.StatusCode, true
	}
	return resp.StatusCode, false
}

// copyBody copies src to dst with buf, telling read errors (upstream) from
// write errors (client). It returns the write error, then the read error.
func copyBody(dst io.Writer, src io.Reader, buf []byte) (werr, rerr error) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr = dst.Write(buf[:n]); werr != nil {
				return werr, nil
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// smallLengths holds shared, read-only Content-Length header values for
// small bodies, saving two allocations per response.
var smallLengths = func() [][]string {
	t := make([][]string, 4096)
	for i := range t {
		t[i] = []string{strconv.Itoa(i)}
	}
	return t
}()

func contentLength(n int) []string {
	if n < len(smallLengths) {
		return smallLengths[n]
	}
	return []string{strconv.Itoa(n)}
}

func isCSV(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 || !strings.Contains(strings.ToLower(ct[0]), "csv") {
		return false
	}
	if strings.HasPrefix(ct[0], "text/csv") {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct[0])
	return err == nil && (mt == "text/csv" || mt == "application/csv")
}

func (e *Exporter) tooLarge(w http.ResponseWriter) int {
	e.m.tooLarge.Inc()
	w.Header().Set("Connection", "close") // the unread body is not drained
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
		"error": fmt.Sprintf("request body larger than %d bytes", e.cfg.MaxBody),
		"cause": ReasonBodyTooLarge,
	})
	return http.StatusRequestEntityTooLarge
}

// clientGone is the status recorded when the client went away before the
// upstream answered (nginx's convention; never sent).
const clientGone = 499

// fail answers a failed upstream exchange: 504 on timeout, else 502.
func (e *Exporter) fail(w http.ResponseWriter, err error) int {
	if errors.Is(err, context.Canceled) {
		return clientGone
	}
	cause := causeOf(err)
	e.m.failure[cause].Inc()
	code := http.StatusBadGateway
	msg := "upstream: " + err.Error()
	if cause == CauseTimeout {
		code = http.StatusGatewayTimeout
		msg = fmt.Sprintf("upstream did not answer within %s: %v", e.cfg.Timeout, err)
	}
	writeJSON(w, code, map[string]string{"error": msg, "cause": cause})
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// ready probes the upstream's health path, at most once per ReadyCacheTTL.
// Any answer below 500 counts as ready.
func (e *Exporter) ready() (bool, string) {
	e.readyMu.Lock()
	defer e.readyMu.Unlock()
	if !e.readyAt.IsZero() && time.Since(e.readyAt) < e.cfg.ReadyCacheTTL {
		return e.readyOK, e.readyErr
	}
	timeout := min(e.cfg.Timeout, 5*time.Second)
	e.readyOK, e.readyErr = false, ""
	resp, pc, err := e.client.do(context.Background(), http.MethodGet, e.cfg.healthPath, nil, nil, time.Now().Add(timeout))
	switch {
	case err != nil:
		e.readyErr = fmt.Sprintf("upstream %s: %v", causeOf(err), err)
	default:
		n, cerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20+1))
		e.client.release(pc, cerr == nil && n <= 1<<20 && !resp.Close)
		if resp.StatusCode >= 500 {
			e.readyErr = fmt.Sprintf("upstream %s answered %d", e.cfg.healthPath, resp.StatusCode)
		} else {
			e.readyOK = true
		}
	}
	e.readyAt = time.Now()
	return e.readyOK, e.readyErr
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
