package stack

import (
	"sort"
	"time"
)

// Built-in alert kinds. Thresholds use one unit per kind whatever the source:
// seconds for latency (TF Serving's microseconds are converted), requests per
// second for rates, a 0–1 fraction for ratios, MB for memory, cores for CPU.
const (
	AlertRequestRateHigh = "request_rate_high"
	AlertLatencyP95High  = "latency_p95_high"
	AlertLatencyP99High  = "latency_p99_high"
	AlertErrorRatioHigh  = "error_ratio_high"
	AlertTargetDown      = "target_down"
	AlertLowTraffic      = "low_traffic"
	AlertTrafficSpike    = "traffic_spike"
	AlertMemoryHigh      = "memory_high"
	AlertCPUHigh         = "cpu_high"
	AlertCustom          = "custom"
)

// AlertKind describes what a built-in alert kind needs and where it applies.
type AlertKind struct {
	// Name of the kind.
	Name string
	// Unit of the threshold, for messages and docs ("" when the kind has none).
	Unit string
	// NeedsThreshold is true when the kind compares against a threshold.
	NeedsThreshold bool
	// NeedsFactor is true for traffic_spike.
	NeedsFactor bool
	// UsesWindow is true when the kind has a rate or quantile window.
	UsesWindow bool
	// Sources the kind can be computed on.
	Sources []string
	// Description for docs and the JSON schema.
	Description string
}

// AlertKinds is the catalog of built-in alert kinds, by name.
var AlertKinds = map[string]AlertKind{
	AlertRequestRateHigh: {Name: AlertRequestRateHigh, Unit: "req/s", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter, SourceModelServer}, Description: "request rate above threshold"},
	AlertLatencyP95High:  {Name: AlertLatencyP95High, Unit: "s", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter, SourceModelServer}, Description: "p95 latency above threshold (seconds)"},
	AlertLatencyP99High:  {Name: AlertLatencyP99High, Unit: "s", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter, SourceModelServer}, Description: "p99 latency above threshold (seconds)"},
	AlertErrorRatioHigh:  {Name: AlertErrorRatioHigh, Unit: "ratio", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter, SourceModelServer}, Description: "share of failed requests above threshold (0–1)"},
	AlertTargetDown:      {Name: AlertTargetDown, Sources: []string{SourceExporter, SourceModelServer}, Description: "scrape target down"},
	AlertLowTraffic:      {Name: AlertLowTraffic, Unit: "req/s", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter, SourceModelServer}, Description: "request rate below threshold"},
	AlertTrafficSpike:    {Name: AlertTrafficSpike, Unit: "×", NeedsFactor: true, Sources: []string{SourceExporter, SourceModelServer}, Description: "rate over 1m above factor × rate over 15m"},
	AlertMemoryHigh:      {Name: AlertMemoryHigh, Unit: "MB", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter}, Description: "exporter resident memory above threshold (MB)"},
	AlertCPUHigh:         {Name: AlertCPUHigh, Unit: "cores", NeedsThreshold: true, UsesWindow: true, Sources: []string{SourceExporter}, Description: "exporter CPU above threshold (cores)"},
	AlertFeatureDrift:    {Name: AlertFeatureDrift, Unit: "PSI", Sources: []string{SourceExporter}, Description: "a feature's PSI over drift.window above its effective threshold (drift.threshold, raised for small windows) with at least drift.min_samples rows; models with drift only"},
	AlertPredictionDrift: {Name: AlertPredictionDrift, Unit: "PSI", Sources: []string{SourceExporter}, Description: "the predicted-class mix's PSI over drift.window above its effective threshold with at least drift.min_samples predictions; models with drift only"},
	AlertConfidenceDrop:  {Name: AlertConfidenceDrop, Unit: "probability", NeedsThreshold: true, Sources: []string{SourceExporter}, Description: "mean top-class probability over drift.window below the baseline's mean minus threshold (default 0.1); models whose baseline has a confidence"},
	AlertCustom:          {Name: AlertCustom, Sources: []string{SourceExporter, SourceModelServer}, Description: "custom PromQL expression; fires when it returns a series"},
}

// AlertKindNames lists the built-in kinds in sorted order.
func AlertKindNames() []string {
	names := make([]string, 0, len(AlertKinds))
	for n := range AlertKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func f(v float64) *float64 { return &v }

func d(v time.Duration) *Duration { x := Duration(v); return &x }

// DefaultAlerts is the default alert set applied to every model unless
// alerting.defaults is false. Alerts with source model_server apply only to
// models that export TF Serving metrics.
func DefaultAlerts() []Alert {
	return []Alert{
		{Name: "high_request_rate", Kind: AlertRequestRateHigh, Source: SourceExporter, Threshold: f(50), Window: Duration(time.Minute), For: d(time.Minute), Severity: "warning"},
		{Name: "high_latency_p95", Kind: AlertLatencyP95High, Source: SourceExporter, Threshold: f(0.5), Window: Duration(5 * time.Minute), For: d(2 * time.Minute), Severity: "warning"},
		{Name: "high_error_ratio", Kind: AlertErrorRatioHigh, Source: SourceExporter, Threshold: f(0.05), Window: Duration(5 * time.Minute), For: d(time.Minute), Severity: "critical"},
		{Name: "exporter_down", Kind: AlertTargetDown, Source: SourceExporter, For: d(time.Minute), Severity: "critical"},
		{Name: "high_memory", Kind: AlertMemoryHigh, Source: SourceExporter, Threshold: f(512), Window: Duration(5 * time.Minute), For: d(5 * time.Minute), Severity: "warning"},
		{Name: "high_cpu", Kind: AlertCPUHigh, Source: SourceExporter, Threshold: f(0.8), Window: Duration(5 * time.Minute), For: d(5 * time.Minute), Severity: "warning"},
		{Name: "tf_high_latency_p99", Kind: AlertLatencyP99High, Source: SourceModelServer, Threshold: f(1), Window: Duration(5 * time.Minute), For: d(2 * time.Minute), Severity: "warning"},
		{Name: "tf_low_traffic", Kind: AlertLowTraffic, Source: SourceModelServer, Threshold: f(0.01), Window: Duration(5 * time.Minute), For: d(10 * time.Minute), Severity: "info"},
		{Name: "tf_traffic_spike", Kind: AlertTrafficSpike, Source: SourceModelServer, Factor: f(3), For: d(2 * time.Minute), Severity: "warning"},
	}
}

// defaultAlerts is DefaultAlerts plus the drift alerts when a model has
// drift configured.
func (s *Stack) defaultAlerts() []Alert {
	out := DefaultAlerts()
	if s.anyDrift() {
		out = append(out, driftAlerts()...)
	}
	return out
}

// EffectiveAlerts merges the default alert set (when on; with the drift
// alerts when a model has drift configured) with stack.yaml's
// alerts: an alert whose name matches a default overrides the fields it sets;
// disabled alerts are dropped. The result is in a stable order: defaults
// first in catalog order, then user alerts in file order.
func (s *Stack) EffectiveAlerts() []Alert {
	var out []Alert
	byName := map[string]int{}
	if s.Alerting.DefaultsEnabled() {
		for _, d := range s.defaultAlerts() {
			byName[d.Name] = len(out)
			out = append(out, d)
		}
	}
	for _, a := range s.Alerts {
		i, ok := byName[a.Name]
		if !ok {
			byName[a.Name] = len(out)
			out = append(out, a)
			continue
		}
		out[i] = overlay(out[i], a)
	}
	kept := out[:0]
	for _, a := range out {
		if a.Severity == "" {
			a.Severity = "warning"
		}
		if a.Source == "" {
			a.Source = SourceExporter
		}
		if a.Window == 0 && AlertKinds[a.Kind].UsesWindow {
			a.Window = Duration(5 * time.Minute)
		}
		if a.For == nil {
			a.For = d(time.Minute)
		}
		if a.IsEnabled() {
			kept = append(kept, a)
		}
	}
	return kept
}

// overlay returns base with every field o sets replaced.
func overlay(base, o Alert) Alert {
	if o.Kind != "" {
		base.Kind = o.Kind
	}
	if o.Model != "" {
		base.Model = o.Model
	}
	if o.Source != "" {
		base.Source = o.Source
	}
	if o.Threshold != nil {
		base.Threshold = o.Threshold
	}
	if o.Factor != nil {
		base.Factor = o.Factor
	}
	if o.Window != 0 {
		base.Window = o.Window
	}
	if o.For != nil {
		base.For = o.For
	}
	if o.Severity != "" {
		base.Severity = o.Severity
	}
	if o.Enabled != nil {
		base.Enabled = o.Enabled
	}
	if o.Expr != "" {
		base.Expr = o.Expr
	}
	if o.Summary != "" {
		base.Summary = o.Summary
	}
	return base
}

// ModelsFor returns the models an alert applies to: its model, or every model
// whose metrics include the alert's source.
func (s *Stack) ModelsFor(a Alert) []Model {
	var out []Model
	for _, m := range s.Models {
		if a.Model != "" && a.Model != m.Name {
			continue
		}
		if a.Source == SourceModelServer && !m.ExportsTFServingMetrics() {
			continue
		}
		if isDriftKind(a.Kind) && !driftApplies(a.Kind, m) {
			continue
		}
		out = append(out, m)
	}
	return out
}
