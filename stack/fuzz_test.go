package stack

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and returns either a valid stack
// or a non-empty, sorted list of located problems. The seed corpus is in
// testdata/fuzz/FuzzParse plus the starter stacks and the cases below.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		head,
		"",
		"name: x\nmodels: {a: 1}\nalerts: 3\nsmtp: x\n",
		"name: a\nmodels:\n  - &m {name: a, kind: demo}\n  - {<<: *m, name: b}\n",
		"name: a\nmodels:\n  - {name: a, kind: demo, name: b}\nname: c\n",
		"name: a\nmodels: [{name: r, kind: remote, url: 'https://x', model_name: m}]\nalerts: [{name: c, kind: custom, source: model_server, expr: 'rate(:tensorflow:serving:request_count[5m]) > 1'}]\n",
		"name: a\nmodels: [{name: m, kind: mlflow, image: m, environment: {A: 1, A: 2}}]\nexporter: {buckets: [1, 0.5, x], timeout: 1y}\n",
		"a: &a [*a]\n",
		"name: [demo\n",
		"- a\n",
		"!!binary AAAA",
	} {
		f.Add([]byte(seed))
	}
	starters, _ := filepath.Glob(filepath.Join("..", "templates", "stacks", "*.yaml"))
	for _, p := range starters {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "stack.yaml")
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse returned stack %v and error %v; want exactly one", s != nil, err)
		}
		if err != nil {
			var probs Problems
			if !errors.As(err, &probs) || len(probs) == 0 {
				t.Fatalf("Parse error is not a non-empty Problems: %#v", err)
			}
			for i, p := range probs {
				if p.File != "stack.yaml" || p.Message == "" || p.Line < 0 || p.Column < 0 {
					t.Fatalf("bad problem %+v", p)
				}
				if i > 0 && (p.Line < probs[i-1].Line || p.Line == probs[i-1].Line && p.Column < probs[i-1].Column) {
					t.Fatalf("problems out of line order:\n%v", probs)
				}
			}
			return
		}
		// A stack Parse accepts is valid, stays valid, and can be used.
		if probs := s.Validate(); len(probs) != 0 {
			t.Fatalf("Parse accepted a stack that Validate rejects:\n%v", probs)
		}
		s.ApplyDefaults()
		if probs := s.Validate(); len(probs) != 0 {
			t.Fatalf("ApplyDefaults broke a valid stack:\n%v", probs)
		}
		for _, a := range s.EffectiveAlerts() {
			_ = s.ModelsFor(a)
		}
	})
}
