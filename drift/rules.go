package drift

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/stack"
)

// RuleFile is a Prometheus rule file of recording rules.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is a Prometheus rule group.
type RuleGroup struct {
	Name     string          `yaml:"name"`
	Interval string          `yaml:"interval,omitempty"`
	Rules    []RecordingRule `yaml:"rules"`
}

// RecordingRule is a Prometheus recording rule.
type RecordingRule struct {
	Record string            `yaml:"record"`
	Expr   string            `yaml:"expr"`
	Labels map[string]string `yaml:"labels,omitempty"`
}

// GroupName is the rule group of model's drift rules.
func GroupName(model string) string { return "stackgen-drift-" + model }

// Group builds the recording rules of one model (see the package doc); the
// group is evaluated every interval. Every division is by a row count kept
// only when positive and every logarithm is of shares floored at Epsilon,
// so no rule yields NaN or Inf, and a window without rows yields no series.
func Group(sp Spec, interval time.Duration) (RuleGroup, error) {
	if err := sp.check(); err != nil {
		return RuleGroup{}, err
	}
	sp = sp.withDefaults()
	b := sp.Baseline
	g := RuleGroup{Name: GroupName(sp.Model), Interval: stack.Duration(interval).String()}
	add := func(record, expr string) { g.Rules = append(g.Rules, RecordingRule{Record: record, Expr: expr}) }

	model := stack.ModelLabel + "=" + strconv.Quote(sp.Model)
	sel := "{" + model + "}"
	w := "[" + stack.Duration(sp.Window).String() + "]"
	eps := num(Epsilon)
	q := sp.Quantile()
	fixed := num(sp.Threshold)

	// psiTerm is (a − e)·ln(a / e) with both shares floored, matched on keys.
	psiTerm := func(actual, expected, keys string) string {
		a := "clamp_min(" + actual + ", " + eps + ")"
		e := "clamp_min(" + expected + ", " + eps + ")"
		on := " on (" + keys + ") "
		return "(" + a + " -" + on + e + ") *" + on + "ln(" + a + " /" + on + e + ")"
	}
	// threshold is max(fixed, K/N + K/M) with K = χ²_q(B−1).
	threshold := func(rows string, bins int, m float64) string {
		k := ChiSquare(q, bins)
		return "clamp_min(" + num(k) + " / " + rows + " + " + num(k/m) + ", " + fixed + ")"
	}

	if len(b.Features) > 0 {
		fk := stack.ModelLabel + ", " + stack.LabelFeature
		bk := fk + ", " + stack.LabelBin
		// Only the bins of the current baseline count: after a baseline
		// change the window still holds the replaced exporter's bins, whose
		// rows would add to N without a PSI term (a false drift).
		add(stack.RecFeatureBinRows, "sum by ("+bk+") (increase("+stack.MetricFeatureBin+sel+w+"))"+
			" and on ("+bk+") "+stack.MetricFeatureBaselineRatio+sel)
		add(stack.RecFeatureRows, "sum by ("+fk+") ("+stack.RecFeatureBinRows+sel+") > 0")
		add(stack.RecFeatureBinShare, stack.RecFeatureBinRows+sel+" / on ("+fk+") group_left () "+stack.RecFeatureRows+sel)
		add(stack.RecFeatureBinPSI, psiTerm(stack.RecFeatureBinShare+sel, "max by ("+bk+") ("+stack.MetricFeatureBaselineRatio+sel+")", bk))
		add(stack.RecFeaturePSI, "sum by ("+fk+") ("+stack.RecFeatureBinPSI+sel+")")
		for _, f := range b.Features {
			rows := stack.RecFeatureRows + "{" + model + "," + stack.LabelFeature + "=" + strconv.Quote(f.Name) + "}"
			add(stack.RecFeaturePSIThreshold, threshold(rows, len(f.Bins), baselineRows(b, f.Bins)))
		}
	}
	if p := classMix(b); p != nil {
		ck := stack.ModelLabel + ", " + stack.LabelClass
		// Counted classes: the current baseline's, and any other class the
		// running exporter still exports (a class the baseline does not know
		// is drift). A class only a replaced exporter counted (its labels came
		// from the previous baseline) is stale and not counted.
		counts := "(sum by (" + ck + ") (increase(" + MetricPredictions + sel + w + "))" +
			" and on (" + ck + ") (" + stack.MetricPredictionBaselineRatio + sel + " or " + MetricPredictions + sel + "))"
		expected := "max by (" + ck + ") (" + stack.MetricPredictionBaselineRatio + sel + ")"
		add(stack.RecPredictionRows, "sum by ("+stack.ModelLabel+") "+counts+" > 0")
		// A baseline class never predicted in the window has no counter
		// increase; it is a real zero share while the window has rows.
		add(stack.RecPredictionClassShare, "("+counts+" / on ("+stack.ModelLabel+") group_left () "+stack.RecPredictionRows+sel+")"+
			" or on ("+ck+") (0 * "+expected+" and on ("+stack.ModelLabel+") "+stack.RecPredictionRows+sel+")")
		// A class the baseline does not know is compared with a share of 0.
		add(stack.RecPredictionClassPSI, psiTerm(stack.RecPredictionClassShare+sel,
			"("+expected+" or on ("+ck+") (0 * "+stack.RecPredictionClassShare+sel+"))", ck))
		add(stack.RecPredictionPSI, "sum by ("+stack.ModelLabel+") ("+stack.RecPredictionClassPSI+sel+")")
		add(stack.RecPredictionPSIThreshold, threshold(stack.RecPredictionRows+sel, len(p.Bins), baselineRows(b, p.Bins)))
	}
	if b.Prediction != nil && b.Prediction.Confidence != nil {
		sum := func(suffix string) string {
			return "sum by (" + stack.ModelLabel + ") (increase(" + stack.MetricPredictionConfidence + suffix + sel + w + "))"
		}
		add(stack.RecPredictionConfidenceMean, sum("_sum")+" / ("+sum("_count")+" > 0)")
	}
	return g, nil
}

// MetricPredictions is the exporter's predicted-class counter
// (model_predictions_total{class}).
const MetricPredictions = "model_predictions_total"

// RulesPath is the rule file of model's drift rules, relative to the deploy
// folder (Prometheus loads rules/*.yml).
func RulesPath(model string) string { return "prometheus/rules/drift-" + model + ".yml" }

// BaselinePath is where model's filtered baseline is written, relative to the
// deploy folder (mounted read-only into its exporter).
func BaselinePath(model string) string { return "exporter/" + model + ".baseline.json" }

// Marshal encodes a rule file as YAML behind a header comment.
func Marshal(f RuleFile) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by stackgen from stack.yaml (models[].drift); edit stack.yaml and re-render instead.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode drift rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode drift rules: %w", err)
	}
	return b.Bytes(), nil
}

// num writes f in the shortest form PromQL reads back exactly.
func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
