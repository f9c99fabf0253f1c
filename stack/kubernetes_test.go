package stack

import (
	"reflect"
	"strings"
	"testing"
)

// TestKubernetesSectionProblems: the target field and the kubernetes section
// are validated with located, fixable messages; the section only when the
// stack's target is kubernetes, so compose stacks are unaffected.
func TestKubernetesSectionProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"compose default is valid", head, nil},
		{"kubernetes target is valid", head + "target: kubernetes\n", nil},
		{"unknown target", head + "target: k8s\n", []string{`stack.yaml:5:1: target: must be one of compose, kubernetes (got "k8s")`}},
		{"bad namespace", head + "target: kubernetes\nkubernetes:\n  namespace: ML_prod\n", []string{
			`stack.yaml:7:3: kubernetes.namespace: must be a DNS label: lower-case letters, digits or '-', at most 63 characters (got "ML_prod"); set kubernetes.namespace`}},
		{"section ignored for compose", head + "kubernetes:\n  namespace: ML_prod\n", nil},
		{"bad quantity and unknown model", head + "target: kubernetes\nkubernetes:\n  resources:\n    demo:\n      model: {requests: {cpu: lots}}\n    nope: {}\n", []string{
			`stack.yaml:9:26: kubernetes.resources.demo.model.requests.cpu: must be a Kubernetes quantity such as 250m or 256Mi (got "lots")`,
			`stack.yaml:10:5: kubernetes.resources.nope: "nope" is not a model of this stack; keys are model names`}},
		{"bad selector and secret", head + "target: kubernetes\nkubernetes:\n  prometheus_selector: {release: 'a b'}\n  smtp_secret: {name: Mail}\n", []string{
			`stack.yaml:7:25: kubernetes.prometheus_selector.release: must be a label value: at most 63 letters, digits, '-', '_' or '.' (got "a b")`,
			`stack.yaml:8:17: kubernetes.smtp_secret.name: must be a Secret name: lower-case letters, digits, '-' or '.' (got "Mail")`}},
		{"bad prometheus url", head + "target: kubernetes\nkubernetes:\n  prometheus_url: prometheus:9090\n", []string{
			`stack.yaml:7:3: kubernetes.prometheus_url: must be an http(s) URL such as http://prometheus-operated.monitoring.svc:9090 (got "prometheus:9090")`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseProblems(t, tc.src)
			var lines []string
			if got != "" {
				lines = strings.Split(got, "\n")
			}
			if !reflect.DeepEqual(lines, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", lines, tc.want)
			}
		})
	}
}

// TestKubernetesProblems: errors for what the target needs, warnings for what
// it cannot express, each located.
func TestKubernetesProblems(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		errs       []string
		warnFields []string
	}{
		// smtp.mode defaults to local: the warning points at smtp (or the document).
		{"plain demo", head, nil, []string{"smtp"}},
		{"underscore in name", "name: my_stack\nmodels: [{name: demo, kind: demo}]\n", []string{
			`stack.yaml:1:1: kubernetes.namespace: must be a DNS label: lower-case letters, digits or '-', at most 63 characters (got "my_stack"); set kubernetes.namespace`,
			`stack.yaml:1:1: kubernetes.smtp_secret.name: must be a Secret name: lower-case letters, digits, '-' or '.' (got "my_stack-smtp")`,
			`stack.yaml:1:1: name: names Kubernetes objects, which cannot contain '_' (got "my_stack"); use '-'`}, []string{"smtp"}},
		{"model name starts with a digit", "name: d\nmodels: [{name: 1st, kind: demo}]\n", []string{
			`stack.yaml:2:11: models[0].name: must start with a letter to name a Kubernetes Service (got "1st")`}, []string{"smtp"}},
		{"build without image", "name: d\nmodels: [{name: m, kind: custom, build: .}]\nsmtp: {mode: off}\n", []string{
			`stack.yaml:2:34: models[0].build: a cluster cannot build .: build and push the image, then set models[0].image to it`}, nil},
		{"grafana-only summary template", "name: d\nmodels: [{name: m, kind: demo}]\nsmtp: {mode: off}\nalerts:\n  - {name: busy, kind: request_rate_high, threshold: 5, summary: '{{ $values.A.Value }} req/s'}\n", []string{
			`stack.yaml:5:57: alerts[0].summary: the PrometheusRule needs a Prometheus alert template`}, nil},
		{"what compose has and kubernetes not", "name: d\nbind_address: 0.0.0.0\nmodels: [{name: m, kind: demo, host_port: 5005}]\ngrafana: {port: 3001}\nsmtp: {mode: local}\n", nil,
			[]string{"bind_address", "models[0].host_port", "grafana.port", "smtp.mode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.src), "stack.yaml")
			if err != nil {
				t.Fatal(err)
			}
			errs, warns := s.KubernetesProblems()
			var got []string
			for _, p := range errs {
				got = append(got, p.String())
			}
			// Each error starts with the wanted text (location, field and message start).
			ok := len(got) == len(tc.errs)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tc.errs[i])
			}
			if !ok {
				t.Errorf("errors:\n got %q\nwant %q", got, tc.errs)
			}
			var fields []string
			for _, w := range warns {
				if w.Line == 0 {
					t.Errorf("warning not located: %s", w)
				}
				fields = append(fields, w.Field)
			}
			if !reflect.DeepEqual(fields, tc.warnFields) {
				t.Errorf("warnings on %q, want %q (%v)", fields, tc.warnFields, warns)
			}
		})
	}
}
