package dashboards

import (
	"fmt"
	"strconv"
	"strings"
)

// labelMatcher is one PromQL label matcher.
type labelMatcher struct {
	name, op, value string
}

func eq(name, value string) labelMatcher  { return labelMatcher{name, "=", value} }
func neq(name, value string) labelMatcher { return labelMatcher{name, "!=", value} }
func re(name, value string) labelMatcher  { return labelMatcher{name, "=~", value} }
func nre(name, value string) labelMatcher { return labelMatcher{name, "!~", value} }

// selector is an ordered list of label matchers, rendered as the inside of
// {...}: `job="ml_model_exporter", model="demo"`.
type selector []labelMatcher

// String renders the matchers, quoting values as PromQL string literals.
func (s selector) String() string {
	parts := make([]string, len(s))
	for i, m := range s {
		parts[i] = m.name + m.op + strconv.Quote(m.value)
	}
	return strings.Join(parts, ", ")
}

// with returns a copy of s with more matchers appended.
func (s selector) with(ms ...labelMatcher) selector {
	return append(append(selector(nil), s...), ms...)
}

// exporterQueries are seed 000's dashboard queries, verbatim except for the
// label matchers: the seed has {job="ml_model_exporter"}; stackgen uses the
// stack's job name and, on a model's dashboard, adds model="<name>".
type exporterQueries struct {
	RPS, P95, CPU, RAMMB, Up, OpenFDs, Threads string
}

func seed000(sel selector) exporterQueries {
	s := sel.String()
	return exporterQueries{
		RPS:     fmt.Sprintf(`sum(rate(http_requests_total{%s}[1m]))`, s),
		P95:     fmt.Sprintf(`histogram_quantile(0.95, sum by(le) (rate(http_request_duration_seconds_bucket{%s}[5m])))`, s),
		CPU:     fmt.Sprintf(`rate(process_cpu_seconds_total{%s}[5m])`, s),
		RAMMB:   fmt.Sprintf(`avg_over_time(process_resident_memory_bytes{%s}[5m]) / (1024 * 1024)`, s),
		Up:      fmt.Sprintf(`up{%s}`, s),
		OpenFDs: fmt.Sprintf(`avg_over_time(process_open_fds{%s}[5m])`, s),
		Threads: fmt.Sprintf(`avg_over_time(process_threads{%s}[5m])`, s),
	}
}

// latencyQuantile is the q-quantile of the exporter's request latency (s).
func latencyQuantile(q string, sel selector) string {
	return fmt.Sprintf(`histogram_quantile(%s, sum by(le) (rate(http_request_duration_seconds_bucket{%s}[5m])))`, q, sel)
}

// Status code matchers of the exporter's request counter. A failed request
// is one whose code is not 2xx or 3xx, as the high_error_ratio alert
// (alerting.ValueQuery, kind error_ratio_high) counts it: the model server
// answers an invalid payload with 400, and that is a failed prediction too.
// 5xx and 4xx split the failures for diagnosis.
var (
	codeFailed = nre("code", "2..|3..")
	code5xx    = re("code", "5..")
	code4xx    = re("code", "4..")
)

// codeRatio is the share of requests whose status code matches code over
// 5m. The "or … * 0" arm yields 0 instead of no data while no request has
// failed yet (the counter child for the code does not exist until then).
// by groups the result (e.g. "model"); empty means one series.
func codeRatio(sel selector, code labelMatcher, by string) string {
	agg := "sum"
	if by != "" {
		agg = "sum by (" + by + ")"
	}
	all := fmt.Sprintf(`%s (rate(http_requests_total{%s}[5m]))`, agg, sel)
	bad := fmt.Sprintf(`%s (rate(http_requests_total{%s}[5m]))`, agg, sel.with(code))
	return fmt.Sprintf(`(%s or %s * 0) / %s`, bad, all, all)
}

// tfQueries are seed 002's TF Serving queries. sel replaces the seed's
// {model_name="diabetes-prediction"}: it adds the job and model labels to the
// stack model's TF Serving model name; latency queries also match
// API="predict", entrypoint="REST" as in the seed.
type tfQueries struct {
	Total, ByStatus, RPS1m, RPS5m, ErrorsPerSec, ErrorRatio, AvgLatencyMs, P95Ms, P99Ms string
	// Up is the model server's scrape health (not in the seed).
	Up string
	// RPSTotal sums the 1m rate over statuses for a single-value stat.
	RPSTotal string
}

const (
	tfRequestCount   = ":tensorflow:serving:request_count"
	tfRequestLatency = ":tensorflow:serving:request_latency"
)

func seed002(target, sel selector) tfQueries {
	lat := sel.with(eq("API", "predict"), eq("entrypoint", "REST"))
	bad := sel.with(neq("status", "OK"))
	all5m := fmt.Sprintf(`sum(rate(%s{%s}[5m]))`, tfRequestCount, sel)
	quantile := func(q string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum by (le) (rate(%s_bucket{%s}[5m]))) / 1000`, q, tfRequestLatency, lat)
	}
	return tfQueries{
		Total:        fmt.Sprintf(`sum(%s{%s})`, tfRequestCount, sel),
		ByStatus:     fmt.Sprintf(`sum by (status) (%s{%s})`, tfRequestCount, sel),
		RPS1m:        fmt.Sprintf(`rate(%s{%s}[1m])`, tfRequestCount, sel),
		RPS5m:        fmt.Sprintf(`rate(%s{%s}[5m])`, tfRequestCount, sel),
		ErrorsPerSec: fmt.Sprintf(`rate(%s{%s}[5m])`, tfRequestCount, bad),
		// The seed divides rate(status!="OK") by rate(all) series by series,
		// which matches each error series with itself (ratio 1, or no data).
		// Summing both sides gives the intended share of failed requests.
		ErrorRatio:   fmt.Sprintf(`(sum(rate(%s{%s}[5m])) or %s * 0) / %s`, tfRequestCount, bad, all5m, all5m),
		AvgLatencyMs: fmt.Sprintf(`(%s_sum{%s} / %s_count{%s}) / 1000`, tfRequestLatency, lat, tfRequestLatency, lat),
		P95Ms:        quantile("0.95"),
		P99Ms:        quantile("0.99"),
		Up:           fmt.Sprintf(`up{%s}`, target),
		RPSTotal:     fmt.Sprintf(`sum(rate(%s{%s}[1m]))`, tfRequestCount, sel),
	}
}
