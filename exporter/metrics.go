package exporter

import (
	"bytes"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names. They are part of the contract with the generated Prometheus
// rules and Grafana dashboards; do not rename.
const (
	// MetricRequests counts served requests by method, route and code.
	MetricRequests = "http_requests_total"
	// MetricRequestDuration is the end-to-end latency histogram by method,
	// route and code.
	MetricRequestDuration = "http_request_duration_seconds"
	// MetricInFlight is the number of requests being served.
	MetricInFlight = "http_requests_in_flight"
	// MetricRejected counts requests refused before forwarding, by reason.
	MetricRejected = "http_request_rejected_total"
	// MetricUpstreamDuration is the latency histogram of upstream exchanges.
	MetricUpstreamDuration = "upstream_request_duration_seconds"
	// MetricUpstreamFailures counts failed upstream exchanges by cause.
	MetricUpstreamFailures = "upstream_failures_total"
	// MetricPredictions counts returned predictions by class.
	MetricPredictions = "model_predictions_total"
	// MetricRequestRows is the histogram of input rows per inference request.
	MetricRequestRows = "model_request_rows"
	// MetricProcessThreads is the process's OS thread count.
	MetricProcessThreads = "process_threads"
)

// Upstream failure causes (label cause of upstream_failures_total).
const (
	// CauseTimeout: no complete answer within Config.Timeout (504).
	CauseTimeout = "timeout"
	// CauseRefused: could not connect to the upstream (502).
	CauseRefused = "refused"
	// CauseBadResponse: the connection broke or the answer was malformed (502).
	CauseBadResponse = "bad_response"
	// CauseClientGone: the client went away before the upstream exchange
	// ended; the exchange is cancelled and the request counted as code 499.
	CauseClientGone = "client_gone"
)

// ReasonBodyTooLarge is the reason label of http_request_rejected_total for
// requests whose body exceeds --max-body (413).
const ReasonBodyTooLarge = "body_too_large"

// ReasonOverloaded is the reason label of http_request_rejected_total for
// requests refused because --max-in-flight requests were being served (503).
const ReasonOverloaded = "overloaded"

// ReasonBodyTimeout is the reason label of http_request_rejected_total for
// requests whose body did not arrive within --body-timeout (408).
const ReasonBodyTimeout = "body_timeout"

// RouteOther is the route label of every path that is not a known route.
const RouteOther = "other"

// OtherClass is the class label once MaxClasses distinct classes were seen.
const OtherClass = "other"

// Route indexes. The route label is one of a fixed set, so a scanner probing
// random paths cannot create new series.
const (
	routeOther = iota
	routePredict
	routeMetrics
	routeHealthz
	routeReadyz
	routeInvocations
	routePing
	routeHealth
	routeVersion
	routeRoot
	routeTFModels
	routeTFMonitoring
	routeCustomPredict
	routeTFFirst // first of the generated /v1/models/:name... routes
)

var (
	tfMiddles  = []string{"", "/versions/:version", "/labels/:label"}
	tfSuffixes = []string{"", ":predict", ":classify", ":regress", "/metadata"}
	numRoutes  = routeTFFirst + len(tfMiddles)*len(tfSuffixes)
)

func routeNames(customPredict string) []string {
	names := make([]string, numRoutes)
	names[routeOther] = RouteOther
	names[routePredict] = "/predict"
	names[routeMetrics] = "/metrics"
	names[routeHealthz] = "/healthz"
	names[routeReadyz] = "/readyz"
	names[routeInvocations] = "/invocations"
	names[routePing] = "/ping"
	names[routeHealth] = "/health"
	names[routeVersion] = "/version"
	names[routeRoot] = "/"
	names[routeTFModels] = "/v1/models"
	names[routeTFMonitoring] = "/monitoring/prometheus/metrics"
	names[routeCustomPredict] = customPredict
	for i, m := range tfMiddles {
		for j, s := range tfSuffixes {
			names[routeTFFirst+i*len(tfSuffixes)+j] = "/v1/models/:name" + m + s
		}
	}
	return names
}

// routeOf maps a request path to a route index without allocating.
// customPredict is the custom kind's predict path ("" when none).
func routeOf(path, customPredict string) int {
	switch path {
	case "/predict":
		return routePredict
	case "/metrics":
		return routeMetrics
	case "/healthz":
		return routeHealthz
	case "/readyz":
		return routeReadyz
	case "/invocations":
		return routeInvocations
	case "/ping":
		return routePing
	case "/health":
		return routeHealth
	case "/version":
		return routeVersion
	case "/":
		return routeRoot
	case "/v1/models", "/v1/models/":
		return routeTFModels
	case "/monitoring/prometheus/metrics":
		return routeTFMonitoring
	}
	if customPredict != "" && path == customPredict {
		return routeCustomPredict
	}
	if rest, ok := strings.CutPrefix(path, "/v1/models/"); ok {
		return tfRoute(rest)
	}
	return routeOther
}

// tfRoute normalises the part of a TF Serving path after /v1/models/.
func tfRoute(rest string) int {
	i := strings.IndexAny(rest, "/:")
	if i == 0 {
		return routeOther
	}
	if i < 0 {
		return routeTFFirst // /v1/models/:name
	}
	rest = rest[i:]
	middle := 0
	for mi, pfx := range []string{"/versions/", "/labels/"} {
		if r, ok := strings.CutPrefix(rest, pfx); ok {
			j := strings.IndexAny(r, "/:")
			if j == 0 || r == "" {
				return routeOther
			}
			middle = mi + 1
			if j < 0 {
				rest = ""
			} else {
				rest = r[j:]
			}
			break
		}
	}
	for si, s := range tfSuffixes {
		if rest == s {
			return routeTFFirst + middle*len(tfSuffixes) + si
		}
	}
	return routeOther
}

// Method indexes for the method label.
var methodNames = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "OTHER"}

func methodOf(m string) int {
	switch m {
	case "GET":
		return 0
	case "POST":
		return 1
	case "PUT":
		return 2
	case "DELETE":
		return 3
	case "HEAD":
		return 4
	case "OPTIONS":
		return 5
	case "PATCH":
		return 6
	}
	return 7
}

const (
	minCode = 100
	maxCode = 599
)

// child holds the resolved label children of one (route, method, code).
type child struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

type codeTable [maxCode - minCode + 1]atomic.Pointer[child]

// metrics holds every collector of one Exporter and the caches that keep the
// request path free of label hashing and allocations.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	rejected *prometheus.CounterVec
	tooLarge prometheus.Counter
	overload prometheus.Counter
	slowBody prometheus.Counter
	upDur    prometheus.Histogram
	failures *prometheus.CounterVec
	failure  map[string]prometheus.Counter
	preds    *prometheus.CounterVec
	rows     prometheus.Histogram

	routes  []string
	methods int
	tables  []atomic.Pointer[codeTable] // [route*len(methodNames)+method]
	tableMu sync.Mutex

	classes classCache
	drift   *driftMetrics // nil when Config.Baseline is nil (drift off)
}

// newMetrics builds the registry and every series the exporter serves, from
// the resolved configuration (buckets, class cap, and whatever else the
// metrics need) and the custom kind's predict route ("" for other kinds).
func newMetrics(rc *resolved, customPredict string) *metrics {
	buckets, maxClasses := rc.Buckets, rc.MaxClasses
	m := &metrics{reg: prometheus.NewRegistry()}
	m.routes = routeNames(customPredict)
	m.tables = make([]atomic.Pointer[codeTable], len(m.routes)*len(methodNames))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequests,
		Help: "HTTP requests served by the exporter, by method, route and status code.",
	}, []string{"method", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricRequestDuration,
		Help:    "Time to serve an HTTP request end to end (upstream included), in seconds.",
		Buckets: buckets,
	}, []string{"method", "route", "code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricInFlight,
		Help: "HTTP requests currently being served.",
	})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRejected,
		Help: "Requests refused by the exporter before reaching the upstream, by reason.",
	}, []string{"reason"})
	m.tooLarge = m.rejected.WithLabelValues(ReasonBodyTooLarge)
	m.overload = m.rejected.WithLabelValues(ReasonOverloaded)
	m.slowBody = m.rejected.WithLabelValues(ReasonBodyTimeout)
	m.upDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    MetricUpstreamDuration,
		Help:    "Time the upstream model server took to answer a forwarded request (headers and body), in seconds.",
		Buckets: buckets,
	})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricUpstreamFailures,
		Help: "Forwarded requests that got no valid answer from the upstream, by cause (timeout, refused, bad_response, client_gone).",
	}, []string{"cause"})
	m.failure = map[string]prometheus.Counter{}
	for _, c := range []string{CauseTimeout, CauseRefused, CauseBadResponse, CauseClientGone} {
		m.failure[c] = m.failures.WithLabelValues(c)
	}
	m.preds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricPredictions,
		Help: "Predictions returned by the model, by class (at most the configured number of classes, then \"other\").",
	}, []string{"class"})
	m.rows = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    MetricRequestRows,
		Help:    "Input rows per inference request.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000},
	})
	m.classes.init(m.preds, maxClasses)
	threads := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: MetricProcessThreads,
		Help: "Number of OS threads of the process.",
	}, osThreads)
	m.reg.MustRegister(
		m.requests, m.duration, m.inFlight, m.rejected, m.upDur, m.failures, m.preds, m.rows,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		threads,
	)
	// The successful-prediction series exist at 0 from the start, so a fresh
	// stack's request-rate and latency panels show 0, not "No data".
	m.child(routePredict, methodOf("POST"), 200)
	if rc.Baseline != nil {
		m.drift = newDriftMetrics(m.reg, rc.Baseline, &m.classes)
	}
	return m
}

// request accounts an inference request body: its input rows and, with a
// baseline, every row's feature values (drift_rows.go). This is the one
// place the request path hands a body to the metrics; what is counted from
// it lives on this side.
func (m *metrics) request(body []byte, csv bool) {
	if n := countRows(body, csv); n >= 0 {
		m.rows.Observe(float64(n))
	}
	if m.drift != nil {
		m.drift.request(body, csv)
	}
}

// answer accounts an inference answer body: its predicted classes and, with
// a baseline, prediction values and confidence (drift_answer.go).
func (m *metrics) answer(body []byte) {
	if len(body) > 0 {
		if m.drift != nil && m.drift.sigmoid {
			eachPrediction(body, m.incUnlessProbability)
		} else {
			eachPrediction(body, m.classes.inc)
		}
		if m.drift != nil {
			m.drift.answer(body, &m.classes)
		}
	}
}

// incUnlessProbability counts a prediction as a class unless it is a
// probability, which a sigmoid baseline's drift side counts (see
// driftMetrics.sigmoid).
func (m *metrics) incUnlessProbability(raw []byte, str, escaped bool) {
	if !isProbability(raw, str) {
		m.classes.inc(raw, str, escaped)
	}
}

// observe records one served request.
func (m *metrics) observe(route, method, code int, seconds float64) {
	c := m.child(route, method, code)
	c.count.Inc()
	c.dur.Observe(seconds)
}

// child returns the cached label children, creating them on first use.
func (m *metrics) child(route, method, code int) *child {
	if code < minCode || code > maxCode {
		// Out-of-table codes are rare (1xx-5xx cover HTTP); resolve each time.
		lv := []string{methodNames[method], m.routes[route], strconv.Itoa(code)}
		return &child{m.requests.WithLabelValues(lv...), m.duration.WithLabelValues(lv...)}
	}
	slot := &m.tables[route*len(methodNames)+method]
	t := slot.Load()
	if t == nil {
		m.tableMu.Lock()
		if t = slot.Load(); t == nil {
			t = new(codeTable)
			slot.Store(t)
		}
		m.tableMu.Unlock()
	}
	cp := &t[code-minCode]
	if c := cp.Load(); c != nil {
		return c
	}
	lv := []string{methodNames[method], m.routes[route], strconv.Itoa(code)}
	c := &child{m.requests.WithLabelValues(lv...), m.duration.WithLabelValues(lv...)}
	if !cp.CompareAndSwap(nil, c) {
		c = cp.Load()
	}
	return c
}

// classCache maps raw prediction bytes to model_predictions_total children
// with lock-free reads; at most max distinct classes get their own series.
type classCache struct {
	vec   *prometheus.CounterVec
	max   int
	raw   atomic.Pointer[rawMaps] // copy-on-write
	mu    sync.Mutex
	label map[string]prometheus.Counter // distinct class labels, guarded by mu
	other prometheus.Counter
}

// rawMaps are immutable once published: numbers/booleans and strings are
// kept apart so that 1 and "1" stay distinct raw keys.
type rawMaps struct{ num, str map[string]prometheus.Counter }

// maxRawCache bounds the raw-bytes cache: past it, unseen spellings are
// resolved (with an allocation) but not remembered.
const maxRawCache = 1024

func (c *classCache) init(vec *prometheus.CounterVec, maxClasses int) {
	c.vec, c.max = vec, maxClasses
	c.label = map[string]prometheus.Counter{}
	c.raw.Store(&rawMaps{num: map[string]prometheus.Counter{}, str: map[string]prometheus.Counter{}})
}

// inc counts one prediction given as raw JSON bytes (see eachPrediction).
func (c *classCache) inc(raw []byte, str, escaped bool) {
	rm := c.raw.Load()
	m := rm.num
	if str {
		m = rm.str
	}
	if ctr, ok := m[string(raw)]; ok { // m[string(b)] does not allocate
		ctr.Inc()
		return
	}
	c.slow(raw, str, escaped).Inc()
}

// preset creates the series of a known class (the baseline's classes) at 0,
// within the class cap.
func (c *classCache) preset(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.label[label]; !ok && len(c.label) < c.max {
		c.label[label] = c.vec.WithLabelValues(label)
	}
}

func (c *classCache) slow(raw []byte, str, escaped bool) prometheus.Counter {
	label := classLabel(raw, str, escaped)
	if !utf8.ValidString(label) {
		// A label value must be UTF-8 (WithLabelValues panics otherwise);
		// found by FuzzDrift with an answer like [0\xc2].
		label = strings.ToValidUTF8(label, "\uFFFD")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctr, ok := c.label[label]
	if !ok {
		if len(c.label) < c.max {
			ctr = c.vec.WithLabelValues(label)
			c.label[label] = ctr
		} else {
			if c.other == nil {
				c.other = c.vec.WithLabelValues(OtherClass)
			}
			ctr = c.other
		}
	}
	old := c.raw.Load()
	if len(old.num)+len(old.str) < maxRawCache {
		next := &rawMaps{num: old.num, str: old.str}
		src := &next.num
		if str {
			src = &next.str
		}
		m := make(map[string]prometheus.Counter, len(*src)+1)
		for k, v := range *src {
			m[k] = v
		}
		m[string(raw)] = ctr
		*src = m
		c.raw.Store(next)
	}
	return ctr
}

// osThreads reports the process's OS thread count: Threads from
// /proc/self/status on Linux, else the runtime's threadcreate profile count
// (threads the Go runtime created, which it never destroys on most systems).
func osThreads() float64 {
	if runtime.GOOS == "linux" {
		if b, err := os.ReadFile("/proc/self/status"); err == nil {
			if i := bytes.Index(b, []byte("\nThreads:")); i >= 0 {
				line := b[i+len("\nThreads:"):]
				if j := bytes.IndexByte(line, '\n'); j >= 0 {
					line = line[:j]
				}
				if n, err := strconv.Atoi(string(bytes.TrimSpace(line))); err == nil {
					return float64(n)
				}
			}
		}
	}
	return float64(pprof.Lookup("threadcreate").Count())
}
