package livecheck

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stackgen/stackgen/exporter"
	"github.com/stackgen/stackgen/modelserver"
	"github.com/stackgen/stackgen/prometheus"
	"github.com/stackgen/stackgen/stack"
)

// selectorRef is one vector selector of a query: a metric name and all
// its label matchers.
type selectorRef struct {
	name     string
	matchers []*labels.Matcher
}

// parseSelectors parses expr with Prometheus' PromQL parser and returns its
// vector selectors that name a metric (selectors without a fixed name, such
// as {__name__=~"..."}, name none).
func parseSelectors(expr string) ([]selectorRef, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []selectorRef
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if name == "" && m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name != "" {
			out = append(out, selectorRef{name: name, matchers: vs.LabelMatchers})
		}
		return nil
	})
	return out, nil
}

// metricNames returns the metric names expr reads, sorted and without
// duplicates.
func metricNames(expr string) ([]string, error) {
	sels, err := parseSelectors(expr)
	if err != nil {
		return nil, err
	}
	return namesOf(sels), nil
}

func namesOf(sels []selectorRef) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range sels {
		if !seen[s.name] {
			seen[s.name] = true
			out = append(out, s.name)
		}
	}
	sort.Strings(out)
	return out
}

// histogram returns the series names of a classic histogram.
func histogram(name string) []string {
	return []string{name + "_bucket", name + "_sum", name + "_count"}
}

// knownMetric says which component exports a metric after traffic and on
// which scrape jobs; no jobs means every job (up, scrape_*) or none in
// particular (ALERTS).
type knownMetric struct {
	by   string
	jobs []string
}

// catalog maps metric names to what exports them.
type catalog map[string]knownMetric

// KnownMetrics returns the metric names the components of s export once
// they have served requests, with what exports each. Some exist only after
// the first request: client_golang exposes a labelled metric (a *Vec) with
// no children not at all, not even its HELP and TYPE lines, so before
// traffic Prometheus has never seen http_requests_total,
// http_request_duration_seconds_* or model_predictions_total; and TF
// Serving creates :tensorflow:serving:* series on the first request. A
// query on such a metric is empty for lack of traffic, not broken.
//
// Prometheus' own synthetic series (up, scrape_*) and ALERTS /
// ALERTS_FOR_STATE (present only while an alert is pending or firing) are
// included too.
func KnownMetrics(s *stack.Stack) map[string]string {
	out := map[string]string{}
	for n, k := range knownCatalog(s) {
		out[n] = k.by
	}
	return out
}

func knownCatalog(s *stack.Stack) catalog {
	c := catalog{}
	add := func(by string, jobs []string, names ...string) {
		for _, n := range names {
			c[n] = knownMetric{by: by, jobs: jobs}
		}
	}
	add("Prometheus, for every scrape target", nil, "up", "scrape_duration_seconds", "scrape_samples_scraped",
		"scrape_samples_post_metric_relabeling", "scrape_series_added")
	add("Prometheus, while an alert is pending or firing", nil, "ALERTS", "ALERTS_FOR_STATE")
	exp := []string{s.Prometheus.JobName}
	const by = "the exporter"
	add(by, exp, exporter.MetricRequests, exporter.MetricInFlight, exporter.MetricRejected,
		exporter.MetricUpstreamFailures, exporter.MetricPredictions, exporter.MetricProcessThreads)
	add(by, exp, histogram(exporter.MetricRequestDuration)...)
	add(by, exp, histogram(exporter.MetricUpstreamDuration)...)
	add(by, exp, histogram(exporter.MetricRequestRows)...)
	// client_golang's process collector, exported from the first scrape on.
	add(by, exp, "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
		"process_open_fds", "process_max_fds", "process_start_time_seconds")
	// Drift: the exporter creates its drift series (bins, missing, out of
	// range, baseline ratios) at start, so they are checked like any
	// exported metric. The recording rules' series exist only once the
	// drift window holds rows: a model's PSI, shares and thresholds wait
	// for traffic. They carry the model label but no job; the job here
	// ties them to the exporter targets a model matcher selects.
	for _, m := range s.Models {
		if m.DriftEnabled() {
			add("Prometheus' drift recording rules, once the drift window holds input rows", exp, driftRecorded...)
			break
		}
	}
	for _, m := range s.Models {
		if m.ExportsTFServingMetrics() {
			const tf = "the model server (TF Serving metrics)"
			jobs := []string{prometheus.ModelServerJob}
			add(tf, jobs, modelserver.RequestCountMetric)
			add(tf, jobs, histogram(modelserver.RequestLatencyMetric)...)
			break
		}
	}
	return c
}

// driftRecorded are the drift recording rules' series.
var driftRecorded = []string{
	stack.RecFeatureBinRows, stack.RecFeatureRows, stack.RecFeatureBinShare, stack.RecFeatureBinPSI,
	stack.RecFeaturePSI, stack.RecFeaturePSIThreshold,
	stack.RecPredictionRows, stack.RecPredictionClassShare, stack.RecPredictionClassPSI,
	stack.RecPredictionPSI, stack.RecPredictionPSIThreshold, stack.RecPredictionConfidenceMean,
}

// liveMetrics is what Prometheus knows about metric names.
type liveMetrics struct {
	// series: names with at least one series in the lookback window.
	series map[string]bool
	// meta: names some target declares (HELP/TYPE) even without samples, as
	// e.g. Python's prometheus_client does for labelled metrics; metaBy
	// holds the labels of the targets declaring each.
	meta   map[string]bool
	metaBy map[string][]map[string]string
}

// fetchLive asks Prometheus which metric names have series in [now-lookback,
// now] (LabelValues of __name__, one call) and which metric families each
// scrape target declares (TargetsMetadata, one call).
func fetchLive(ctx context.Context, api v1.API, now time.Time, lookback time.Duration, timeout time.Duration) (liveMetrics, error) {
	lm := liveMetrics{series: map[string]bool{}, meta: map[string]bool{}, metaBy: map[string][]map[string]string{}}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	names, _, _, err := api.LabelValues(qctx, labels.MetricName, nil, now.Add(-lookback), now)
	if err != nil {
		return lm, fmt.Errorf("list metric names: %w", err)
	}
	for _, n := range names {
		lm.series[string(n)] = true
	}
	mctx, cancel2 := context.WithTimeout(ctx, timeout)
	defer cancel2()
	md, err := api.TargetsMetadata(mctx, "", "", "")
	if err != nil {
		return lm, fmt.Errorf("list metric metadata: %w", err)
	}
	for _, m := range md {
		for _, n := range seriesNames(m.Metric, m.Type) {
			lm.meta[n] = true
			lm.metaBy[n] = append(lm.metaBy[n], m.Target)
		}
	}
	return lm, nil
}

// seriesNames are the series names a metric family of type t exposes.
func seriesNames(family string, t v1.MetricType) []string {
	switch t {
	case v1.MetricTypeHistogram, v1.MetricTypeGaugeHistogram:
		return append([]string{family}, histogram(family)...) // family: a native histogram
	case v1.MetricTypeSummary:
		return []string{family, family + "_sum", family + "_count"}
	case v1.MetricTypeCounter:
		if !strings.HasSuffix(family, "_total") {
			// OpenMetrics metadata names the counter without its _total suffix.
			return []string{family, family + "_total"}
		}
	}
	return []string{family}
}
