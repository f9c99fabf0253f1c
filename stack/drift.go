package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/model"
)

// Drift defaults and limits.
const (
	DefaultDriftWindow     = time.Hour
	DefaultDriftThreshold  = 0.2
	DefaultDriftMinSamples = 200
	DefaultDriftConfidence = 0.999
	// DefaultConfidenceDrop is the default threshold of confidence_drop: the
	// mean top-class probability falling this far below the baseline's.
	DefaultConfidenceDrop = 0.1
	// MinDriftWindow is the shortest drift.window.
	MinDriftWindow = time.Minute
	// DriftFor is how long a drift condition holds before the default drift
	// alerts fire.
	DriftFor = 10 * time.Minute
)

// ExporterBaselinePath is where the exporter container reads its model's
// baseline (the exporter's --baseline flag); compose and kubernetes mount
// the deploy folder's BaselineFile there read-only.
const ExporterBaselinePath = "/etc/stackgen/baseline.json"

// Drift turns on data drift monitoring for a model: the exporter counts
// input feature values and predictions in the baseline's bins and
// Prometheus compares the shares over a window with the baseline (PSI).
type Drift struct {
	// Baseline is the baseline file made by 'stackgen baseline', relative to stack.yaml (kind demo: the demo model's own baseline by default).
	File string `yaml:"baseline,omitempty" json:"baseline,omitempty"`
	// Features limits drift to these features of the baseline (default: all).
	Features []string `yaml:"features,omitempty" json:"features,omitempty"`
	// Window over which the actual shares are computed (default 1h; at least 1m).
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Threshold is the PSI above which a feature drifts (default 0.2); small windows raise it by their noise level.
	Threshold float64 `yaml:"threshold,omitempty" json:"threshold,omitempty" jsonschema:"exclusiveMinimum=0"`
	// MinSamples is the fewest rows in the window before a drift alert may fire (default 200).
	MinSamples int `yaml:"min_samples,omitempty" json:"min_samples,omitempty" jsonschema:"minimum=1"`
	// Confidence of the noise correction of the threshold, split over the features (default 0.999; 0.5 to below 1).
	Confidence float64 `yaml:"confidence,omitempty" json:"confidence,omitempty" jsonschema:"minimum=0.5,exclusiveMaximum=1"`

	// Baseline is the loaded baseline, limited to Features; set by Load,
	// Parse and Validate.
	Baseline *baseline.Baseline `yaml:"-" json:"-"`
}

// DriftEnabled reports whether drift is configured for the model and its
// baseline is loaded (Load, Parse and Validate load it).
func (m Model) DriftEnabled() bool { return m.Drift != nil && m.Drift.Baseline != nil }

// BaselineFile is the deploy-folder-relative path of the model's baseline
// (written by the drift renderer, mounted into the exporter).
func (m Model) BaselineFile() string { return "exporter/" + m.Name + ".baseline.json" }

// HasConfidenceBaseline reports whether the model's baseline has a mean
// top-class confidence (confidence_drop applies).
func (m Model) HasConfidenceBaseline() bool {
	return m.DriftEnabled() && m.Drift.Baseline.Prediction != nil && m.Drift.Baseline.Prediction.Confidence != nil
}

// HasPredictionBaseline reports whether the model's baseline has an expected
// prediction mix (prediction_drift applies).
func (m Model) HasPredictionBaseline() bool {
	return m.DriftEnabled() && m.Drift.Baseline.Prediction != nil
}

func (d *Drift) applyDefaults() {
	if d.Window == 0 {
		d.Window = Duration(DefaultDriftWindow)
	}
	if d.Threshold == 0 {
		d.Threshold = DefaultDriftThreshold
	}
	if d.MinSamples == 0 {
		d.MinSamples = DefaultDriftMinSamples
	}
	if d.Confidence == 0 {
		d.Confidence = DefaultDriftConfidence
	}
}

// driftZeros reports drift numbers written as 0 (a 0 is not "the default").
func driftZeros(v *validator, p string, d *Drift, set func(string) bool) {
	if d == nil {
		return
	}
	if d.Window == 0 && set(p+".window") {
		v.add(p+".window", "must be at least %s (got 0s); remove the line for the default %s", Duration(MinDriftWindow), Duration(DefaultDriftWindow))
	}
	if d.Threshold == 0 && set(p+".threshold") {
		v.add(p+".threshold", "must be > 0 (got 0); remove the line for the default %g", DefaultDriftThreshold)
	}
	if d.MinSamples == 0 && set(p+".min_samples") {
		v.add(p+".min_samples", "must be >= 1 (got 0); remove the line for the default %d", DefaultDriftMinSamples)
	}
	if d.Confidence == 0 && set(p+".confidence") {
		v.add(p+".confidence", "must be between 0.5 and 1 (got 0); remove the line for the default %g", DefaultDriftConfidence)
	}
}

// drift checks a model's drift section and loads its baseline into
// m.Drift.Baseline (nil when it cannot be loaded).
func (v *validator) drift(s *Stack, p string, m *Model) {
	d := m.Drift
	if d == nil {
		return
	}
	d.Baseline = nil
	p += ".drift"
	if d.Window < Duration(MinDriftWindow) {
		v.add(p+".window", "must be at least %s (got %s), e.g. window: 1h", Duration(MinDriftWindow), d.Window)
	} else if d.Window < 2*s.Prometheus.ScrapeInterval {
		v.add(p+".window", "must be at least twice prometheus.scrape_interval (%s) (got %s)", s.Prometheus.ScrapeInterval, d.Window)
	}
	if d.Threshold <= 0 {
		v.add(p+".threshold", "must be > 0, a PSI such as 0.2 (got %g)", d.Threshold)
	}
	if d.MinSamples < 1 {
		v.add(p+".min_samples", "must be >= 1 (got %d)", d.MinSamples)
	}
	if d.Confidence < 0.5 || d.Confidence >= 1 {
		v.add(p+".confidence", "must be at least 0.5 and below 1, e.g. 0.999 (got %g)", d.Confidence)
	}
	seen := map[string]bool{}
	for i, f := range d.Features {
		if seen[f] {
			v.add(fmt.Sprintf("%s.features[%d]", p, i), "%q is listed twice", f)
		}
		seen[f] = true
	}
	b, ok := v.loadBaseline(s, p, m)
	if !ok {
		return
	}
	var names []string
	for i, f := range d.Features {
		if b.Feature(f) == nil {
			msg := fmt.Sprintf("%q is not a feature of the baseline (it has %s)", f, strings.Join(featureNames(b), ", "))
			if sg := suggest(f, featureNames(b)); sg != "" {
				msg += fmt.Sprintf("; did you mean %q?", sg)
			}
			v.add(fmt.Sprintf("%s.features[%d]", p, i), "%s", msg)
			continue
		}
		names = append(names, f)
	}
	if len(names) < len(d.Features) {
		return
	}
	sel, err := b.Select(names)
	if err != nil {
		v.add(p+".features", "%v", err)
		return
	}
	d.Baseline = sel
}

// loadBaseline reads the drift baseline of m: drift.baseline, or the demo
// model's own for kind demo.
func (v *validator) loadBaseline(s *Stack, p string, m *Model) (*baseline.Baseline, bool) {
	d := m.Drift
	if d.File == "" {
		if m.Kind != KindDemo {
			v.add(p+".baseline", "is required for kind %s: a baseline file made with 'stackgen baseline --data train.csv --target COLUMN -o baseline.json' (relative to stack.yaml)", m.Kind)
			return nil, false
		}
		b, err := model.DefaultBaseline()
		if err != nil {
			v.add(p+".baseline", "%v", err)
			return nil, false
		}
		return b, true
	}
	path := d.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.Dir(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			v.add(p+".baseline", "file %q does not exist (relative to stack.yaml); make it with 'stackgen baseline --data train.csv -o %s'", d.File, d.File)
		} else {
			v.add(p+".baseline", "cannot read %q: %v", d.File, err)
		}
		return nil, false
	}
	b, err := baseline.Parse(data)
	if err != nil {
		v.add(p+".baseline", "%s: %v", d.File, err)
		return nil, false
	}
	if m.Kind == KindDemo {
		// The demo model's inputs are fixed: a baseline of other columns
		// would bin nothing (by name) or the wrong values (by position).
		if want := model.Default().Features; !slices.Equal(b.Columns, want) {
			v.add(p+".baseline", "%s: columns (%s) are not the demo model's inputs (%s, in this order); remove drift.baseline for the demo's own baseline, or make one from the demo's data with 'stackgen baseline --data attrition.csv --target %s'",
				d.File, strings.Join(b.Columns, ", "), strings.Join(want, ", "), model.AttritionTarget)
			return nil, false
		}
	}
	return b, true
}

func featureNames(b *baseline.Baseline) []string {
	out := make([]string, len(b.Features))
	for i, f := range b.Features {
		out[i] = f.Name
	}
	return out
}

// driftAlerts is the default drift alert set, applied to the models with
// drift configured.
func driftAlerts() []Alert {
	return []Alert{
		{Name: AlertFeatureDrift, Kind: AlertFeatureDrift, Source: SourceExporter, For: d(DriftFor), Severity: "warning"},
		{Name: AlertPredictionDrift, Kind: AlertPredictionDrift, Source: SourceExporter, For: d(DriftFor), Severity: "warning"},
		{Name: AlertConfidenceDrop, Kind: AlertConfidenceDrop, Source: SourceExporter, Threshold: f(DefaultConfidenceDrop), For: d(DriftFor), Severity: "warning"},
	}
}

// anyDrift reports whether some model has drift configured.
func (s *Stack) anyDrift() bool {
	for _, m := range s.Models {
		if m.Drift != nil {
			return true
		}
	}
	return false
}

// isDriftKind reports whether kind is computed from drift series.
func isDriftKind(kind string) bool {
	return kind == AlertFeatureDrift || kind == AlertPredictionDrift || kind == AlertConfidenceDrop
}

// driftApplies reports whether a drift alert kind applies to m.
func driftApplies(kind string, m Model) bool {
	switch kind {
	case AlertFeatureDrift:
		return m.DriftEnabled() && len(m.Drift.Baseline.Features) > 0
	case AlertPredictionDrift:
		return m.HasPredictionBaseline() && m.Drift.Baseline.Prediction.Kind == baseline.PredictionClass
	case AlertConfidenceDrop:
		return m.HasConfidenceBaseline()
	}
	return true
}

// driftNeeds says what else a drift alert kind needs from the baseline.
func driftNeeds(kind string) string {
	switch kind {
	case AlertPredictionDrift:
		return " whose baseline has a class mix: --target or --predict"
	case AlertConfidenceDrop:
		return " whose baseline has a confidence: --predict on a model returning class probabilities"
	}
	return ""
}
