// Package exporter is stackgen's inference proxy and Prometheus exporter: it
// sits in front of a model server (MLflow scoring server, TF Serving or any
// HTTP model), forwards requests to it and exports request, upstream,
// prediction and process metrics at /metrics.
//
// Routes served by the proxy itself:
//
//	POST /predict   forwarded to the kind's predict endpoint
//	GET  /metrics   Prometheus metrics
//	GET  /healthz   200 while the process runs
//	GET  /readyz    200 only when the upstream answers (cached ~1s)
//
// Every other path is forwarded unchanged to the upstream.
//
// Metrics (names are a contract with the generated dashboards and rules):
//
//	http_requests_total{method,route,code}               counter
//	http_request_duration_seconds{method,route,code}     histogram (Config.Buckets)
//	http_requests_in_flight                              gauge
//	http_request_rejected_total{reason}                  counter, reason body_too_large (413) | overloaded (503) | body_timeout (408); never reach the upstream
//	upstream_request_duration_seconds                    histogram of answered upstream exchanges
//	upstream_failures_total{cause}                       counter, cause timeout (504) | refused (502) | bad_response (502) | client_gone (recorded as code 499)
//	model_predictions_total{class}                       counter, at most Config.MaxClasses classes, then "other"
//	model_request_rows                                   histogram of input rows per inference request
//
// With Config.Baseline (drift on; see drift.go), also:
//
//	model_feature_bin_total{feature,bin}                 counter, every bin of every baseline feature from 0
//	model_feature_missing_total{feature}                 counter, absent / null / NaN values
//	model_feature_out_of_range_total{feature}            counter, outside the training range, or not a number in a numeric feature
//	model_feature_baseline_ratio{feature,bin}            gauge, expected share from the baseline
//	model_prediction_baseline_ratio{class}               gauge, expected class share (class baselines)
//	model_prediction_value                               histogram, numeric predictions by the baseline's edges (value baselines)
//	model_prediction_confidence                          histogram, top-class probability of probability answers
//	model_prediction_confidence_baseline                 gauge, the baseline's mean top-class probability (when known)
//
//	process_threads                                      gauge (OS threads; Go's process collector has none)
//	process_* and go_*                                   the standard client_golang collectors
//
// The route label is one of a fixed set (/predict, /invocations, /ping,
// /health, /version, /metrics, /healthz, /readyz, /, /v1/models,
// /v1/models/:name[...], the custom predict path, ...); any other path is
// "other". Inference routes (POST /predict, /invocations,
// /v1/models/:name:predict, the custom predict path) have their request rows
// and returned classes counted, for JSON answers within Config.MaxBody.
//
// Server and client are valyala/fasthttp (chosen by measurement, see
// docs/bench-exporter.md). Run serves with fasthttp.Server, streaming
// request bodies so that the handler runs right after the header: at most
// Config.MaxInFlight forwarded requests at once (checked before the body
// is read; 503 with Retry-After), Config.BodyTimeout to receive a body
// (408), Config.MaxBody bytes (413, enforced while reading), request
// buffers that grow with bytes actually read. Handler adapts the same
// handler to net/http for embedding.
//
// Upstream exchanges (roundtrip.go) write the request with fasthttp's
// Request.Write and read the answer with its Response.ReadLimitBody on a
// pooled connection: 1xx replies are consumed and never taken as final, an
// unsolicited 101 is a bad_response, a connection is reused only when its
// answer was read to the end with nothing after it (in the buffer or on the
// socket), a request is retried only when no byte of it reached the socket,
// idle connections close after Config.IdleConnTimeout, and a client that
// goes away (its socket is watched once the upstream takes over 10ms,
// watch.go) cancels the exchange by closing its connection. Answers with a
// known length up to the buffer limit are read whole before they are sent
// (a broken upstream still gets a clean 502); chunked answers, event
// streams and larger answers are passed on as they arrive, each chunk
// flushed.
//
// refused covers every failure to connect (connection refused, DNS, TLS
// handshake); bad_response a connection broken before a complete answer or
// an unparsable one. An upstream 5xx is an answer, passed through unchanged.
// Errors the exporter writes itself use the upstream protocol's shape
// (MLflow {"error_code","message"}, TF Serving and custom {"error"}) with an
// extra "cause" field, and never carry internal addresses (those are logged).
package exporter

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stackgen/stackgen/baseline"
)

// Kind names the protocol the upstream model server speaks.
type Kind string

// Supported upstream kinds.
const (
	// KindMLflow is an MLflow scoring server: POST /invocations, GET /ping.
	KindMLflow Kind = "mlflow"
	// KindTFServing is TF Serving's REST API: POST /v1/models/NAME:predict,
	// GET /v1/models/NAME.
	KindTFServing Kind = "tfserving"
	// KindCustom is any HTTP model server; its predict path is
	// Config.PredictPath and its health path Config.HealthPath.
	KindCustom Kind = "custom"
)

// Defaults used by Config.withDefaults and the CLI flags.
const (
	// DefaultListen is the default listen address.
	DefaultListen = ":8000"
	// DefaultTimeout is the default upstream request timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBody is the default request body limit (10 MiB).
	DefaultMaxBody int64 = 10 << 20
	// DefaultHealthPath is the default readiness path of a custom upstream.
	DefaultHealthPath = "/"
	// DefaultShutdownTimeout bounds how long Run drains in-flight requests.
	DefaultShutdownTimeout = 15 * time.Second
	// DefaultMaxClasses bounds the number of distinct class label values of
	// model_predictions_total; further classes are counted as "other".
	DefaultMaxClasses = 50
	// DefaultReadyCacheTTL is how long a readiness probe result is reused.
	DefaultReadyCacheTTL = time.Second
	// DefaultBodyTimeout bounds how long a client may take to send its
	// request body (408 after it).
	DefaultBodyTimeout = 30 * time.Second
	// DefaultMaxInFlight caps the forwarded requests served at once (503
	// with Retry-After above it).
	DefaultMaxInFlight = 1024
	// DefaultIdleConnTimeout is how long an idle upstream connection stays
	// pooled before it is closed.
	DefaultIdleConnTimeout = 30 * time.Second
	// DefaultMaxIdleConns is kept for compatibility; nothing reads it. The
	// upstream pool holds at most one connection per forwarded request in
	// flight (Config.MaxInFlight bounds it) and closes idle ones after
	// Config.IdleConnTimeout.
	DefaultMaxIdleConns = 128
)

// DefaultBuckets are the default http_request_duration_seconds and
// upstream_request_duration_seconds buckets, in seconds, suited to
// millisecond-scale inference.
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Config configures an Exporter. Zero values take the documented defaults.
type Config struct {
	// Listen is the address Run listens on (default ":8000").
	Listen string
	// Upstream is the model server's base URL, e.g. http://model:8080. A path
	// in it is prefixed to every forwarded path.
	Upstream string
	// Kind is the upstream protocol: mlflow, tfserving or custom.
	Kind Kind
	// ModelName is the TF Serving model name (required for tfserving).
	ModelName string
	// PredictPath is the upstream path POST /predict goes to (required for
	// custom; for the other kinds it overrides the protocol's path).
	PredictPath string
	// HealthPath is the upstream path /readyz probes with GET (custom kind
	// only; default "/"). mlflow probes /ping, tfserving /v1/models/NAME.
	HealthPath string
	// Buckets are the latency histogram buckets in seconds (default
	// DefaultBuckets).
	Buckets []float64
	// Timeout bounds one upstream request, connection included (default 10s).
	Timeout time.Duration
	// MaxBody is the request body limit in bytes; larger requests get 413
	// (default 10 MiB).
	MaxBody int64
	// BodyTimeout bounds reading one request body, from the end of its
	// headers to its last byte; a slower client gets 408 (default 30s).
	BodyTimeout time.Duration
	// MaxInFlight caps the forwarded requests served at once; further ones
	// get 503 with Retry-After before their body is read (default 1024).
	// /metrics, /healthz and /readyz are not counted against it.
	MaxInFlight int
	// IdleConnTimeout closes upstream connections idle that long (default
	// 30s), so that a load burst does not leave sockets open.
	IdleConnTimeout time.Duration
	// MaxClasses bounds distinct model_predictions_total class values
	// (default 50).
	MaxClasses int
	// ShutdownTimeout bounds how long Run waits for in-flight requests when
	// its context ends (default 15s).
	ShutdownTimeout time.Duration
	// ReadyCacheTTL is how long a readiness result is cached (default 1s).
	ReadyCacheTTL time.Duration
	// TLSClientConfig, when set, is used for https upstreams (its NextProtos
	// is overridden: the proxy speaks HTTP/1.1). Default: system roots.
	TLSClientConfig *tls.Config
	// Baseline, when set, turns drift counting on: every input row's feature
	// values are counted into the baseline's bins
	// (model_feature_bin_total{feature,bin}, model_feature_missing_total,
	// model_feature_out_of_range_total), its expected shares exported
	// (model_feature_baseline_ratio, model_prediction_baseline_ratio), and
	// predictions observed in model_prediction_value (value kind) and
	// model_prediction_confidence. nil means drift off. Label values come
	// only from the baseline, so cardinality is bounded by it.
	Baseline *baseline.Baseline
	// Logf, when set, receives one line per lifecycle event (listening,
	// draining). Requests are not logged.
	Logf func(format string, args ...any)
}

// ParseBuckets parses a comma-separated list of bucket upper bounds in
// seconds, e.g. ".005,.01,.1,1". Bounds must be positive and increasing.
func ParseBuckets(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("bucket %q: %w", f, err)
		}
		out = append(out, v)
	}
	if err := checkBuckets(out); err != nil {
		return nil, err
	}
	return out, nil
}

func checkBuckets(b []float64) error {
	if len(b) == 0 {
		return errors.New("no buckets")
	}
	for i, v := range b {
		if !(v > 0) {
			return fmt.Errorf("bucket %v: must be positive", v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("buckets must be strictly increasing (%v after %v)", v, b[i-1])
		}
	}
	return nil
}

// resolved is a validated Config with derived values.
type resolved struct {
	Config
	base        *url.URL // upstream URL, path without trailing slash
	predictPath string   // upstream path for POST /predict (with base prefix)
	healthPath  string   // upstream path probed by /readyz (with base prefix)
}

// resolve validates c and fills in defaults.
func (c Config) resolve() (*resolved, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxClasses <= 0 {
		c.MaxClasses = DefaultMaxClasses
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.ReadyCacheTTL <= 0 {
		c.ReadyCacheTTL = DefaultReadyCacheTTL
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.IdleConnTimeout <= 0 {
		c.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if len(c.Buckets) == 0 {
		c.Buckets = slices.Clone(DefaultBuckets)
	} else if err := checkBuckets(c.Buckets); err != nil {
		return nil, fmt.Errorf("buckets: %w", err)
	}
	if c.Baseline != nil {
		if err := c.Baseline.Validate(); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
	}
	if c.Upstream == "" {
		return nil, errors.New("upstream URL is required")
	}
	u, err := url.Parse(c.Upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream URL %q: %w", c.Upstream, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("upstream URL %q: scheme must be http or https", c.Upstream)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q: no host", c.Upstream)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream URL %q: must not carry a query, fragment or user info", c.Upstream)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	r := &resolved{Config: c, base: u}

	var predict, health string
	switch c.Kind {
	case KindMLflow:
		predict, health = "/invocations", "/ping"
	case KindTFServing:
		if c.ModelName == "" {
			return nil, errors.New("kind tfserving needs a model name")
		}
		if strings.ContainsAny(c.ModelName, "/:?#% ") {
			return nil, fmt.Errorf("model name %q: must not contain / : ? # %% or spaces", c.ModelName)
		}
		predict, health = "/v1/models/"+c.ModelName+":predict", "/v1/models/"+c.ModelName
	case KindCustom:
		if c.PredictPath == "" {
			return nil, errors.New("kind custom needs a predict path")
		}
		health = DefaultHealthPath
		if c.HealthPath != "" {
			health = c.HealthPath
		}
	case "":
		return nil, errors.New("kind is required (mlflow, tfserving or custom)")
	default:
		return nil, fmt.Errorf("unknown kind %q (want mlflow, tfserving or custom)", c.Kind)
	}
	if c.PredictPath != "" {
		predict = c.PredictPath
	}
	for _, p := range []string{predict, health} {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("path %q must start with /", p)
		}
	}
	r.predictPath = u.Path + predict
	r.healthPath = u.Path + health
	return r, nil
}
