// Package alerting renders stack.yaml's alert catalog for the chosen engine:
// Grafana unified-alerting file provisioning (contact point, notification
// policy, rule groups) or Prometheus rule files plus an Alertmanager
// configuration. Both engines share one catalog: Rules lists every alert
// instance (alert × model) with its PromQL, labels and annotations, and the
// renderers only change the format.
package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/stackgen/stackgen/stack"
)

// Label names set on every rendered alert.
const (
	LabelModel    = stack.ModelLabel
	LabelSeverity = "severity"
	LabelStack    = "stack"
)

// MaxUIDLength is the longest Grafana rule uid stackgen renders (Grafana's limit is 40).
const MaxUIDLength = 40

// uidRE is what a valid Grafana uid looks like.
var uidRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// ValidUID reports whether uid is a valid Grafana uid: 1–40 letters, digits, '-' or '_'.
func ValidUID(uid string) bool { return uidRE.MatchString(uid) }

// Rule is one alert instance: an alert of the catalog applied to one model
// (or, for a custom alert without a model, to the whole stack).
type Rule struct {
	// Alert is the effective alert (defaults and overrides merged).
	Alert stack.Alert
	// Model is the model the rule watches; empty for a stack-wide custom alert.
	Model string
	// Name is the Prometheus alert name (the alertname label): the alert's name.
	// Instances of one alert on several models share it and differ by the model label.
	Name string
	// Title is the Grafana rule title, unique in the folder: name_model.
	Title string
	// UID is the Grafana rule uid: stable, at most 40 of [A-Za-z0-9_-].
	UID string
	// Query is the value expression and its comparison.
	Query Query
	// Labels are the static labels: model (when known), severity and stack.
	Labels map[string]string

	// DriftWindow, MinSamples and ConfidenceBaseline are the model's
	// drift.window, drift.min_samples and baseline mean confidence (drift
	// kinds only), and Link the dashboard (or Prometheus graph) the
	// drift email points to.
	DriftWindow        string
	MinSamples         int
	ConfidenceBaseline float64
	Link               string
}

// Rules lists every alert instance of the stack in a stable order: effective
// alerts in catalog order, each over the models it applies to in file order.
func Rules(s *stack.Stack) ([]Rule, error) {
	var out []Rule
	uids := map[string]string{}
	titles := map[string]bool{}
	for _, a := range s.EffectiveAlerts() {
		var models []stack.Model
		if a.Kind == stack.AlertCustom && a.Model == "" {
			models = []stack.Model{{}} // one stack-wide rule
		} else {
			models = s.ModelsFor(a)
		}
		for _, m := range models {
			if a.Kind == stack.AlertPredictionDrift && !hasClassMix(m) {
				// The drift rules compare a predicted-class mix only; a
				// value prediction (regression) has no recorded PSI yet.
				continue
			}
			q, err := ValueQuery(s, a, m)
			if err != nil {
				return nil, fmt.Errorf("alerting: %w", err)
			}
			r := Rule{
				Alert:  a,
				Model:  m.Name,
				Name:   a.Name,
				Title:  title(a.Name, m.Name),
				UID:    ruleUID(s.Name, a.Name, m.Name),
				Query:  q,
				Labels: map[string]string{LabelSeverity: a.Severity, LabelStack: s.Name},
			}
			if m.Name != "" {
				r.Labels[LabelModel] = m.Name
			}
			if IsDriftKind(a.Kind) && m.DriftEnabled() {
				r.DriftWindow, r.MinSamples, r.Link = m.Drift.Window.String(), m.Drift.MinSamples, driftLink(s, a, m)
				if m.HasConfidenceBaseline() {
					r.ConfidenceBaseline = m.Drift.Baseline.Prediction.Confidence.Mean
				}
			}
			if prev, dup := uids[r.UID]; dup {
				return nil, fmt.Errorf("alerting: rules %s and %s have the same uid %s", prev, r.Title, r.UID)
			}
			uids[r.UID] = r.Title
			if titles[r.Title] {
				return nil, fmt.Errorf("alerting: two rules have the title %s; rename one of the alerts", r.Title)
			}
			titles[r.Title] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// title is the Grafana rule title: the alert name, suffixed with the model.
func title(alert, model string) string {
	if model == "" {
		return alert
	}
	return alert + "_" + strings.ReplaceAll(model, "-", "_")
}

// ruleUID is "<alert>-<model>" when that is a valid uid of at most 40
// characters; otherwise a truncated prefix plus a hash of the stack, alert
// and model names, so it stays stable and unique.
func ruleUID(stackName, alert, model string) string {
	uid := alert
	if model != "" {
		uid += "-" + model
	}
	if ValidUID(uid) {
		return uid
	}
	sum := sha256.Sum256([]byte(stackName + "\x00" + alert + "\x00" + model))
	h := hex.EncodeToString(sum[:])[:10]
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && uidRE.MatchString(string(r)) {
			return r
		}
		return '_'
	}, uid)
	if max := MaxUIDLength - len(h) - 1; len(clean) > max {
		clean = clean[:max]
	}
	return clean + "-" + h
}

// Summary returns the summary annotation of r: it names the model and the
// value. value is the template expression holding the value: "$value" in
// Prometheus, "$values.B.Value" in Grafana. A summary set in stack.yaml wins.
func (r Rule) Summary(value string) string {
	a := r.Alert
	if a.Summary != "" {
		return a.Summary
	}
	if IsDriftKind(a.Kind) {
		return r.driftSummary(strings.HasPrefix(value, "$values"))
	}
	unitOf := stack.AlertKinds[a.Kind].Unit
	num := "{{ printf \"%.3g\" " + value + " }}"
	thr := formatFloat(r.Query.Threshold)
	on := "model " + r.Model
	what := "exporter"
	if a.Source == stack.SourceModelServer {
		what = "model server"
	}
	switch a.Kind {
	case stack.AlertRequestRateHigh:
		return fmt.Sprintf("%s: request rate is %s %s (threshold %s %s)", on, num, unitOf, thr, unitOf)
	case stack.AlertLatencyP95High, stack.AlertLatencyP99High:
		p := "p95"
		if a.Kind == stack.AlertLatencyP99High {
			p = "p99"
		}
		return fmt.Sprintf("%s: %s latency is {{ humanizeDuration %s }} (threshold %ss)", on, p, value, thr)
	case stack.AlertErrorRatioHigh:
		return fmt.Sprintf("%s: %s of requests fail (threshold %s%%)", on, "{{ humanizePercentage "+value+" }}", formatFloat(r.Query.Threshold*100))
	case stack.AlertTargetDown:
		return fmt.Sprintf("%s: %s scrape target is down (up = %s)", on, what, num)
	case stack.AlertLowTraffic:
		return fmt.Sprintf("%s: request rate is %s %s, below %s %s", on, num, unitOf, thr, unitOf)
	case stack.AlertTrafficSpike:
		return fmt.Sprintf("%s: request rate over 1m is %s× the 15m average (factor %s)", on, num, thr)
	case stack.AlertMemoryHigh:
		return fmt.Sprintf("%s: %s resident memory is {{ printf \"%%.0f\" %s }} MB (threshold %s MB)", on, what, value, thr)
	case stack.AlertCPUHigh:
		return fmt.Sprintf("%s: %s CPU is %s cores (threshold %s cores)", on, what, num, thr)
	}
	// custom
	model := r.Model
	if model == "" {
		model = "{{ with $labels.model }}{{ . }}{{ else }}(all){{ end }}"
	}
	return fmt.Sprintf("%s on model %s: value %s", a.Name, model, num)
}

// GrafanaDescription is Description in Grafana's template data: drift
// alerts cannot list their top bins there (Grafana templates cannot query).
func (r Rule) GrafanaDescription() string {
	if IsDriftKind(r.Alert.Kind) {
		return r.driftDescription(true)
	}
	return r.Description()
}

// Description returns the description annotation of r (Prometheus
// templates): what the alert measures; for drift alerts also the bins that
// moved most and a link to the panel.
func (r Rule) Description() string {
	a := r.Alert
	k := stack.AlertKinds[a.Kind]
	if a.Kind == stack.AlertCustom {
		return "custom alert: " + a.Expr
	}
	if IsDriftKind(a.Kind) {
		return r.driftDescription(false)
	}
	src := "exporter metrics"
	if a.Source == stack.SourceModelServer {
		src = "TF Serving metrics"
	}
	d := k.Description + ", on " + src
	if k.UsesWindow {
		d += ", window " + a.Window.String()
	}
	return d
}
