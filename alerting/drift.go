package alerting

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/stack"
)

// Drift alerts compare the series the drift package's recording rules
// record (prometheus/rules/drift-<model>.yml). Their value is the PSI
// divided by its effective threshold (fires above 1), so both engines use
// the same "value > constant" shape as every other kind; the annotations
// fetch PSI, threshold, rows and the bins that moved most themselves.

// Grafana refIds of the extra instant queries a drift rule carries for its
// annotations: PSI (or mean confidence), effective threshold, rows.
const (
	RefDriftPSI       = "D"
	RefDriftThreshold = "E"
	RefDriftRows      = "F"
)

// IsDriftKind reports whether kind is a drift alert kind.
func IsDriftKind(kind string) bool {
	return kind == stack.AlertFeatureDrift || kind == stack.AlertPredictionDrift || kind == stack.AlertConfidenceDrop
}

// hasClassMix reports whether m's baseline has an expected class mix.
func hasClassMix(m stack.Model) bool {
	return m.HasPredictionBaseline() && m.Drift.Baseline.Prediction.Kind == baseline.PredictionClass
}

// driftQuery is the value query of a drift alert kind on model m.
func driftQuery(a stack.Alert, m stack.Model) (Query, error) {
	if !m.DriftEnabled() {
		return Query{}, fmt.Errorf("alert %s: kind %s needs drift configured on model %s (models[].drift)", a.Name, a.Kind, m.Name)
	}
	d := m.Drift
	sel := selector(map[string]string{stack.ModelLabel: m.Name}, "")
	minRows := strconv.Itoa(d.MinSamples)
	switch a.Kind {
	case stack.AlertFeatureDrift:
		on := " on (" + stack.ModelLabel + ", " + stack.LabelFeature + ") "
		v := "(" + stack.RecFeaturePSI + sel + " /" + on + stack.RecFeaturePSIThreshold + sel +
			" and" + on + stack.RecFeatureRows + sel + " >= " + minRows + ")"
		return Query{Value: v, Op: OpAbove, Threshold: 1}, nil
	case stack.AlertPredictionDrift:
		v := "(" + stack.RecPredictionPSI + sel + " / " + stack.RecPredictionPSIThreshold + sel +
			" and " + stack.RecPredictionRows + sel + " >= " + minRows + ")"
		return Query{Value: v, Op: OpAbove, Threshold: 1}, nil
	case stack.AlertConfidenceDrop:
		if !m.HasConfidenceBaseline() {
			return Query{}, fmt.Errorf("alert %s: the baseline of model %s has no prediction confidence (make it with stackgen baseline --predict)", a.Name, m.Name)
		}
		if a.Threshold == nil {
			return Query{}, fmt.Errorf("alert %s: kind %s needs a threshold", a.Name, a.Kind)
		}
		mean := formatFloat(d.Baseline.Prediction.Confidence.Mean)
		answers := "sum by (" + stack.ModelLabel + ") (increase(" + stack.MetricPredictionConfidence + "_count" + sel + "[" + d.Window.String() + "]))"
		v := "(" + mean + " - " + stack.RecPredictionConfidenceMean + sel + " and on (" + stack.ModelLabel + ") " + answers + " >= " + minRows + ")"
		return Query{Value: v, Op: OpAbove, Threshold: *a.Threshold}, nil
	}
	return Query{}, fmt.Errorf("alert %s: kind %s is not a drift kind", a.Name, a.Kind)
}

// driftLink is where a drift email points: the alert's panel of the model's
// Grafana dashboard ("Data drift" row, viewed alone by its fixed id
// stack.DriftPanelID), or without Grafana the Prometheus graph of the
// recorded PSI.
func driftLink(s *stack.Stack, a stack.Alert, m stack.Model) string {
	if s.Grafana.IsEnabled() {
		return s.GrafanaURL() + "/d/" + s.ModelDashboardUID(m) + "?viewPanel=" + strconv.Itoa(stack.DriftPanelID(a.Kind))
	}
	expr := stack.RecFeaturePSI
	switch a.Kind {
	case stack.AlertPredictionDrift:
		expr = stack.RecPredictionPSI
	case stack.AlertConfidenceDrop:
		expr = stack.RecPredictionConfidenceMean
	}
	expr += selector(map[string]string{stack.ModelLabel: m.Name}, "")
	return s.PrometheusURL() + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=0&g0.range_input=6h"
}

// promValue is a Prometheus template fetching one recorded value of the
// alert's model (and feature) formatted with format.
func promValue(record string, feature bool, format string) string {
	sel, args := "{model=%q}", "$labels.model"
	if feature {
		sel, args = "{model=%q,feature=%q}", "$labels.model $labels.feature"
	}
	return `{{ with printf "` + record + escape(sel) + `" ` + args + ` | query }}{{ . | first | value | printf "` + format + `" }}{{ end }}`
}

// escape makes s the body of a Go template string literal ("…"): quotes
// and backslashes escaped.
func escape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// promTopBins lists the 3 bins (classes) with the largest PSI terms, with
// expected and actual share, as a Prometheus template.
func promTopBins(term, share, expected, key string, feature bool) string {
	sel, args := "{model=%q}", "$labels.model"
	if feature {
		sel, args = "{model=%q,feature=%q}", "$labels.model $labels.feature"
	}
	binSel := escape(sel[:len(sel)-1] + "," + key + "=%q}")
	binArgs := args + " .Labels." + key
	return `{{ range printf "sort_desc(topk(3, ` + term + escape(sel) + `))" ` + args + ` | query }}` +
		`{{ .Labels.` + key + ` }}: expected {{ with printf "max(` + expected + binSel + `)" ` + binArgs + ` | query }}{{ . | first | value | humanizePercentage }}{{ end }}` +
		`, actual {{ with printf "` + share + binSel + `" ` + binArgs + ` | query }}{{ . | first | value | humanizePercentage }}{{ end }}` +
		` (PSI term {{ printf "%.3f" .Value }}); {{ end }}`
}

// grafanaValue formats $values.<ref>.Value when the rule has that query.
func grafanaValue(ref, format string) string {
	return `{{ with $values.` + ref + ` }}{{ printf "` + format + `" .Value }}{{ end }}`
}

// driftSummary is the summary of a drift rule; grafana selects Grafana's
// template data ($values of the extra queries) over Prometheus' query function.
func (r Rule) driftSummary(grafana bool) string {
	w := r.Alert.Window.String()
	if r.DriftWindow != "" {
		w = r.DriftWindow
	}
	switch r.Alert.Kind {
	case stack.AlertFeatureDrift:
		if grafana {
			return "model {{ $labels.model }}: feature {{ $labels.feature }} drifted: PSI " + grafanaValue(RefDriftPSI, "%.3f") +
				" above its effective threshold " + grafanaValue(RefDriftThreshold, "%.3f") + " (" + grafanaValue(RefDriftRows, "%.0f") + " rows in the last " + w + ")"
		}
		return "model {{ $labels.model }}: feature {{ $labels.feature }} drifted: PSI " + promValue(stack.RecFeaturePSI, true, "%.3f") +
			" above its effective threshold " + promValue(stack.RecFeaturePSIThreshold, true, "%.3f") +
			" (" + promValue(stack.RecFeatureRows, true, "%.0f") + " rows in the last " + w + ")"
	case stack.AlertPredictionDrift:
		if grafana {
			return "model {{ $labels.model }}: the predicted-class mix drifted: PSI " + grafanaValue(RefDriftPSI, "%.3f") +
				" above its effective threshold " + grafanaValue(RefDriftThreshold, "%.3f") + " (" + grafanaValue(RefDriftRows, "%.0f") + " predictions in the last " + w + ")"
		}
		return "model {{ $labels.model }}: the predicted-class mix drifted: PSI " + promValue(stack.RecPredictionPSI, false, "%.3f") +
			" above its effective threshold " + promValue(stack.RecPredictionPSIThreshold, false, "%.3f") +
			" (" + promValue(stack.RecPredictionRows, false, "%.0f") + " predictions in the last " + w + ")"
	}
	// confidence_drop
	mean := promValue(stack.RecPredictionConfidenceMean, false, "%.3f")
	if grafana {
		mean = grafanaValue(RefDriftPSI, "%.3f")
	}
	return "model {{ $labels.model }}: mean top-class confidence " + mean + " over the last " + w + " is more than " +
		formatFloat(r.Query.Threshold) + " below the baseline's " + formatFloat(r.ConfidenceBaseline)
}

// driftDescription is the description of a drift rule: what it measures,
// the bins that moved most (Prometheus only: Grafana templates cannot
// query) and the link to the panel.
func (r Rule) driftDescription(grafana bool) string {
	w := r.DriftWindow
	switch r.Alert.Kind {
	case stack.AlertFeatureDrift:
		d := "PSI of the feature's bin shares over the last " + w + " against the baseline, above max(drift.threshold, χ²·(1/N + 1/M)) for " + forString(r) +
			" with at least " + strconv.Itoa(r.MinSamples) + " rows. "
		if !grafana {
			d += "Bins that moved most: " + promTopBins(stack.RecFeatureBinPSI, stack.RecFeatureBinShare, stack.MetricFeatureBaselineRatio, stack.LabelBin, true)
		}
		return d + "Panel: " + r.Link
	case stack.AlertPredictionDrift:
		d := "PSI of the predicted-class mix over the last " + w + " against the baseline, above its effective threshold for " + forString(r) +
			" with at least " + strconv.Itoa(r.MinSamples) + " predictions. "
		if !grafana {
			d += "Classes that moved most: " + promTopBins(stack.RecPredictionClassPSI, stack.RecPredictionClassShare, stack.MetricPredictionBaselineRatio, stack.LabelClass, false)
		}
		return d + "Panel: " + r.Link
	}
	return "Mean top-class probability over the last " + w + " against the baseline's mean (" + formatFloat(r.ConfidenceBaseline) +
		"): for a calibrated model, a label-free estimate of accuracy. Panel: " + r.Link
}

func forString(r Rule) string {
	if r.Alert.For == nil {
		return "0s"
	}
	return r.Alert.For.String()
}

// driftExtraQueries are the instant queries a Grafana drift rule carries
// for its annotations, by refId.
func (r Rule) driftExtraQueries() [][2]string {
	sel := selector(map[string]string{stack.ModelLabel: r.Model}, "")
	switch r.Alert.Kind {
	case stack.AlertFeatureDrift:
		return [][2]string{{RefDriftPSI, stack.RecFeaturePSI + sel}, {RefDriftThreshold, stack.RecFeaturePSIThreshold + sel}, {RefDriftRows, stack.RecFeatureRows + sel}}
	case stack.AlertPredictionDrift:
		return [][2]string{{RefDriftPSI, stack.RecPredictionPSI + sel}, {RefDriftThreshold, stack.RecPredictionPSIThreshold + sel}, {RefDriftRows, stack.RecPredictionRows + sel}}
	case stack.AlertConfidenceDrop:
		return [][2]string{{RefDriftPSI, stack.RecPredictionConfidenceMean + sel}}
	}
	return nil
}
