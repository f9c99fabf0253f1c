package alerting

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
)

// TestRenderedSummariesAreEngineTemplates parses every rendered summary and
// description with the template check validate applies to user summaries,
// for each engine: what stackgen generates passes its own check, and a
// Grafana-only variable fails the Prometheus one (negative control).
func TestRenderedSummariesAreEngineTemplates(t *testing.T) {
	for name, src := range stacks {
		for _, engine := range []string{stack.EnginePrometheus, stack.EngineGrafana} {
			t.Run(name+"/"+engine, func(t *testing.T) {
				s := setEngine(parseStack(t, src), engine)
				rules, err := Rules(s)
				if err != nil {
					t.Fatal(err)
				}
				value := "$value"
				if engine == stack.EngineGrafana {
					value = "$values." + RefReduce + ".Value"
				}
				for _, r := range rules {
					for _, text := range []string{r.Summary(value), r.Description()} {
						if err := stack.CheckAnnotationTemplate(engine, r.Name, text); err != nil {
							t.Errorf("rule %s: %q: %v", r.Title, text, err)
						}
					}
				}
			})
		}
	}
	if err := stack.CheckAnnotationTemplate(stack.EnginePrometheus, "x", "{{ $values.B.Value }}"); err == nil {
		t.Error("Prometheus accepted Grafana's $values")
	}
}

func TestCheckPrometheusRules(t *testing.T) {
	s := setEngine(parseStack(t, stacks["mixed"]), stack.EnginePrometheus)
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		rules string // "" keeps the rendered file
		want  string // substring of the error; "" for none
	}{
		{name: "rendered rules pass"},
		{name: "bad annotation template", rules: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    annotations:\n      summary: '{{ .Invalid'\n", want: "unclosed action"},
		{name: "bad expression", rules: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n", want: PrometheusRulesPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := map[string][]byte{}
			for k, v := range files {
				f[k] = v
			}
			if tt.rules != "" {
				f[PrometheusRulesPath] = []byte(tt.rules)
			}
			err := CheckPrometheusRules(f)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestSharedNames keeps the alerting package's names equal to stack's.
func TestSharedNames(t *testing.T) {
	if want := stack.ServiceMailcatcher + ":" + strconv.Itoa(stack.MailSMTPContainerPort); MailCatcherSMTP != want {
		t.Errorf("MailCatcherSMTP = %q, want %q", MailCatcherSMTP, want)
	}
	s := parseStack(t, stacks["demo"])
	f, err := GrafanaRuleGroups(s)
	if err != nil {
		t.Fatal(err)
	}
	if f.Groups[0].Folder != s.GrafanaFolder() {
		t.Errorf("rule folder %q, want %q", f.Groups[0].Folder, s.GrafanaFolder())
	}
}
