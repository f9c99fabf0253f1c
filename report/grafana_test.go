package report

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/stack"
)

// fakeGrafana answers the two Grafana endpoints the report reads, with
// the shapes of Grafana's own code (see grafana.go for the files):
//   - /api/prometheus/grafana/api/v1/rules: RuleResponse of
//     pkg/services/ngalert/api/tooling/definitions/prom.go as
//     RouteGetRuleStatuses in pkg/services/ngalert/api/api_prometheus.go
//     fills it (rule name = title, rule state inactive|pending|firing,
//     alerts[].state = eval.State "Normal"|"Pending"|"Alerting", activeAt
//     = the instance's StartsAt, value formatted 'e');
//   - /api/annotations: []annotations.ItemDTO of
//     pkg/services/annotations/models.go, text as
//     buildAnnotationTextAndData (historian/annotation.go) writes it;
//   - a wrong password: 401 with Grafana's JSON error body.
type fakeGrafana struct {
	user, password string
	// rules maps a rule title to its instance's state and activeAt.
	rules map[string]fakeInstance
	anns  []Annotation
	stack string
	// asked counts authenticated requests per path.
	asked map[string]int
}

type fakeInstance struct {
	state    string // Normal, Pending, Alerting
	activeAt time.Time
}

func (f *fakeGrafana) labels(r alerting.Rule) map[string]string {
	l := map[string]string{"alertname": r.Title, "grafana_folder": "stackgen " + f.stack}
	for k, v := range r.Labels {
		l[k] = v
	}
	l[alerting.LabelStack] = f.stack
	return l
}

func (f *fakeGrafana) handler(t testing.TB, rules []alerting.Rule) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != f.user || p != f.password {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Invalid username or password","messageId":"password-auth.failed","statusCode":401,"traceID":""}`)
			return
		}
		f.asked[r.URL.Path]++
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/prometheus/grafana/api/v1/rules":
			groups := map[string]map[string]any{}
			var order []string
			for _, rule := range rules {
				in, ok := f.rules[rule.Title]
				if !ok {
					continue
				}
				gname := rule.Model
				g, ok := groups[gname]
				if !ok {
					g = map[string]any{"name": gname, "file": "stackgen " + f.stack, "rules": []any{}, "totals": nil,
						"interval": 10, "lastEvaluation": "2026-01-02T15:00:00Z", "evaluationTime": 0.01}
					groups[gname] = g
					order = append(order, gname)
				}
				ruleState := map[string]string{"Normal": "inactive", "Pending": "pending", "Alerting": "firing"}[in.state]
				value := ""
				if in.state != "Normal" {
					value = "5e-01"
				}
				g["rules"] = append(g["rules"].([]any), map[string]any{
					"state": ruleState, "name": rule.Title, "query": rule.Query.Value, "duration": 0,
					"annotations": map[string]string{"summary": "s", "description": "d"},
					"alerts": []any{map[string]any{"labels": f.labels(rule), "annotations": map[string]string{"summary": "s"},
						"state": in.state, "activeAt": in.activeAt.Format(time.RFC3339Nano), "value": value}},
					"labels": rule.Labels, "health": "ok", "type": "alerting",
					"lastEvaluation": "2026-01-02T15:00:00Z", "evaluationTime": 0.01,
				})
			}
			var gs []any
			for _, n := range order {
				gs = append(gs, groups[n])
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"groups": gs}})
		case "/api/annotations":
			q := r.URL.Query()
			if q.Get("type") != "alert" || q.Get("from") == "" || q.Get("to") == "" {
				http.Error(w, `{"message":"bad query"}`, http.StatusBadRequest)
				return
			}
			_ = json.NewEncoder(w).Encode(f.anns)
		default:
			http.Error(w, `{"message":"Not found"}`, http.StatusNotFound)
		}
	})
}

// annotation is a transition as Grafana's annotation historian records it.
func (f *fakeGrafana) annotation(id int64, r alerting.Rule, stackName, prev, next string, at time.Time) Annotation {
	l := f.labels(r)
	l[alerting.LabelStack] = stackName
	keys := sortedKeys(l)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return Annotation{ID: id, AlertID: 7, NewState: next, PrevState: prev, Time: at.UnixMilli(),
		Text: fmt.Sprintf("%s {%s} - B=0.500000, C=1.000000", r.Title, strings.Join(parts, ", "))}
}

const grafanaPassword = "s3cret-Grafana-pw-417"

func ruleByName(t testing.TB, rules []alerting.Rule, name string) alerting.Rule {
	t.Helper()
	for _, r := range rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %s", name)
	return alerting.Rule{}
}

// newFakeGrafana: high_error_ratio went pending at To-27m and firing at
// To-25m; high_latency_p95 fired before the range and resolved at To-50m;
// every other rule is normal. One annotation of another stack with the
// same title must be ignored.
func newFakeGrafana(t testing.TB, s *stack.Stack) (*fakeGrafana, *httptest.Server) {
	rules, err := alerting.Rules(s)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGrafana{user: "admin", password: grafanaPassword, stack: s.Name, rules: map[string]fakeInstance{}, asked: map[string]int{}}
	for _, r := range rules {
		f.rules[r.Title] = fakeInstance{state: "Normal", activeAt: fixedTo.Add(-3 * time.Hour)}
	}
	her := ruleByName(t, rules, "high_error_ratio")
	lat := ruleByName(t, rules, "high_latency_p95")
	f.rules[her.Title] = fakeInstance{state: "Alerting", activeAt: fixedTo.Add(-25 * time.Minute)}
	f.rules[lat.Title] = fakeInstance{state: "Normal", activeAt: fixedTo.Add(-50 * time.Minute)}
	// Newest first, as Grafana sorts them.
	f.anns = []Annotation{
		f.annotation(5, her, "other-stack", "Normal", "Alerting", fixedTo.Add(-10*time.Minute)),
		f.annotation(4, her, s.Name, "Pending", "Alerting", fixedTo.Add(-25*time.Minute)),
		f.annotation(3, her, s.Name, "Normal", "Pending", fixedTo.Add(-27*time.Minute)),
		f.annotation(2, lat, s.Name, "Alerting", "Normal (MissingSeries)", fixedTo.Add(-50*time.Minute)),
		f.annotation(1, her, s.Name, "Normal", "Alerting", fixedTo.Add(-3*time.Hour)), // before the range
	}
	srv := httptest.NewServer(f.handler(t, rules))
	t.Cleanup(srv.Close)
	return f, srv
}

func findRule(rs []RuleState, name string) RuleState {
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	return RuleState{}
}

// TestGrafanaAlerts: engine grafana takes rule states and history from
// Grafana's alerting API; a wrong password, an offline Grafana or no
// password fall back to value vs threshold with the reason on the page,
// and the password never appears in it.
func TestGrafanaAlerts(t *testing.T) {
	s := loadExample(t, "demo")
	if s.Alerting.Engine != stack.EngineGrafana {
		t.Fatalf("example demo: engine %s, want grafana", s.Alerting.Engine)
	}
	f, srv := newFakeGrafana(t, s)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	type stretch struct{ name, state, from, to string }
	for _, c := range []struct {
		name     string
		grafana  *Grafana
		skipped  string
		to       time.Time
		problem  string // substring of RulesError; "" = none
		states   map[string]string
		since    map[string]time.Time
		history  []stretch
		fromAPIs bool
	}{
		{name: "grafana answers", grafana: NewGrafana(srv.URL, "admin", grafanaPassword), to: fixedTo,
			states: map[string]string{"high_error_ratio": "firing", "high_latency_p95": "inactive"},
			since:  map[string]time.Time{"high_error_ratio": fixedTo.Add(-25 * time.Minute)},
			history: []stretch{
				{"high_latency_p95", "firing", "14:00:00", "14:10:00"},
				{"high_error_ratio", "pending", "14:33:00", "14:35:00"},
				{"high_error_ratio", "firing", "14:35:00", "15:00:00"},
			}, fromAPIs: true},
		{name: "past --to: state from the history, not from now", grafana: NewGrafana(srv.URL, "admin", grafanaPassword), to: fixedTo.Add(-26 * time.Minute),
			states: map[string]string{"high_error_ratio": "pending", "high_latency_p95": "inactive"},
			since:  map[string]time.Time{"high_error_ratio": fixedTo.Add(-27 * time.Minute)},
			history: []stretch{
				{"high_latency_p95", "firing", "13:34:00", "14:10:00"},
				{"high_error_ratio", "pending", "14:33:00", "14:34:00"},
			}, fromAPIs: true},
		{name: "wrong password", grafana: NewGrafana(srv.URL, "admin", "wrong-"+grafanaPassword), to: fixedTo,
			problem: "401"},
		{name: "grafana offline", grafana: NewGrafana(closed.URL, "admin", grafanaPassword), to: fixedTo,
			problem: "connection refused"},
		{name: "no password", skipped: "STACKGEN_GRAFANA_ADMIN_PASSWORD is not set", to: fixedTo,
			problem: "STACKGEN_GRAFANA_ADMIN_PASSWORD is not set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{From: c.to.Add(-time.Hour), To: c.to, API: fakeAPI(t, newFake()), Grafana: c.grafana, GrafanaSkipped: c.skipped}
			r, err := Collect(context.Background(), s, o)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path, err := Write(r, dir)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := os.ReadFile(path)
			if strings.Contains(string(page), grafanaPassword) || strings.Contains(r.RulesError+r.HistoryError, grafanaPassword) {
				t.Fatal("the Grafana password is in the report")
			}
			if !c.fromAPIs {
				want := "Grafana alerting API: "
				if !strings.Contains(r.RulesError, want) || !strings.Contains(r.RulesError, c.problem) || !strings.HasSuffix(r.RulesError, "showing value vs threshold") {
					t.Fatalf("problem %q, want %q… %q … showing value vs threshold", r.RulesError, want, c.problem)
				}
				if !strings.Contains(string(page), "showing value vs threshold") {
					t.Error("the page does not say it fell back")
				}
				if r.HistorySource != SourceALERTS {
					t.Errorf("history source %q", r.HistorySource)
				}
				for _, rs := range r.Rules {
					switch rs.Class() {
					case "met", "notmet", "nodata":
					default:
						t.Errorf("%s/%s: state %q is not a value-vs-threshold state", rs.Name, rs.Model, rs.State)
					}
				}
				return
			}
			if r.RulesError != "" || r.HistoryError != "" || r.HistorySource != SourceGrafana {
				t.Fatalf("problems %q / %q, source %q", r.RulesError, r.HistoryError, r.HistorySource)
			}
			for name, want := range c.states {
				got := findRule(r.Rules, name)
				if got.State != want || !got.ActiveSince.Equal(c.since[name]) {
					t.Errorf("%s: %s since %v, want %s since %v", name, got.State, got.ActiveSince, want, c.since[name])
				}
			}
			for _, rs := range r.Rules {
				if _, ok := c.states[rs.Name]; !ok && rs.State != "inactive" {
					t.Errorf("%s: %s, want inactive", rs.Name, rs.State)
				}
			}
			var got []stretch
			for _, h := range r.History {
				got = append(got, stretch{h.Name, h.State, h.From.Format("15:04:05"), h.To.Format("15:04:05")})
				if strings.Contains(h.Labels, "other-stack") {
					t.Errorf("another stack's transition in the history: %s", h.Labels)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.history) {
				t.Errorf("history\n got %v\nwant %v", got, c.history)
			}
			if !strings.Contains(string(page), "Firing history in the range (Grafana&#39;s alert state history)") {
				t.Error("the page does not name Grafana as the history's source")
			}
		})
	}
	if f.asked["/api/prometheus/grafana/api/v1/rules"] == 0 || f.asked["/api/annotations"] == 0 {
		t.Fatalf("Grafana was not asked with the right password: %v", f.asked)
	}
}

func TestGrafanaState(t *testing.T) {
	for in, want := range map[string]string{
		"Alerting": "firing", "Pending": "pending", "Normal": "inactive", "Normal (MissingSeries)": "inactive",
		"NoData": "nodata", "Error": "error", "Alerting (Error)": "firing", "Recovering": "recovering", "": "unknown",
	} {
		if got := grafanaState(in); got != want {
			t.Errorf("grafanaState(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGrafanaPasswordScrubbed: an error that carries the password (a
// server echoing it) is scrubbed; the control shows the text had it.
func TestGrafanaPasswordScrubbed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, p, _ := r.BasicAuth()
		http.Error(w, `{"message":"bad password `+p+`"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	g := NewGrafana(srv.URL, "admin", grafanaPassword)
	_, _, err := g.Annotations(context.Background(), fixedTo.Add(-time.Hour), fixedTo)
	if err == nil || strings.Contains(err.Error(), grafanaPassword) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("error %v: want the password redacted", err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{g, *g} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, grafanaPassword) || !strings.Contains(out, "admin@"+srv.URL) {
				t.Errorf("fmt %s of the client: %q", verb, out)
			}
		}
	}
}
