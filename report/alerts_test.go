package report

import (
	"context"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/mailcatcher"
	"github.com/stackgen/stackgen/stack"
)

// TestThresholdState: without an alert state source a rule shows whether
// its value meets its condition, with the operator and threshold, in both
// directions (a < rule whose value is not below reads "not met", never
// "below threshold").
func TestThresholdState(t *testing.T) {
	above := alerting.Query{Value: "x", Op: alerting.OpAbove, Threshold: 0.2}
	below := alerting.Query{Value: "up", Op: alerting.OpBelow, Threshold: 1}
	low := alerting.Query{Value: "rate", Op: alerting.OpBelow, Threshold: 0.01}
	custom := alerting.Query{Value: "x > 3"}
	tests := []struct {
		name                      string
		q                         alerting.Query
		val                       float64
		hasVal, hasSeries, failed bool
		want, class               string
	}{
		{"> met", above, 0.5, true, true, false, "condition met (0.5 > 0.2)", "met"},
		{"> not met", above, 0.09, true, true, false, "not met (0.09 ≤ 0.2)", "notmet"},
		{"> equal is not met", above, 0.2, true, true, false, "not met (0.2 ≤ 0.2)", "notmet"},
		{"< met (target down)", below, 0, true, true, false, "condition met (0 < 1)", "met"},
		{"< not met (target up)", below, 1, true, true, false, "not met (1 ≥ 1)", "notmet"},
		{"< not met (traffic)", low, 0.09, true, true, false, "not met (0.09 ≥ 0.01)", "notmet"},
		{"< met (traffic)", low, 0.001, true, true, false, "condition met (0.001 < 0.01)", "met"},
		{"no data", above, 0, false, false, false, StateNoData, "nodata"},
		{"value query failed", below, 0, false, false, true, StateUnknown, "unknown"},
		{"custom returns a series", custom, 4, true, true, false, "condition met (the condition returns a series)", "met"},
		{"custom returns nothing", custom, 0, false, false, false, "not met (the condition returns no series)", "notmet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := thresholdState(tt.q, tt.val, tt.hasVal, tt.hasSeries, tt.failed)
			if got != tt.want {
				t.Errorf("state %q, want %q", got, tt.want)
			}
			if c := (RuleState{State: got}).Class(); c != tt.class {
				t.Errorf("class %q, want %q", c, tt.class)
			}
		})
	}
}

// findRuleBy returns s's first alert rule matching ok.
func findRuleBy(t *testing.T, s *stack.Stack, ok func(alerting.Rule) bool) alerting.Rule {
	t.Helper()
	rules, err := alerting.Rules(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if ok(r) {
			return r
		}
	}
	t.Fatal("no such rule")
	return alerting.Rule{}
}

// TestFallbackTargetUp: engine grafana without Grafana, a target-down rule
// (up < 1) whose target is up (1) reads "not met (1 ≥ 1)" on the page, and
// one whose target is down reads "condition met (0 < 1)".
func TestFallbackTargetUp(t *testing.T) {
	s := loadExample(t, "demo")
	if s.Alerting.Engine != stack.EngineGrafana {
		t.Fatalf("example demo: engine %s, want grafana", s.Alerting.Engine)
	}
	down := findRuleBy(t, s, func(r alerting.Rule) bool {
		return r.Query.Op == alerting.OpBelow && strings.HasPrefix(r.Query.Value, "up{")
	})
	for _, c := range []struct{ up, state, cell string }{
		{"1", "not met (1 ≥ 1)", `<td class="notmet">not met (1 ≥ 1)</td>`},
		{"0", "condition met (0 < 1)", `<td class="met">condition met (0 &lt; 1)</td>`},
	} {
		f := newFake()
		f.instant = map[string][]fakeSample{down.Query.Value: {{labels: map[string]string{"model": "demo"}, value: c.up}}}
		o := Options{From: fixedTo.Add(-time.Hour), To: fixedTo, API: fakeAPI(t, f)}
		r, err := Collect(context.Background(), s, o)
		if err != nil {
			t.Fatal(err)
		}
		got := findRule(r.Rules, down.Name)
		if got.State != c.state || got.Value != c.up {
			t.Errorf("up=%s: %s = %q (value %s), want %q", c.up, down.Name, got.State, got.Value, c.state)
		}
		path, err := Write(r, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := os.ReadFile(path)
		if !strings.Contains(string(page), c.cell) {
			t.Errorf("up=%s: page lacks %s", c.up, c.cell)
		}
	}
}

// TestFailedSourcesUnknown: when the ALERTS queries fail every rule is
// "unknown" (not "inactive"), and the page never says "No alert was
// pending or firing" / "No email was received" beside the error saying
// the history or mails could not be read.
func TestFailedSourcesUnknown(t *testing.T) {
	s := loadExample(t, "offline")
	closed := httptest.NewServer(nil)
	deadMail := closed.URL
	closed.Close()
	emptyMail := func() string {
		mc, err := mailcatcher.New(mailcatcher.Config{SMTPListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mc.Close)
		srv := httptest.NewServer(mc.Handler())
		t.Cleanup(srv.Close)
		return srv.URL
	}()
	const noAlert, noMail = "No alert was pending or firing", "No email was received"
	for _, c := range []struct {
		name     string
		fail     []string
		mail     string
		state    string
		sentence bool // the "none" sentences are on the page
	}{
		// Control: sources answer, nothing fired, no mail: the sentences show.
		{"sources answer", nil, emptyMail, "inactive", true},
		{"sources fail", []string{"ALERTS"}, deadMail, StateUnknown, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeProm{fail: c.fail}
			r, err := Collect(context.Background(), s, Options{From: fixedTo.Add(-time.Hour), To: fixedTo, API: fakeAPI(t, f), MailURL: c.mail})
			if err != nil {
				t.Fatal(err)
			}
			for _, rs := range r.Rules {
				if rs.State != c.state {
					t.Errorf("%s/%s: state %q, want %q", rs.Name, rs.Model, rs.State, c.state)
				}
			}
			failed := c.fail != nil
			if failed != (r.HistoryError != "") || failed != (r.EmailsError != "") || failed != strings.Contains(r.RulesError, "ALERTS") {
				t.Errorf("errors: rules %q, history %q, emails %q", r.RulesError, r.HistoryError, r.EmailsError)
			}
			path, err := Write(r, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			page, _ := os.ReadFile(path)
			for _, sentence := range []string{noAlert, noMail} {
				if strings.Contains(string(page), sentence) != c.sentence {
					t.Errorf("page has %q: %v, want %v", sentence, !c.sentence, c.sentence)
				}
			}
			if failed && strings.Contains(string(page), `<td class="inactive">`) {
				t.Error("a rule shows inactive although ALERTS could not be read")
			}
		})
	}
}

// TestHistoryShortFiring: an alert firing for less than a step, between
// two steps, is in the history (at the step after it); sampling ALERTS at
// the steps alone misses it.
func TestHistoryShortFiring(t *testing.T) {
	s := loadExample(t, "offline")
	from := fixedTo.Add(-time.Hour)
	st := step(time.Hour, DefaultMaxPoints, s.Prometheus.ScrapeInterval.D())
	on := from.Add(10*st + st/4)
	f := &fakeProm{firingFrom: on, firingTo: on.Add(st / 2)}
	o := Options{From: from, To: fixedTo, API: fakeAPI(t, f), QueryTimeout: 5 * time.Second}
	r, err := Collect(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	want := from.Add(11 * st)
	if len(r.History) != 1 || r.History[0].Name != "high_error_ratio" || !r.History[0].From.Equal(want) || !r.History[0].To.Equal(want) {
		t.Fatalf("history %+v, want high_error_ratio at %v", r.History, want)
	}
	// Control: the steps' own samples do not see it.
	v, _, _, err := o.API.QueryRange(context.Background(), "ALERTS", v1.Range{Start: o.From, End: o.To, Step: st})
	if err != nil {
		t.Fatal(err)
	}
	if m := v.(model.Matrix); len(m) != 0 {
		t.Fatalf("control: ALERTS at the steps has %d series, want none", len(m))
	}
	// The window is at least the evaluation interval.
	if got := historyQuery(15*time.Second, time.Minute); got != "max_over_time(ALERTS[60s])" {
		t.Errorf("historyQuery = %s", got)
	}
}

// TestValueOfFiringInstance: a rule with several series (one per feature)
// shows the firing instance's value and since, not the first series';
// without an active instance, the worst value (max for >, min for <).
func TestValueOfFiringInstance(t *testing.T) {
	at := func(m string) time.Time { return fixedTo.Add(-time.Duration(len(m)) * time.Minute) }
	vec := model.Vector{
		{Metric: model.Metric{"model": "demo", "feature": "age"}, Value: 0.4},
		{Metric: model.Metric{"model": "demo", "feature": "income"}, Value: 1.5},
		{Metric: model.Metric{"model": "demo", "feature": "zip"}, Value: 3},
	}
	inst := func(feature, state string, since time.Time) alertInstance {
		return alertInstance{labels: model.Metric{"alertname": "feature_drift", "model": "demo", "feature": model.LabelValue(feature), "severity": "warning"}, state: state, since: since}
	}
	above := alerting.Query{Value: "psi", Op: alerting.OpAbove, Threshold: 1}
	below := alerting.Query{Value: "rate", Op: alerting.OpBelow, Threshold: 1}
	tests := []struct {
		name  string
		q     alerting.Query
		insts []alertInstance
		val   float64
		state string
		since time.Time
	}{
		{"firing instance over a pending one", above, []alertInstance{inst("zip", "pending", at("xx")), inst("income", "firing", at("xxxx"))}, 1.5, "firing", at("xxxx")},
		{"firing instances without series: the earliest known since", above, []alertInstance{inst("a", "firing", time.Time{}), inst("b", "firing", at("xxx")), inst("c", "firing", at("xx"))}, 3, "firing", at("xxx")},
		{"pending instance", above, []alertInstance{inst("zip", "pending", at("xx"))}, 3, "pending", at("xx")},
		{"none active: max for >", above, nil, 3, "", time.Time{}},
		{"none active: min for <", below, nil, 0.4, "", time.Time{}},
		{"firing instance with no series: worst value", above, []alertInstance{inst("gone", "firing", at("x"))}, 3, "firing", at("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			val, in, ok := pickValue(tt.q, vec, tt.insts)
			state, since := "", time.Time{}
			if in != nil {
				state, since = in.state, in.since
			}
			if !ok || val != tt.val || state != tt.state || !since.Equal(tt.since) {
				t.Errorf("value %v (%v), state %q since %v; want %v, %q since %v", val, ok, state, since, tt.val, tt.state, tt.since)
			}
		})
	}
}

// TestFeatureDriftShowsFiringFeature: through Collect, feature_drift
// shows the value and since of the firing feature, which is not the first
// in label order.
func TestFeatureDriftShowsFiringFeature(t *testing.T) {
	s := loadExample(t, "offline")
	drift := findRuleBy(t, s, func(r alerting.Rule) bool { return r.Alert.Kind == stack.AlertFeatureDrift })
	since := fixedTo.Add(-7 * time.Minute)
	alert := map[string]string{"alertname": drift.Name, "alertstate": "firing", "model": "demo", "feature": "income", "severity": "warning"}
	forState := map[string]string{"alertname": drift.Name, "model": "demo", "feature": "income", "severity": "warning"}
	f := newFake()
	f.instant = map[string][]fakeSample{
		drift.Query.Value: {
			{labels: map[string]string{"model": "demo", "feature": "age"}, value: "0.3"},
			{labels: map[string]string{"model": "demo", "feature": "income"}, value: "2.5"},
		},
		"ALERTS":           {{labels: alert, value: "1"}},
		"ALERTS_FOR_STATE": {{labels: forState, value: strconv.FormatInt(since.Unix(), 10)}},
	}
	r, err := Collect(context.Background(), s, Options{From: fixedTo.Add(-time.Hour), To: fixedTo, API: fakeAPI(t, f)})
	if err != nil {
		t.Fatal(err)
	}
	got := findRule(r.Rules, drift.Name)
	if got.State != "firing" || got.Value != "2.5" || !got.ActiveSince.Equal(since) {
		t.Fatalf("%s: %s, value %s since %v; want firing, 2.5 since %v", drift.Name, got.State, got.Value, got.ActiveSince, since)
	}
}
