package dashboards

import (
	"fmt"

	"github.com/grafana-tools/sdk"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/stack"
)

// DriftRowTitle is the title of the row a model with drift configured gets.
const DriftRowTitle = "Data drift"

// ShareTitle is the title of the bar chart comparing a feature's actual
// share per bin with the baseline's.
func ShareTitle(feature string) string { return "Share per bin — " + feature }

// PredictionShareTitle is the title of the bar chart comparing the
// predicted-class mix with the baseline's.
const PredictionShareTitle = "Prediction mix vs baseline"

// Legends of the bar charts' two queries (A actual, B baseline). Prometheus
// table results name their value columns "Value #<refId>" when a panel has
// several queries (see the Merge example of Grafana's transformation docs:
// "Time | Job | Value #A"); overrides show them as these names after the merge.
const (
	legendActual   = "actual"
	legendBaseline = "baseline"
)

// driftRow adds the "Data drift" row of model m, whose loaded and
// feature-filtered baseline is b: PSI per feature against its effective
// threshold; actual vs baseline share per bin of each feature (bar charts of
// two instant table queries merged on "bin"); missing and out-of-range
// shares; the predicted-class mix vs the baseline and its PSI; and mean
// confidence vs the baseline's when the baseline has it.
//
// Recorded series (stack.Rec*) carry the model label but no job (the
// recording rules aggregate by model, feature, bin); the exporter's own
// series are selected like every other panel, by job and model.
func driftRow(s *stack.Stack, l *layout, m stack.Model, b *baseline.Baseline) {
	sel := exporterSelector(s, m.Name)
	rec := selector{eq(stack.ModelLabel, m.Name)}
	byFeature := "{{" + stack.LabelFeature + "}}"
	l.row(DriftRowTitle)
	if len(b.Features) > 0 {
		l.timeseries(spec{title: "Feature drift (PSI)",
			description: "Population stability index of each feature over the drift window, against the baseline; " +
				"dashed: its effective threshold max(threshold, χ²·(1/N + 1/M)), which is higher while the window holds few rows. " +
				"The " + stack.AlertFeatureDrift + " alert fires when PSI stays above it.",
			unit: "short", min: floatp(0), queries: []series{
				{fmt.Sprintf(`%s{%s}`, stack.RecFeaturePSI, rec), byFeature},
				{fmt.Sprintf(`%s{%s}`, stack.RecFeaturePSIThreshold, rec), byFeature + " threshold"},
			}, w: 12, h: 8})
		dashed(l, "B")
		fixID(l, stack.PanelFeatureDriftPSI)
		rows := fmt.Sprintf(`sum(rate(%s_sum{%s}[5m]))`, "model_request_rows", sel)
		share := func(metric string) string {
			return fmt.Sprintf(`sum by (%s) (rate(%s{%s}[5m])) / on() group_left() %s`, stack.LabelFeature, metric, sel, rows)
		}
		l.timeseries(spec{title: "Missing and out-of-range values",
			description: "Share of input rows (5m) whose value of a feature was missing or null, or outside the training range " +
				"(or not a number in a numeric feature).",
			unit: "percentunit", decimals: intp(2), min: floatp(0), queries: []series{
				{share(stack.MetricFeatureMissing), byFeature + " missing"},
				{share(stack.MetricFeatureOutOfRange), byFeature + " out of range"},
			}, w: 12, h: 8})
		for _, f := range b.Features {
			fsel := rec.with(eq(stack.LabelFeature, f.Name))
			l.barchart(spec{title: ShareTitle(f.Name),
				description: fmt.Sprintf("Share of rows per bin of feature %q over the drift window (actual) and in the training data (baseline).", f.Name),
				unit:        "percentunit", min: floatp(0), queries: []series{
					{fmt.Sprintf(`sum by (%s) (%s{%s})`, stack.LabelBin, stack.RecFeatureBinShare, fsel), legendActual},
					{fmt.Sprintf(`max by (%s) (%s{%s})`, stack.LabelBin, stack.MetricFeatureBaselineRatio, sel.with(eq(stack.LabelFeature, f.Name))), legendBaseline},
				}, w: 8, h: 8}, stack.LabelBin)
		}
	}
	p := b.Prediction
	if p == nil || p.Kind != baseline.PredictionClass {
		return
	}
	l.newline()
	l.timeseries(spec{title: "Prediction drift (PSI)",
		description: "Population stability index of the predicted-class mix over the drift window; dashed: its effective threshold. " +
			"The " + stack.AlertPredictionDrift + " alert fires when PSI stays above it.",
		unit: "short", min: floatp(0), queries: []series{
			{fmt.Sprintf(`%s{%s}`, stack.RecPredictionPSI, rec), "PSI"},
			{fmt.Sprintf(`%s{%s}`, stack.RecPredictionPSIThreshold, rec), "threshold"},
		}, w: 8, h: 8})
	dashed(l, "B")
	fixID(l, stack.PanelPredictionDriftPSI)
	l.barchart(spec{title: PredictionShareTitle,
		description: "Share of predictions per class over the drift window (actual) and on the training data (baseline).",
		unit:        "percentunit", min: floatp(0), queries: []series{
			{fmt.Sprintf(`sum by (%s) (%s{%s})`, stack.LabelClass, stack.RecPredictionClassShare, rec), legendActual},
			{fmt.Sprintf(`max by (%s) (%s{%s})`, stack.LabelClass, stack.MetricPredictionBaselineRatio, sel), legendBaseline},
		}, w: 8, h: 8}, stack.LabelClass)
	if p.Confidence == nil {
		return
	}
	l.timeseries(spec{title: "Mean confidence vs baseline",
		description: "Mean top-class probability over the drift window against the training data's: for a calibrated model, " +
			"a label-free estimate of accuracy. The " + stack.AlertConfidenceDrop + " alert fires 0.1 below the baseline.",
		unit: "percentunit", decimals: intp(3), min: floatp(0), max: floatp(1), queries: []series{
			{fmt.Sprintf(`%s{%s}`, stack.RecPredictionConfidenceMean, rec), "mean confidence"},
			{fmt.Sprintf(`max(%s{%s})`, stack.MetricPredictionConfidenceBaseline, sel), legendBaseline},
		}, w: 8, h: 8})
	dashed(l, "B")
	fixID(l, stack.PanelConfidenceMean)
}

// fixID gives the last panel the fixed id id (stack.Panel*), the one drift
// alert emails link to with ?viewPanel=<id>.
func fixID(l *layout, id uint) {
	l.d.Panels[len(l.d.Panels)-1].(*vizPanel).ID = id
}

// dashed draws the series of query refID of the last panel as a dashed
// line (threshold and baseline lines).
func dashed(l *layout, refID string) {
	p := l.d.Panels[len(l.d.Panels)-1].(*vizPanel)
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
		Matcher: matcher{ID: "byFrameRefID", Options: refID},
		Properties: []dynamicConfig{{ID: "custom.lineStyle", Value: map[string]any{
			"fill": "dash", "dash": []int{10, 10},
		}}},
	})
}

// barchart adds a bar chart of the instant table queries of sp, merged into
// one table on xField (the label every query aggregates by), one bar per
// query and xField value. Query i's value column "Value #<refId>" is shown
// as its legend.
func (l *layout) barchart(sp spec, xField string) {
	p := l.viz(sp, &barchartOptions{
		XField:              xField,
		Orientation:         "auto",
		ShowValue:           "never",
		Stacking:            "none",
		GroupWidth:          0.7,
		BarWidth:            0.9,
		XTickLabelRotation:  -45,
		XTickLabelMaxLength: 16,
		Legend: legendOptions{
			TimeseriesLegendOptions: sdk.TimeseriesLegendOptions{Calcs: []string{}, DisplayMode: "list", Placement: "bottom"},
			ShowLegend:              true,
		},
		Tooltip: tooltipOptions{TimeseriesTooltipOptions: sdk.TimeseriesTooltipOptions{Mode: "multi"}, Sort: "none"},
	})
	p.FieldConfig.Defaults.Color = sdk.FieldConfigColor{Mode: "palette-classic"}
	p.FieldConfig.Defaults.Custom = &barchartCustom{
		LineWidth:     1,
		FillOpacity:   80,
		GradientMode:  "none",
		AxisPlacement: "auto",
		AxisSoftMin:   floatp(0),
	}
	p.Transformations = []transformation{{ID: "merge", Options: map[string]any{}}}
	for i := range p.Targets {
		t := &p.Targets[i]
		t.Range, t.Instant, t.Format = false, true, "table"
		p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, override{
			Matcher:    matcher{ID: "byName", Options: "Value #" + t.RefID},
			Properties: []dynamicConfig{{ID: "displayName", Value: t.LegendFormat}},
		})
	}
}
