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
	"github.com/stackgen/stackgen/stack"
)

// metricNames parses expr with Prometheus' PromQL parser and returns the
// metric names its selectors read, sorted and without duplicates. Selectors
// without a fixed name ({__name__=~"..."}) name no metric.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			seen[vs.Name] = true
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				seen[m.Value] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// histogram returns the series names of a classic histogram.
func histogram(name string) []string {
	return []string{name + "_bucket", name + "_sum", name + "_count"}
}

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
	known := map[string]string{}
	add := func(by string, names ...string) {
		for _, n := range names {
			known[n] = by
		}
	}
	add("Prometheus (every scrape target)", "up", "scrape_duration_seconds", "scrape_samples_scraped",
		"scrape_samples_post_metric_relabeling", "scrape_series_added")
	add("Prometheus (alerting rules)", "ALERTS", "ALERTS_FOR_STATE")
	const exp = "the exporter"
	add(exp, exporter.MetricRequests, exporter.MetricInFlight, exporter.MetricRejected,
		exporter.MetricUpstreamFailures, exporter.MetricPredictions, exporter.MetricProcessThreads)
	add(exp, histogram(exporter.MetricRequestDuration)...)
	add(exp, histogram(exporter.MetricUpstreamDuration)...)
	add(exp, histogram(exporter.MetricRequestRows)...)
	for _, m := range s.Models {
		if m.ExportsTFServingMetrics() {
			const tf = "the model server (TF Serving metrics)"
			add(tf, modelserver.RequestCountMetric)
			add(tf, histogram(modelserver.RequestLatencyMetric)...)
			break
		}
	}
	return known
}

// liveMetrics is what Prometheus knows about metric names.
type liveMetrics struct {
	// series: names with at least one series in the lookback window.
	series map[string]bool
	// meta: names some target declares (HELP/TYPE) even without samples, as
	// e.g. Python's prometheus_client does for labelled metrics.
	meta map[string]bool
}

// fetchLive asks Prometheus which metric names have series in [now-lookback,
// now] (LabelValues of __name__, one call) and which metric families the
// scrape targets declare (Metadata, one call).
func fetchLive(ctx context.Context, api v1.API, now time.Time, lookback time.Duration, timeout time.Duration) (liveMetrics, error) {
	lm := liveMetrics{series: map[string]bool{}, meta: map[string]bool{}}
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
	md, err := api.Metadata(mctx, "", "")
	if err != nil {
		return lm, fmt.Errorf("list metric metadata: %w", err)
	}
	for family, ms := range md {
		for _, m := range ms {
			for _, n := range seriesNames(family, m.Type) {
				lm.meta[n] = true
			}
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
