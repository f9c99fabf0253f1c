package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/stack"
)

// alertStateLabel is the ALERTS series' state label.
const alertStateLabel model.LabelName = "alertstate"

// Rule states that are not Prometheus' or Grafana's own.
const (
	// StateUnknown is the state of a rule whose source failed (the ALERTS
	// query, or the value query without an alert state source).
	StateUnknown = "unknown"
	// StateNoData is the value-vs-threshold state of a rule whose value
	// query returned nothing.
	StateNoData = "no data"
	// stateMet and stateNotMet start the value-vs-threshold states, e.g.
	// "condition met (0.5 > 0.2)" and "not met (1 ≥ 1)".
	stateMet    = "condition met"
	stateNotMet = "not met"
)

// RuleState is one alert rule instance (alert × model) at the end of the range.
type RuleState struct {
	Name, Model, Condition string
	// State is firing, pending or inactive (engine prometheus, from the
	// ALERTS series; engine grafana, from Grafana's alerting API), unknown
	// when that source failed, or, for engine grafana without Grafana's
	// answer, the value compared with the threshold: "condition met (0.5 >
	// 0.2)", "not met (1 ≥ 1)" or "no data".
	State string
	// Value is the rule's value query at To ("" when empty): the firing
	// instance's value, else the series' maximum (rules with >) or minimum
	// (rules with <).
	Value string
	// ActiveSince is when the alert became pending/firing (zero if not).
	ActiveSince time.Time
	// Error is the rule's evaluation error, if any.
	Error string
}

// Class is the state's CSS class: met, notmet, nodata, or the state's
// first word (firing, pending, inactive, unknown…).
func (r RuleState) Class() string {
	switch {
	case strings.HasPrefix(r.State, stateMet):
		return "met"
	case strings.HasPrefix(r.State, stateNotMet):
		return "notmet"
	case r.State == StateNoData:
		return "nodata"
	}
	if f := strings.Fields(r.State); len(f) > 0 {
		return f[0]
	}
	return StateUnknown
}

// Firing is one stretch of time an alert was pending or firing in the range,
// from the ALERTS series.
type Firing struct {
	Name, Model, State string
	Labels             string
	From, To           time.Time
	// instance is the alert instance's labels without __name__ and
	// alertstate (ALERTS_FOR_STATE's labels).
	instance string
}

// instanceLabels are an ALERTS sample's labels without __name__ and
// alertstate: the same for an instance's ALERTS, ALERTS_FOR_STATE and
// history series.
func instanceLabels(m model.Metric) model.Metric {
	out := m.Clone()
	delete(out, model.MetricNameLabel)
	delete(out, alertStateLabel)
	return out
}

// alertInstance is one instance (label set) of an alert at To.
type alertInstance struct {
	labels model.Metric
	state  string
	since  time.Time
}

// rank orders alert states: firing before pending before the rest.
func rank(state string) int {
	switch state {
	case "firing":
		return 2
	case "pending":
		return 1
	}
	return 0
}

// liveAlerts reads the alert instances at To from ALERTS (their states)
// and ALERTS_FOR_STATE (since when), keyed by alert name and model; an
// instance without ALERTS_FOR_STATE (no for duration) is active since the
// start of its stretch in hist that reaches To.
func liveAlerts(ctx context.Context, o Options, hist []Firing, st time.Duration) (map[ruleKey][]alertInstance, error) {
	alerts, err := instant(ctx, o, "ALERTS")
	if err != nil {
		return nil, err
	}
	live := map[ruleKey][]alertInstance{}
	for _, smp := range alerts {
		k := ruleKey{string(smp.Metric[model.AlertNameLabel]), string(smp.Metric[alerting.LabelModel])}
		live[k] = append(live[k], alertInstance{labels: instanceLabels(smp.Metric), state: string(smp.Metric[alertStateLabel])})
	}
	forState, _ := instant(ctx, o, "ALERTS_FOR_STATE")
	since := map[string]time.Time{}
	for _, smp := range forState {
		since[instanceLabels(smp.Metric).String()] = time.Unix(int64(smp.Value), 0).UTC()
	}
	for k, insts := range live {
		for i := range insts {
			a := &insts[i]
			id := a.labels.String()
			a.since = since[id]
			for _, f := range hist {
				if a.since.IsZero() && f.instance == id && f.State == a.state && o.To.Sub(f.To) <= st*3/2 {
					a.since = f.From
				}
			}
		}
		live[k] = insts
	}
	return live, nil
}

// ruleKey is an alert rule instance: alert name and model.
type ruleKey struct{ name, model string }

func ruleStates(ctx context.Context, s *stack.Stack, o Options, hist []Firing, st time.Duration) ([]RuleState, string) {
	rules, err := alerting.Rules(s)
	if err != nil {
		return nil, fmt.Sprintf("alert rules: %v", err)
	}
	var live map[ruleKey][]alertInstance
	health := map[string]string{}
	var problems []string
	alertsFailed := false
	if s.AlertmanagerEnabled() {
		// The state at To comes from the ALERTS series (what Prometheus
		// recorded then, so a past --to gives the same page); only a rule's
		// evaluation error comes from the rules API (it has no history).
		c, cancel := context.WithTimeout(ctx, o.QueryTimeout)
		res, err := o.API.Rules(c, nil)
		cancel()
		if err != nil {
			problems = append(problems, fmt.Sprintf("Prometheus rules API: %v", err))
		}
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				if ar, ok := r.(v1.AlertingRule); ok && ar.LastError != "" {
					health[ar.Name] = ar.LastError
				}
			}
		}
		live, err = liveAlerts(ctx, o, hist, st)
		if err != nil {
			alertsFailed = true
			problems = append(problems, fmt.Sprintf("ALERTS at %s: %v — rule states unknown", o.To.UTC().Format(time.RFC3339), err))
		}
	}
	problem := strings.Join(problems, "; ")
	out := make([]RuleState, 0, len(rules))
	for _, r := range rules {
		rs := RuleState{Name: r.Name, Model: r.Model, Condition: r.Query.Value, Error: health[r.Name]}
		if !r.Query.Custom() {
			rs.Condition = r.Query.Condition()
		}
		c, cancel := context.WithTimeout(ctx, o.QueryTimeout)
		v, _, _, err := o.API.Query(c, r.Query.Value, o.To, v1.WithTimeout(o.QueryTimeout))
		cancel()
		var vec model.Vector
		if err != nil {
			rs.Error = strings.TrimSpace(rs.Error + " " + fmt.Sprintf("value query: %v", err))
		} else {
			vec, _ = v.(model.Vector)
			sort.Sort(vec)
		}
		if s.AlertmanagerEnabled() {
			rs.State = "inactive"
			if alertsFailed {
				rs.State = StateUnknown
			}
			val, inst, ok := pickValue(r.Query, vec, live[ruleKey{r.Name, r.Model}])
			if ok {
				rs.Value = formatRuleValue(val)
			}
			if inst != nil {
				rs.State, rs.ActiveSince = inst.state, inst.since
			}
		} else {
			val, _, ok := pickValue(r.Query, vec, nil)
			if ok {
				rs.Value = formatRuleValue(val)
			}
			rs.State = thresholdState(r.Query, val, ok, len(vec) > 0, err != nil)
		}
		out = append(out, rs)
	}
	return out, problem
}

func formatRuleValue(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// thresholdState is a rule's value compared with its threshold (engine
// grafana without Grafana's answer): "condition met (0.5 > 0.2)", "not met
// (1 ≥ 1)", "no data", or unknown when the value query failed. A custom
// rule's condition is met when it returns a series.
func thresholdState(q alerting.Query, val float64, hasVal, hasSeries, failed bool) string {
	switch {
	case failed:
		return StateUnknown
	case q.Custom() && hasSeries:
		return stateMet + " (the condition returns a series)"
	case q.Custom():
		return stateNotMet + " (the condition returns no series)"
	case !hasVal:
		return StateNoData
	}
	th := strconv.FormatFloat(q.Threshold, 'g', -1, 64)
	v := formatRuleValue(val)
	if conditionMet(q, val) {
		return fmt.Sprintf("%s (%s %s %s)", stateMet, v, q.Op, th)
	}
	neg := "≤"
	if q.Op == alerting.OpBelow {
		neg = "≥"
	}
	return fmt.Sprintf("%s (%s %s %s)", stateNotMet, v, neg, th)
}

// conditionMet reports whether val meets q's comparison.
func conditionMet(q alerting.Query, val float64) bool {
	switch q.Op {
	case alerting.OpAbove:
		return val > q.Threshold
	case alerting.OpBelow:
		return val < q.Threshold
	}
	return !q.Custom()
}

// pickValue is the value a rule shows among its value query's series (in
// label order): the series of the highest-state alert instance (firing,
// else pending) that it matches (every label of the series equal in the
// instance); without such a series, the worst value: the maximum for >
// rules, the minimum for < rules, the first for custom rules. inst is the
// instance whose state the rule shows (nil when none is active).
func pickValue(q alerting.Query, vec model.Vector, insts []alertInstance) (val float64, inst *alertInstance, ok bool) {
	best := -1
	for i := range insts {
		if rank(insts[i].state) > 0 && (best < 0 || rank(insts[i].state) > rank(insts[best].state) ||
			rank(insts[i].state) == rank(insts[best].state) && earlier(insts[i].since, insts[best].since)) {
			best = i
		}
	}
	if best >= 0 {
		inst = &insts[best]
		// A series of an instance in the best state, the worst of them.
		for _, smp := range vec {
			v := float64(smp.Value)
			if math.IsNaN(v) {
				continue
			}
			for i := range insts {
				if rank(insts[i].state) == rank(inst.state) && matches(smp.Metric, insts[i].labels) && (!ok || worse(q, v, val)) {
					val, ok, inst = v, true, &insts[i]
				}
			}
		}
		if ok {
			return val, inst, true
		}
	}
	for _, smp := range vec {
		v := float64(smp.Value)
		if math.IsNaN(v) {
			continue
		}
		if !ok || worse(q, v, val) {
			val, ok = v, true
		}
	}
	return val, inst, ok
}

// earlier reports whether a is before b, an unknown (zero) time being
// after every known one.
func earlier(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return !a.IsZero() && b.IsZero()
	}
	return a.Before(b)
}

// worse reports whether v is further into q's alerting side than cur.
func worse(q alerting.Query, v, cur float64) bool {
	switch q.Op {
	case alerting.OpAbove:
		return v > cur
	case alerting.OpBelow:
		return v < cur
	}
	return false
}

// matches reports whether every label of series (but its name) has the
// same value in inst.
func matches(series, inst model.Metric) bool {
	for k, v := range series {
		if k != model.MetricNameLabel && inst[k] != v {
			return false
		}
	}
	return true
}

// instant evaluates query at o.To.
func instant(ctx context.Context, o Options, query string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	v, _, _, err := o.API.Query(ctx, query, o.To, v1.WithTimeout(o.QueryTimeout))
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("Prometheus answered a %s, not a vector", v.Type())
	}
	sort.Sort(vec)
	return vec, nil
}

// historyQuery is the firing history's range query at step st: the ALERTS
// samples over the window before each step, so that an alert pending or
// firing for less than a step (between two steps) is not lost. The window
// is at least the evaluation interval (ALERTS' resolution).
func historyQuery(st, eval time.Duration) string {
	w := max(st, eval)
	return fmt.Sprintf("max_over_time(ALERTS[%ds])", int64(w.Round(time.Second)/time.Second))
}

// history reads the ALERTS series over the range: one Firing per alert
// instance, state and contiguous stretch of steps.
func history(ctx context.Context, st, eval time.Duration, o Options) ([]Firing, string) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	v, _, _, err := o.API.QueryRange(ctx, historyQuery(st, eval), v1.Range{Start: o.From, End: o.To, Step: st}, v1.WithTimeout(o.QueryTimeout))
	if err != nil {
		return nil, fmt.Sprintf("ALERTS history: %v", err)
	}
	m, _ := v.(model.Matrix)
	sort.Sort(m)
	var out []Firing
	for _, ss := range m {
		f := Firing{Name: string(ss.Metric[model.AlertNameLabel]), Model: string(ss.Metric[alerting.LabelModel]),
			State: string(ss.Metric[alertStateLabel]), Labels: ss.Metric.String(), instance: instanceLabels(ss.Metric).String()}
		for i, p := range ss.Values {
			t := p.Timestamp.Time().UTC()
			if i > 0 && t.Sub(f.To) > st*3/2 {
				out = append(out, f)
				f.From = time.Time{}
			}
			if f.From.IsZero() {
				f.From = t
			}
			f.To = t
		}
		if !f.From.IsZero() {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out, ""
}
