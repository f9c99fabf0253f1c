package report

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/stack"
)

// History sources named on the page.
const (
	SourceALERTS  = "ALERTS series"
	SourceGrafana = "Grafana's alert state history"
)

// grafanaAlerts is the alerts part of the report for engine grafana: rule
// states at To and the firing history in the range from Grafana's
// alerting API. When Grafana does not answer (or is not asked), it falls
// back to the value compared with the threshold and says why.
func grafanaAlerts(ctx context.Context, s *stack.Stack, o Options, st time.Duration, r *Report) {
	r.Rules, r.RulesError = ruleStates(ctx, s, o, nil, st)
	fallback := func(why string) {
		r.RulesError = joinProblems(r.RulesError, "Grafana alerting API: "+why+" — showing value vs threshold")
		r.History, r.HistoryError = history(ctx, st, s.Prometheus.EvaluationInterval.D(), o)
		r.HistorySource = SourceALERTS
	}
	if o.Grafana == nil {
		why := o.GrafanaSkipped
		if why == "" {
			why = "not asked"
		}
		fallback(why)
		return
	}
	c, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	res, err := o.Grafana.Rules(c)
	cancel()
	if err != nil {
		fallback(err.Error())
		return
	}
	rules, err := alerting.Rules(s)
	if err != nil {
		r.RulesError = joinProblems(r.RulesError, fmt.Sprintf("alert rules: %v", err))
		return
	}
	r.HistorySource = SourceGrafana
	c, cancel = context.WithTimeout(ctx, o.QueryTimeout)
	anns, cut, err := o.Grafana.Annotations(c, o.From, o.To)
	cancel()
	if err != nil {
		r.HistoryError = fmt.Sprintf("Grafana annotations API: %v — no firing history; rule states come from the rules API alone", err)
	} else if cut {
		r.HistoryError = fmt.Sprintf("Grafana returned its newest %d alert state changes in the range; older ones are not shown", maxAnnotations)
	}
	byTitle := grafanaRulesByTitle(res, s.Name)
	trans := transitionsByTitle(anns, rules, s.Name, o.From, o.To)
	r.History = nil
	for i := range r.Rules {
		rs := &r.Rules[i]
		rule := rules[i]
		gr, ok := byTitle[rule.Title]
		if !ok {
			rs.State = "unknown"
			rs.Error = strings.TrimSpace(rs.Error + " " + fmt.Sprintf("Grafana has no rule titled %s (provisioned by stackgen up)", rule.Title))
			continue
		}
		if gr.LastError != "" {
			rs.Error = strings.TrimSpace(rs.Error + " " + "Grafana: " + gr.LastError)
		}
		rs.State, rs.ActiveSince = stateAt(gr, trans[rule.Title], o.To)
		r.History = append(r.History, stretches(rule, trans[rule.Title], o.From, o.To)...)
	}
	sort.SliceStable(r.History, func(i, j int) bool { return r.History[i].From.Before(r.History[j].From) })
}

func joinProblems(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// grafanaRulesByTitle indexes Grafana's alerting rules by title, keeping
// only rules of this stack (a "stack" label, when present, must name it:
// one Grafana may hold several stacks' folders).
func grafanaRulesByTitle(res v1.RulesResult, stackName string) map[string]v1.AlertingRule {
	out := map[string]v1.AlertingRule{}
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			ar, ok := r.(v1.AlertingRule)
			if !ok {
				continue
			}
			if sn, ok := ar.Labels[alerting.LabelStack]; ok && string(sn) != stackName {
				continue
			}
			out[ar.Name] = ar
		}
	}
	return out
}

// transition is one state change of one alert instance.
type transition struct {
	key        string // the instance's labels, "k=v, k2=v2"
	at         time.Time
	prev, next string // normalised states
}

// transitionsByTitle picks the annotations of the stack's rules (text
// "<title> {<labels>} - <values>") in [from, to], oldest first.
func transitionsByTitle(anns []Annotation, rules []alerting.Rule, stackName string, from, to time.Time) map[string][]transition {
	out := map[string][]transition{}
	for _, a := range anns {
		at := time.UnixMilli(a.Time).UTC()
		if at.Before(from) || at.After(to) {
			continue
		}
		for _, r := range rules {
			rest, ok := strings.CutPrefix(a.Text, r.Title+" {")
			if !ok {
				continue
			}
			end := strings.LastIndex(rest, "} - ")
			if end < 0 {
				end = strings.LastIndex(rest, "}")
			}
			if end < 0 {
				continue
			}
			key := rest[:end]
			if !labelsNameStack(key, stackName) {
				continue
			}
			out[r.Title] = append(out[r.Title], transition{key: key, at: at, prev: grafanaState(a.PrevState), next: grafanaState(a.NewState)})
			break
		}
	}
	for _, ts := range out {
		sort.SliceStable(ts, func(i, j int) bool {
			if !ts[i].at.Equal(ts[j].at) {
				return ts[i].at.Before(ts[j].at)
			}
			return ts[i].key < ts[j].key
		})
	}
	return out
}

// labelsNameStack reports whether labels ("k=v, k2=v2") carry no stack
// label or this stack's.
func labelsNameStack(labels, stackName string) bool {
	for _, kv := range strings.Split(labels, ", ") {
		if v, ok := strings.CutPrefix(kv, alerting.LabelStack+"="); ok {
			return v == stackName
		}
	}
	return true
}

// grafanaState normalises Grafana's state names ("Alerting", "Normal
// (MissingSeries)") to the page's: firing, pending, inactive, nodata,
// error, recovering.
func grafanaState(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), " (")
	switch strings.ToLower(s) {
	case "alerting", "firing":
		return "firing"
	case "pending":
		return "pending"
	case "normal", "inactive", "ok":
		return "inactive"
	case "nodata":
		return "nodata"
	case "error":
		return "error"
	case "recovering":
		return "recovering"
	case "":
		return "unknown"
	}
	return strings.ToLower(s)
}

// importance orders states for a rule with several instances.
var importance = map[string]int{"firing": 6, "recovering": 5, "pending": 4, "error": 3, "nodata": 2, "inactive": 1}

// stateAt is the rule's state at To: for each instance, the newest of its
// last recorded transition at or before To and (from the rules API) the
// state it has been in since activeAt, when activeAt is not after To; the
// rule's state is its most important instance's. Active since is when
// that instance entered a pending or firing state.
func stateAt(gr v1.AlertingRule, ts []transition, to time.Time) (string, time.Time) {
	type at struct {
		state string
		since time.Time
	}
	inst := map[string]at{}
	for _, t := range ts {
		if !t.at.After(to) {
			inst[t.key] = at{t.next, t.at}
		}
	}
	unknown := false
	for _, a := range gr.Alerts {
		key := labelKey(a.Labels)
		since := a.ActiveAt.UTC()
		if a.ActiveAt.IsZero() || since.After(to) {
			unknown = unknown || inst[key].state == ""
			continue
		}
		if cur, ok := inst[key]; !ok || !cur.since.After(since) {
			inst[key] = at{grafanaState(string(a.State)), since}
		}
	}
	best := at{}
	for _, k := range sortedKeys(inst) {
		if a := inst[k]; importance[a.state] > importance[best.state] {
			best = a
		}
	}
	switch {
	case best.state == "" && unknown:
		return "unknown (changed after --to)", time.Time{}
	case best.state == "":
		return "inactive", time.Time{}
	case best.state == "firing" || best.state == "pending" || best.state == "recovering":
		return best.state, best.since
	}
	return best.state, time.Time{}
}

func labelKey[M ~map[K]V, K ~string, V ~string](m M) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(string(k), "__") {
			keys = append(keys, string(k))
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + string(m[K(k)])
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stretches turns a rule's transitions into the stretches of time each
// instance was pending or firing in [from, to]: from the transition into
// the state to the next transition (or to To), and from From when the
// first transition in the range leaves such a state.
func stretches(r alerting.Rule, ts []transition, from, to time.Time) []Firing {
	byKey := map[string][]transition{}
	for _, t := range ts {
		byKey[t.key] = append(byKey[t.key], t)
	}
	active := func(s string) bool { return s == "firing" || s == "pending" || s == "recovering" }
	var out []Firing
	for _, key := range sortedKeys(byKey) {
		list := byKey[key]
		f := Firing{Name: r.Name, Model: r.Model, Labels: "{" + key + "}"}
		if first := list[0]; active(first.prev) && first.at.After(from) {
			f.State, f.From, f.To = first.prev, from, first.at
			out = append(out, f)
		}
		for i, t := range list {
			if !active(t.next) {
				continue
			}
			end := to
			if i+1 < len(list) {
				end = list[i+1].at
			}
			f.State, f.From, f.To = t.next, t.at, end
			out = append(out, f)
		}
	}
	return out
}
