// Package modelserver is stackgen's demo model server: it serves a
// [model.Model] over the MLflow scoring protocol and the TensorFlow Serving
// REST API, with TF Serving-style Prometheus metrics, so that a generated
// stack runs end to end without Python.
//
// The MLflow side answers as an MLflow 3.11 scoring server (FastAPI) does:
// the same status codes, error_code values, messages and content types,
// FastAPI's {"detail":...} bodies for unknown paths (404) and methods (405),
// and a trailing-slash redirect (307). model/README.md lists the
// differences that remain.
//
// Endpoints:
//
//	POST /invocations                         MLflow scoring (application/json or text/csv)
//	GET  /ping, /health                       MLflow liveness (200, body "\n" labelled application/json; HEAD too)
//	GET  /version                             server version (text labelled application/json, as MLflow does)
//	GET  /v1/models                           the served model and its version status (stackgen extension)
//	GET  /v1/models/NAME[/versions/N]         TF Serving model status (model_version_status)
//	GET  /v1/models/NAME[/versions/N]/metadata TF Serving signature metadata (simplified)
//	POST /v1/models/NAME[/versions/N]:predict TF Serving predict (instances → predictions, inputs → outputs)
//	GET  /monitoring/prometheus/metrics       TF Serving-style metrics (see below)
//	GET  /metrics                             process_* and go_* metrics of the server itself
//
// Metrics at /monitoring/prometheus/metrics, with TF Serving's names, labels
// and units:
//
//	:tensorflow:serving:request_count{model_name,status}                       counter
//	:tensorflow:serving:request_latency_bucket|sum|count{model_name,API,entrypoint} histogram, µs
//
// status is "OK" or a TF error code name ("INVALID_ARGUMENT", "NOT_FOUND",
// "INTERNAL", "RESOURCE_EXHAUSTED", "CANCELLED", "DEADLINE_EXCEEDED",
// "UNAVAILABLE"). Predict requests of both
// protocols count, with API="predict" and entrypoint="REST", so a seed-002
// dashboard moves whichever protocol the traffic uses. Requests for a model
// name that is not served are counted under model_name="_unknown_" so that
// a scanner cannot create unbounded series. The series for status "OK" and
// "INVALID_ARGUMENT" exist from start-up (at 0) so that rate and error-ratio
// panels show 0 rather than "no data". Metric names start with ':', which is
// valid in the classic Prometheus name syntax; OpenMetrics output is not
// offered, because it would expose the counter as
// :tensorflow:serving:request_count_total.
package modelserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stackgen/stackgen/model"
)

// Paths of the metrics endpoints.
const (
	// MetricsPath serves the TF Serving-style metrics.
	MetricsPath = "/monitoring/prometheus/metrics"
	// RuntimeMetricsPath serves the process and Go runtime metrics of the server.
	RuntimeMetricsPath = "/metrics"
)

// Metric names, as TF Serving exports them.
const (
	// RequestCountMetric counts predict requests by model_name and status.
	RequestCountMetric = ":tensorflow:serving:request_count"
	// RequestLatencyMetric is the request latency histogram in microseconds,
	// by model_name, API and entrypoint.
	RequestLatencyMetric = ":tensorflow:serving:request_latency"
)

// UnknownModelLabel is the model_name label of requests for a model that is not served.
const UnknownModelLabel = "_unknown_"

// TF error code names used as the status label.
const (
	// StatusOK labels successful requests.
	StatusOK = "OK"
	// StatusInvalidArgument labels malformed requests (HTTP 400 and 415).
	StatusInvalidArgument = "INVALID_ARGUMENT"
	// StatusNotFound labels requests for an unknown model or version (HTTP 404).
	StatusNotFound = "NOT_FOUND"
	// StatusInternal labels injected errors (HTTP 500).
	StatusInternal = "INTERNAL"
	// StatusResourceExhausted labels bodies over the size limit (HTTP 413).
	StatusResourceExhausted = "RESOURCE_EXHAUSTED"
	// StatusCancelled labels requests whose client went away during the artificial latency.
	StatusCancelled = "CANCELLED"
	// StatusDeadlineExceeded labels requests over Config.RequestTimeout (HTTP 504)
	// and bodies not read within Config.BodyReadTimeout (HTTP 408).
	StatusDeadlineExceeded = "DEADLINE_EXCEEDED"
	// StatusUnavailable labels requests refused over Config.MaxConcurrent (HTTP 503).
	StatusUnavailable = "UNAVAILABLE"
)

// Defaults of Config.
const (
	// DefaultMaxBodyBytes is the default request body limit (16 MiB).
	DefaultMaxBodyBytes = 16 << 20
	// DefaultShutdownTimeout is the default drain time on shutdown.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultVersion is the default answer of GET /version.
	DefaultVersion = "stackgen"
	// DefaultBodyReadTimeout is the default deadline for reading a request body.
	DefaultBodyReadTimeout = 30 * time.Second
	// DefaultRequestTimeout is the default limit on handling a predict
	// request, MLflow's MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT default (60 s).
	DefaultRequestTimeout = 60 * time.Second
	// DefaultMaxConcurrent is the default limit on predict requests in flight.
	DefaultMaxConcurrent = 256
	// headerTimeout bounds reading the request line and headers.
	headerTimeout = 10 * time.Second
)

// LatencyBuckets are TF Serving's request latency buckets in microseconds:
// 10·1.8^i for i = 0..32 (10 µs to about 25 minutes), rounded to 6
// significant digits as TF Serving prints them (10, 18, 32.4, …, 188.957, …).
func LatencyBuckets() []float64 {
	b := prometheus.ExponentialBuckets(10, 1.8, 33)
	for i, v := range b {
		b[i], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	}
	return b
}

// Config configures a Server. The zero value serves the embedded demo model.
type Config struct {
	// Model is the model to serve; nil means model.Default().
	Model *model.Model
	// Name is the served model name (TF Serving's /v1/models/NAME and the
	// model_name label); "" means Model.Name.
	Name string
	// Version is the text GET /version answers; "" means DefaultVersion.
	Version string
	// Latency is an artificial delay added to every valid predict request.
	Latency time.Duration
	// Jitter spreads the artificial delay uniformly over Latency ± Jitter (never below 0).
	Jitter time.Duration
	// ErrorRate is the fraction (0..1) of valid predict requests answered
	// with an injected 500 error (status INTERNAL).
	ErrorRate float64
	// MaxBodyBytes caps request bodies (413 above it); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyReadTimeout is the deadline for reading a predict request's body
	// (408 after it); 0 means DefaultBodyReadTimeout.
	BodyReadTimeout time.Duration
	// RequestTimeout limits the handling of a predict request, artificial
	// latency included (504 after it, as MLflow's timeout middleware
	// answers); 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConcurrent limits the predict requests in flight; more are
	// refused at once with 503. 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// MaxInflightBytes limits the body bytes of the predict requests in
	// flight (by Content-Length; MaxBodyBytes for a body of unknown
	// length); a request over it is refused at once with 503. Parsing a
	// JSON body allocates about 25 times its size (up to 80 times for
	// arrays of one-digit numbers; measured on 1 MiB bodies), so this
	// bounds the memory of predictions. 0 means MaxBodyBytes.
	MaxInflightBytes int64
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown in
	// Serve and ListenAndServe; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Logger receives start-up, shutdown and internal error messages; nil discards them.
	Logger *slog.Logger
}

// Server serves one model. It is an http.Handler; use it with httptest or
// any http.Server, or run it with Serve or ListenAndServe.
type Server struct {
	cfg     Config
	model   *model.Model
	name    string
	version string // model version as TF Serving prints it
	log     *slog.Logger

	requestCount *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	okCount      prometheus.Counter
	predictObs   prometheus.Observer
	tfMetrics    http.Handler
	rtMetrics    http.Handler

	classJSON [][]byte // JSON encoding of each class label
	bufs      sync.Pool
	slots     chan struct{} // one per predict request in flight

	budgetMu      sync.Mutex
	inflightBytes int64 // body bytes taken by the predict requests in flight
}

// New returns a Server for cfg. It never fails: a nil model means the
// embedded demo model, and out-of-range numbers are clamped.
func New(cfg Config) *Server {
	if cfg.Model == nil {
		cfg.Model = model.Default()
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Model.Name
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MaxInflightBytes <= 0 {
		cfg.MaxInflightBytes = cfg.MaxBodyBytes
	}
	cfg.Latency = max(cfg.Latency, 0)
	cfg.Jitter = max(cfg.Jitter, 0)
	cfg.ErrorRate = min(max(cfg.ErrorRate, 0), 1)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		model:   cfg.Model,
		name:    cfg.Name,
		version: strconv.FormatInt(cfg.Model.Version, 10),
		log:     cfg.Logger,
		slots:   make(chan struct{}, cfg.MaxConcurrent),
	}
	for _, c := range s.model.Classes {
		b := []byte(c) // a number, as MLflow prints an integer label
		if !c.IsNumber() {
			b = appendPyJSONString(nil, string(c))
		}
		s.classJSON = append(s.classJSON, b)
	}

	tfReg := prometheus.NewRegistry()
	s.requestCount = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: RequestCountMetric,
		Help: "The total number of requests.",
	}, []string{"model_name", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    RequestLatencyMetric,
		Help:    "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
		Buckets: LatencyBuckets(),
	}, []string{"model_name", "API", "entrypoint"})
	tfReg.MustRegister(s.requestCount, s.latency)
	s.okCount = s.requestCount.WithLabelValues(s.name, StatusOK)
	s.requestCount.WithLabelValues(s.name, StatusInvalidArgument)
	s.predictObs = s.latency.WithLabelValues(s.name, "predict", "REST")
	s.tfMetrics = promhttp.HandlerFor(tfReg, promhttp.HandlerOpts{})

	rtReg := prometheus.NewRegistry()
	rtReg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	s.rtMetrics = promhttp.HandlerFor(rtReg, promhttp.HandlerOpts{})
	return s
}

// Name returns the served model name.
func (s *Server) Name() string { return s.name }

// Model returns the served model.
func (s *Server) Model() *model.Model { return s.model }

// mlflowRoutes are the paths of MLflow's scoring server.
var mlflowRoutes = map[string]bool{"/invocations": true, "/ping": true, "/health": true, "/version": true}

// ServeHTTP routes a request to the MLflow, TF Serving or metrics endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/invocations":
		s.invocations(w, r)
	case p == "/ping" || p == "/health":
		// MLflow answers "\n" labelled application/json (HEAD: no body, same headers).
		if getOrHead(w, r) {
			writeBody(w, http.StatusOK, contentTypeJSON, []byte("\n"))
		}
	case p == "/version":
		if getOrHead(w, r) {
			writeBody(w, http.StatusOK, contentTypeJSON, []byte(s.cfg.Version))
		}
	case p == MetricsPath:
		s.tfMetrics.ServeHTTP(w, r)
	case p == RuntimeMetricsPath:
		s.rtMetrics.ServeHTTP(w, r)
	case p == "/v1/models" || strings.HasPrefix(p, "/v1/models/"):
		s.tfServing(w, r, p[len("/v1/models"):])
	default:
		// Starlette redirects /ping/ to /ping (and /ping to /ping/ if only
		// that existed), whatever the method.
		alt := strings.TrimSuffix(p, "/")
		if alt == p {
			alt = p + "/"
		}
		if p != "/" && mlflowRoutes[alt] {
			u := "http://" + r.Host + alt
			if r.URL.RawQuery != "" {
				u += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", u)
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		writeDetail(w, http.StatusNotFound)
	}
}

// getOrHead answers other methods as MLflow does for its GET routes, which
// Starlette opens to HEAD too.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeDetail(w, http.StatusMethodNotAllowed)
	return false
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting connections and waits up to Config.ShutdownTimeout for
// in-flight requests. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: headerTimeout,
		// Backstops for handlers that set no deadline of their own (readBody does).
		ReadTimeout:    headerTimeout + s.cfg.BodyReadTimeout,
		WriteTimeout:   headerTimeout + s.cfg.BodyReadTimeout + s.cfg.RequestTimeout + 10*time.Second,
		MaxHeaderBytes: 64 << 10,
		IdleTimeout:    2 * time.Minute,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("model server listening", "addr", ln.Addr().String(), "model", s.name,
		"version", s.model.Version, "features", len(s.model.Features))
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("model server stopped")
	return nil
}

// ListenAndServe listens on addr (host:port; ":8080" for every interface)
// and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}
