package alerting

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

func parseStack(t *testing.T, src string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(src), "stack.yaml")
	if err != nil {
		t.Fatalf("stack.Parse: %v\n%s", err, src)
	}
	return s
}

// stacks covers the model kinds and both alert sources.
var stacks = map[string]string{
	"demo": `name: demo
models:
  - {name: demo, kind: demo}
`,
	"tfserving": `name: tf
models:
  - {name: diabetes-prediction, kind: tfserving, model_name: diabetes-prediction}
`,
	"mixed": `name: mixed
models:
  - {name: attrition, kind: mlflow, image: "user/attrition-model:latest"}
  - {name: diabetes, kind: tfserving, model_name: diabetes}
alerts:
  - {name: high_error_ratio, threshold: 0.1}
  - {name: high_cpu, enabled: false}
  - {name: tf_error_ratio, kind: error_ratio_high, source: model_server, threshold: 0.02, severity: critical}
  - {name: tf_rate, kind: request_rate_high, source: model_server, threshold: 100, model: diabetes}
  - {name: slow_requests, kind: custom, expr: 'sum by (model) (rate(http_requests_total{code="504"}[5m])) > 0', summary: 'timeouts on {{ $labels.model }}'}
  - {name: attrition_spike, kind: traffic_spike, factor: 4, model: attrition}
  - {name: attrition_low, kind: low_traffic, threshold: 0.05, model: attrition, window: 10m}
`,
	"drift": `name: drifty
models:
  - {name: demo, kind: demo, drift: {window: 30m}}
  - {name: plain, kind: demo}
`,
	"external": `name: ext
models:
  - {name: m, kind: demo}
smtp:
  mode: external
  host: smtp.gmail.com:587
  user: me@gmail.com
  from_address: me@gmail.com
  recipients: [a@example.com, b@example.com]
  starttls_policy: MandatoryStartTLS
  skip_verify: true
`,
	"off": `name: off
alerting: {defaults: false}
models:
  - {name: m, kind: demo}
smtp: {mode: off}
`,
}

func setEngine(s *stack.Stack, engine string) *stack.Stack {
	c := *s
	c.Alerting.Engine = engine
	return &c
}

func TestValueQueryPerKindAndSource(t *testing.T) {
	s := parseStack(t, stacks["demo"])
	m := s.Models[0]
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		kind, source string
		want         []string // substrings of the condition
		op           string
	}{
		{stack.AlertRequestRateHigh, stack.SourceExporter, []string{`rate(http_requests_total{job="ml_model_exporter",model="demo",route!~"/metrics|/healthz|/readyz"}[5m])`, "> 2"}, OpAbove},
		{stack.AlertRequestRateHigh, stack.SourceModelServer, []string{`rate(:tensorflow:serving:request_count{job="model_server",model="demo"}[5m])`}, OpAbove},
		{stack.AlertLatencyP95High, stack.SourceExporter, []string{"histogram_quantile(0.95,", "http_request_duration_seconds_bucket"}, OpAbove},
		{stack.AlertLatencyP99High, stack.SourceModelServer, []string{"histogram_quantile(0.99,", ":tensorflow:serving:request_latency_bucket", "/ 1e6 > 2"}, OpAbove},
		{stack.AlertErrorRatioHigh, stack.SourceExporter, []string{`code!~"2..|3.."`}, OpAbove},
		{stack.AlertErrorRatioHigh, stack.SourceModelServer, []string{`status!="OK"`}, OpAbove},
		{stack.AlertTargetDown, stack.SourceExporter, []string{`up{job="ml_model_exporter",model="demo"} < 1`}, OpBelow},
		{stack.AlertTargetDown, stack.SourceModelServer, []string{`up{job="model_server",model="demo"} < 1`}, OpBelow},
		{stack.AlertLowTraffic, stack.SourceExporter, []string{" or 0 * max by (model) (up{", "< 2"}, OpBelow},
		{stack.AlertLowTraffic, stack.SourceModelServer, []string{":tensorflow:serving:request_count", "< 2"}, OpBelow},
		{stack.AlertTrafficSpike, stack.SourceExporter, []string{"[1m]", "[15m])) > 0) > 3"}, OpAbove},
		{stack.AlertTrafficSpike, stack.SourceModelServer, []string{":tensorflow:serving:request_count", "[15m]"}, OpAbove},
		{stack.AlertMemoryHigh, stack.SourceExporter, []string{"process_resident_memory_bytes", "/ 1048576 > 2"}, OpAbove},
		{stack.AlertCPUHigh, stack.SourceExporter, []string{"rate(process_cpu_seconds_total", "> 2"}, OpAbove},
	}
	p := parser.NewParser(parser.Options{})
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.source, func(t *testing.T) {
			a := stack.Alert{Name: "x", Kind: tt.kind, Source: tt.source, Threshold: f(2), Factor: f(3), Window: stack.Duration(5 * 60e9)}
			if !stack.AlertKinds[tt.kind].NeedsThreshold {
				a.Threshold = nil
			}
			q, err := ValueQuery(s, a, m)
			if err != nil {
				t.Fatal(err)
			}
			if q.Op != tt.op {
				t.Errorf("op = %q, want %q", q.Op, tt.op)
			}
			e, err := Expr(s, a, m)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(e, w) {
					t.Errorf("expr %s\ndoes not contain %s", e, w)
				}
			}
			for _, x := range []string{e, q.Value} {
				if _, err := p.ParseExpr(x); err != nil {
					t.Errorf("does not parse: %v\n%s", err, x)
				}
			}
		})
	}
}

func TestValueQueryErrors(t *testing.T) {
	s := parseStack(t, stacks["mixed"])
	mlflow := s.Models[0]
	f := 1.0
	for name, a := range map[string]stack.Alert{
		"unknown kind":             {Name: "a", Kind: "nope"},
		"memory on model server":   {Name: "a", Kind: stack.AlertMemoryHigh, Source: stack.SourceModelServer, Threshold: &f},
		"tf metrics on mlflow":     {Name: "a", Kind: stack.AlertRequestRateHigh, Source: stack.SourceModelServer, Threshold: &f},
		"missing threshold":        {Name: "a", Kind: stack.AlertRequestRateHigh},
		"spike without factor":     {Name: "a", Kind: stack.AlertTrafficSpike},
		"custom without an expr":   {Name: "a", Kind: stack.AlertCustom},
		"latency without a thresh": {Name: "a", Kind: stack.AlertLatencyP95High},
	} {
		if _, err := ValueQuery(s, a, mlflow); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "alert a") {
			t.Errorf("%s: error %q does not name the alert", name, err)
		}
	}
}

func TestRulesScopeOverridesAndDisable(t *testing.T) {
	s := parseStack(t, stacks["mixed"])
	rules, err := Rules(s)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Rule{}
	for _, r := range rules {
		got[r.Title] = r
	}
	for _, title := range []string{"high_error_ratio_attrition", "high_error_ratio_diabetes", "tf_high_latency_p99_diabetes", "tf_error_ratio_diabetes", "tf_rate_diabetes", "slow_requests", "attrition_spike_attrition", "attrition_low_attrition"} {
		if _, ok := got[title]; !ok {
			t.Errorf("no rule %s", title)
		}
	}
	for _, title := range []string{"high_cpu_attrition", "high_cpu_diabetes", "tf_high_latency_p99_attrition", "tf_rate_attrition", "attrition_spike_diabetes"} {
		if _, ok := got[title]; ok {
			t.Errorf("unexpected rule %s", title)
		}
	}
	if r := got["high_error_ratio_attrition"]; r.Query.Threshold != 0.1 || r.Labels[LabelSeverity] != "critical" || r.Labels[LabelModel] != "attrition" {
		t.Errorf("override not applied: %+v", r)
	}
	if r := got["slow_requests"]; r.Model != "" || r.Labels[LabelModel] != "" || r.Summary("$value") != "timeouts on {{ $labels.model }}" {
		t.Errorf("custom stack-wide rule: %+v", r)
	}
	if r := got["attrition_low_attrition"]; !strings.Contains(r.Query.Value, "[10m]") {
		t.Errorf("window not applied: %s", r.Query.Value)
	}
}

func TestRuleUID(t *testing.T) {
	tests := []struct{ alert, model, want string }{
		{"high_cpu", "demo", "high_cpu-demo"},
		{"slow", "", "slow"},
		{"a_really_long_alert_name_for_testing", "a-long-model-name", ""},
		{"a_really_long_alert_name_for_testing", "a-long-model-name2", ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		u := ruleUID("stack", tt.alert, tt.model)
		if !ValidUID(u) || len(u) > MaxUIDLength {
			t.Errorf("uid %q invalid", u)
		}
		if tt.want != "" && u != tt.want {
			t.Errorf("uid(%s,%s) = %q, want %q", tt.alert, tt.model, u, tt.want)
		}
		if u2 := ruleUID("stack", tt.alert, tt.model); u2 != u {
			t.Errorf("uid not stable: %q vs %q", u, u2)
		}
		if seen[u] {
			t.Errorf("uid %q repeated", u)
		}
		seen[u] = true
	}
}

func TestRenderDeterministicAndPaths(t *testing.T) {
	for name, src := range stacks {
		for _, engine := range []string{stack.EngineGrafana, stack.EnginePrometheus} {
			s := setEngine(parseStack(t, src), engine)
			a, err := Render(s)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, engine, err)
			}
			b, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			for p, data := range a {
				if !bytes.Equal(data, b[p]) {
					t.Errorf("%s/%s: %s differs between renders", name, engine, p)
				}
				if engine == stack.EngineGrafana && !strings.HasPrefix(p, "grafana/provisioning/alerting/") {
					t.Errorf("grafana engine renders %s", p)
				}
			}
			want := []string{GrafanaRulesPath, GrafanaContactPointsPath, GrafanaPoliciesPath}
			if engine == stack.EnginePrometheus {
				want = []string{PrometheusRulesPath, AlertmanagerPath}
			} else if !s.SMTP.Enabled() {
				want = want[:1]
			}
			if len(a) != len(want) {
				t.Errorf("%s/%s: %d files, want %v", name, engine, len(a), want)
			}
			for _, p := range want {
				if _, ok := a[p]; !ok {
					t.Errorf("%s/%s: %s not rendered", name, engine, p)
				}
			}
		}
	}
}

func TestPrometheusRulesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	dir := t.TempDir()
	for name, src := range stacks {
		s := setEngine(parseStack(t, src), stack.EnginePrometheus)
		files, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		data := files[PrometheusRulesPath]
		groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%s: rulefmt: %v\n%s", name, errs, data)
		}
		n := 0
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				n++
				if _, err := p.ParseExpr(r.Expr); err != nil {
					t.Errorf("%s: %s: %v", name, r.Alert, err)
				}
				if r.Labels[LabelSeverity] == "" || !strings.Contains(r.Annotations["summary"], "{{") && r.Alert != "slow_requests" {
					t.Errorf("%s: %s: labels %v annotations %v", name, r.Alert, r.Labels, r.Annotations)
				}
			}
		}
		rules, _ := Rules(s)
		if n != len(rules) {
			t.Errorf("%s: %d rules in file, %d alert instances", name, n, len(rules))
		}
		f := filepath.Join(dir, name+".yml")
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		promtoolRun(t, "check", "rules", f)
	}
}

// promtoolRun runs promtool, skipping the test when it is not installed.
func promtoolRun(t *testing.T, args ...string) string {
	t.Helper()
	bin := testtool.Path(t, "apt-get install prometheus", "promtool")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestAlertmanagerConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		stack string
		check func(t *testing.T, c AlertmanagerConfig)
	}{
		{"demo", func(t *testing.T, c AlertmanagerConfig) {
			g := c.Global
			if g.SMTPSmarthost != MailCatcherSMTP || g.SMTPAuthUsername != "" || g.SMTPAuthPasswordFile != "" || *g.SMTPRequireTLS {
				t.Errorf("local mode global: %+v", g)
			}
			if g.SMTPFrom != `"stackgen alerts" <alerts@stackgen.local>` {
				t.Errorf("from = %q", g.SMTPFrom)
			}
			if c.Route.Receiver != EmailReceiver || c.Receivers[0].EmailConfigs[0].To != "oncall@stackgen.local" {
				t.Errorf("route/receivers: %+v %+v", c.Route, c.Receivers)
			}
		}},
		{"external", func(t *testing.T, c AlertmanagerConfig) {
			g := c.Global
			if g.SMTPSmarthost != "smtp.gmail.com:587" || g.SMTPAuthUsername != "me@gmail.com" || g.SMTPAuthPasswordFile != SMTPPasswordFile || !*g.SMTPRequireTLS {
				t.Errorf("external global: %+v", g)
			}
			ec := c.Receivers[0].EmailConfigs[0]
			if ec.To != "a@example.com, b@example.com" || ec.TLSConfig == nil || !ec.TLSConfig.InsecureSkipVerify {
				t.Errorf("email config: %+v", ec)
			}
		}},
		{"off", func(t *testing.T, c AlertmanagerConfig) {
			if c.Global != nil || c.Route.Receiver != NullReceiver || len(c.Receivers) != 1 || len(c.Receivers[0].EmailConfigs) != 0 {
				t.Errorf("off: %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			s := setEngine(parseStack(t, stacks[tt.stack]), stack.EnginePrometheus)
			files, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			data := files[AlertmanagerPath]
			var c AlertmanagerConfig
			if err := strictUnmarshal(data, &c); err != nil {
				t.Fatalf("read back: %v", err)
			}
			tt.check(t, c)
			if bytes.Contains(data, []byte("password:")) {
				t.Errorf("a password value is rendered:\n%s", data)
			}
			amtool := testtool.Path(t, "apt-get install prometheus-alertmanager", "amtool")
			f := filepath.Join(dir, tt.stack+".yml")
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(amtool, "check-config", f).CombinedOutput(); err != nil {
				t.Fatalf("amtool check-config: %v\n%s\n%s", err, out, data)
			}
		})
	}
}

func TestGrafanaFilesStructure(t *testing.T) {
	for name, src := range stacks {
		t.Run(name, func(t *testing.T) {
			s := setEngine(parseStack(t, src), stack.EngineGrafana)
			files, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckGrafana(files, []string{stack.GrafanaDatasourceUID}); err != nil {
				t.Fatalf("%v\n%s", err, files[GrafanaRulesPath])
			}
			var f GrafanaRulesFile
			if err := strictUnmarshal(files[GrafanaRulesPath], &f); err != nil {
				t.Fatal(err)
			}
			p := parser.NewParser(parser.Options{})
			rules, _ := Rules(s)
			n := 0
			for _, g := range f.Groups {
				if g.Interval != "20s" {
					t.Errorf("group interval %s, want 20s (15s rounded up to Grafana's 10s tick)", g.Interval)
				}
				for _, r := range g.Rules {
					n++
					for _, q := range r.Data {
						if q.DatasourceUID == ExprDatasourceUID {
							continue
						}
						if _, err := p.ParseExpr(q.Model.Expr); err != nil {
							t.Errorf("%s: %s: %v", r.Title, q.RefID, err)
						}
					}
					value := "$values.B.Value"
					if len(r.Data) > 3 { // drift: PSI, threshold, rows queried for the summary
						value = "$values." + RefDriftPSI
					}
					if r.Labels[LabelModel] == "" && r.Title != "slow_requests" {
						t.Errorf("%s: no model label", r.Title)
					}
					if r.Annotations["summary"] == "" || (!strings.Contains(r.Annotations["summary"], value) && r.Title != "slow_requests") {
						t.Errorf("%s: summary %q does not show the value", r.Title, r.Annotations["summary"])
					}
				}
			}
			if n != len(rules) {
				t.Errorf("%d grafana rules, %d alert instances", n, len(rules))
			}
		})
	}
}

func TestCheckGrafanaFindsProblems(t *testing.T) {
	s := parseStack(t, stacks["demo"])
	good, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(path string, fn func(n *yaml.Node)) map[string][]byte {
		var n yaml.Node
		if err := yaml.Unmarshal(good[path], &n); err != nil {
			t.Fatal(err)
		}
		fn(&n)
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for k, v := range good {
			out[k] = v
		}
		out[path] = b
		return out
	}
	// set replaces every scalar value old by new under key.
	set := func(key, old, new string) func(*yaml.Node) {
		var walk func(*yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key && n.Content[i+1].Value == old {
						n.Content[i+1].Value = new
						return // first match only
					}
				}
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		return walk
	}
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"unknown datasource", mutate(GrafanaRulesPath, set("datasourceUid", stack.GrafanaDatasourceUID, "nope")), "unknown datasourceUid"},
		{"condition names nothing", mutate(GrafanaRulesPath, set("condition", "C", "Z")), "names no refId"},
		{"broken chain", mutate(GrafanaRulesPath, set("expression", "A", "Q")), "not an earlier refId"},
		{"bad uid", mutate(GrafanaRulesPath, set("uid", "high_cpu-demo", "has space")), "is not 1-40"},
		{"dangling policy", mutate(GrafanaPoliciesPath, set("receiver", ContactPointName, "other")), "not a provisioned contact point"},
		{"no-op round trip stays valid", mutate(GrafanaRulesPath, set("noDataState", "OK", "OK")), ""},
	}
	for _, tt := range tests {
		err := CheckGrafana(tt.files, []string{stack.GrafanaDatasourceUID})
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}
