package alerting

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stackgen/stackgen/stack"
)

// ModelServerJob is the Prometheus job that scrapes TF Serving metrics of the
// model servers (kinds tfserving and demo); each target carries a model label.
//
// Deprecated: use stack.ModelServerJob; names shared by renderers live in stack.
const ModelServerJob = stack.ModelServerJob

// MonitoringRoutes are the exporter's own endpoints (Prometheus scrapes,
// liveness and readiness probes). Traffic, latency and error-ratio alerts on
// the exporter leave them out: a scrape every few seconds would otherwise hide
// low traffic, and a failing readiness probe (503) is not a failed prediction.
var MonitoringRoutes = []string{"/metrics", "/healthz", "/readyz"}

// Comparison operators of a Query.
const (
	OpAbove = ">" // fires when the value is above the threshold
	OpBelow = "<" // fires when the value is below the threshold
)

// Query is an alert's condition split in two: a PromQL expression yielding a
// value in the kind's unit (one series per alert instance) and the comparison
// that makes it fire. Grafana evaluates Value, reduces it and applies the
// threshold; Prometheus evaluates Condition().
type Query struct {
	// Value is the PromQL expression whose result is compared.
	Value string
	// Op is OpAbove or OpBelow; empty for a custom alert, which fires for every
	// series Value returns.
	Op string
	// Threshold is the value compared against (the spike factor for traffic_spike).
	Threshold float64
}

// Custom reports whether the query is a custom expression that fires on any series.
func (q Query) Custom() bool { return q.Op == "" }

// Condition is the full PromQL alert condition: "Value Op Threshold", or the
// custom expression itself.
func (q Query) Condition() string {
	if q.Custom() {
		return q.Value
	}
	return q.Value + " " + q.Op + " " + formatFloat(q.Threshold)
}

// Expr returns the PromQL condition of alert a for model m, as it goes into a
// Prometheus rule (a fires for every series the condition returns). For a
// custom alert m is ignored and the expression is returned as written.
func Expr(s *stack.Stack, a stack.Alert, m stack.Model) (string, error) {
	q, err := ValueQuery(s, a, m)
	if err != nil {
		return "", err
	}
	return q.Condition(), nil
}

// ValueQuery returns alert a's value expression and comparison for model m.
//
// Units follow stack.AlertKinds whatever the source: latency in seconds (TF
// Serving's microsecond histograms are divided by 1e6), rates in requests per
// second, ratios as 0–1 fractions, memory in MB, CPU in cores. On the
// exporter, a request is an error when its status code is not 2xx or 3xx:
// 4xx answers count too, because the model server answers a malformed payload
// with 400 and the exporter passes it on, and those are failed predictions.
// TF Serving errors are requests whose status label is not "OK".
func ValueQuery(s *stack.Stack, a stack.Alert, m stack.Model) (Query, error) {
	k, ok := stack.AlertKinds[a.Kind]
	if !ok {
		return Query{}, fmt.Errorf("alert %s: unknown kind %q", a.Name, a.Kind)
	}
	if a.Kind == stack.AlertCustom {
		if strings.TrimSpace(a.Expr) == "" {
			return Query{}, fmt.Errorf("alert %s: kind custom needs expr", a.Name)
		}
		return Query{Value: a.Expr}, nil
	}
	if IsDriftKind(a.Kind) {
		return driftQuery(a, m)
	}
	src := a.Source
	if src == "" {
		src = stack.SourceExporter
	}
	if !contains(k.Sources, src) {
		return Query{}, fmt.Errorf("alert %s: kind %s cannot be computed on %s metrics", a.Name, a.Kind, src)
	}
	if src == stack.SourceModelServer && !m.ExportsTFServingMetrics() {
		return Query{}, fmt.Errorf("alert %s: model %s does not export TF Serving metrics", a.Name, m.Name)
	}
	threshold := 0.0
	if k.NeedsThreshold {
		if a.Threshold == nil {
			return Query{}, fmt.Errorf("alert %s: kind %s needs a threshold", a.Name, a.Kind)
		}
		threshold = *a.Threshold
	}
	window := a.Window.D()
	if window <= 0 {
		window = 5 * time.Minute
	}
	w := promDuration(window)

	var (
		target  string // selector of the scrape target (up, process_*)
		traffic string // selector of the request metrics
		reqs    string // request counter
		bucket  string // latency histogram buckets
		errSel  string // extra matcher selecting failed requests
		scale   string // divisor bringing latency to seconds
	)
	if src == stack.SourceExporter {
		target = selector(map[string]string{"job": s.Prometheus.JobName, stack.ModelLabel: m.Name}, "")
		route := `route!~"` + strings.Join(MonitoringRoutes, "|") + `"`
		traffic = selector(map[string]string{"job": s.Prometheus.JobName, stack.ModelLabel: m.Name}, route)
		reqs = "http_requests_total"
		bucket = "http_request_duration_seconds_bucket"
		errSel = `code!~"2..|3.."`
	} else {
		target = selector(map[string]string{"job": stack.ModelServerJob, stack.ModelLabel: m.Name}, "")
		traffic = target
		reqs = ":tensorflow:serving:request_count"
		bucket = ":tensorflow:serving:request_latency_bucket"
		errSel = `status!="OK"`
		scale = " / 1e6"
	}
	rate := func(metric, sel, win string) string {
		return "sum by (model) (rate(" + metric + sel + "[" + win + "]))"
	}
	// idle is 0 for every up target of the model: it stands in for the
	// request rate before the first request creates the counter.
	idle := "0 * max by (model) (up" + target + ")"

	switch a.Kind {
	case stack.AlertRequestRateHigh:
		return Query{Value: rate(reqs, traffic, w), Op: OpAbove, Threshold: threshold}, nil
	case stack.AlertLatencyP95High, stack.AlertLatencyP99High:
		q := "0.95"
		if a.Kind == stack.AlertLatencyP99High {
			q = "0.99"
		}
		v := "histogram_quantile(" + q + ", sum by (model, le) (rate(" + bucket + traffic + "[" + w + "])))" + scale
		return Query{Value: v, Op: OpAbove, Threshold: threshold}, nil
	case stack.AlertErrorRatioHigh:
		v := rate(reqs, withMatcher(traffic, errSel), w) + " / " + rate(reqs, traffic, w)
		return Query{Value: v, Op: OpAbove, Threshold: threshold}, nil
	case stack.AlertTargetDown:
		return Query{Value: "up" + target, Op: OpBelow, Threshold: 1}, nil
	case stack.AlertLowTraffic:
		v := "(" + rate(reqs, traffic, w) + " or " + idle + ")"
		return Query{Value: v, Op: OpBelow, Threshold: threshold}, nil
	case stack.AlertTrafficSpike:
		if a.Factor == nil {
			return Query{}, fmt.Errorf("alert %s: kind traffic_spike needs a factor", a.Name)
		}
		// The 15m rate is kept only when positive, so an idle model has no
		// series instead of a division by zero.
		v := rate(reqs, traffic, "1m") + " / (" + rate(reqs, traffic, "15m") + " > 0)"
		return Query{Value: v, Op: OpAbove, Threshold: *a.Factor}, nil
	case stack.AlertMemoryHigh:
		v := "max by (model) (avg_over_time(process_resident_memory_bytes" + target + "[" + w + "])) / 1048576"
		return Query{Value: v, Op: OpAbove, Threshold: threshold}, nil
	case stack.AlertCPUHigh:
		return Query{Value: rate("process_cpu_seconds_total", target, w), Op: OpAbove, Threshold: threshold}, nil
	}
	return Query{}, fmt.Errorf("alert %s: kind %s has no query", a.Name, a.Kind)
}

// selector renders {k="v",...} with keys in a fixed order (job, model) and
// an optional extra raw matcher.
func selector(labels map[string]string, extra string) string {
	parts := make([]string, 0, 3)
	for _, k := range []string{"job", stack.ModelLabel} {
		if v, ok := labels[k]; ok {
			parts = append(parts, k+"="+strconv.Quote(v))
		}
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// withMatcher adds a raw matcher to a rendered selector.
func withMatcher(sel, m string) string {
	return strings.TrimSuffix(sel, "}") + "," + m + "}"
}

// promDuration formats d as Prometheus does (5m, 1h30m).
func promDuration(d time.Duration) string { return stack.Duration(d).String() }

// formatFloat writes f in the shortest form PromQL and YAML both read back exactly.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
