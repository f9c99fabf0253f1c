package drift

import (
	"fmt"
	"time"

	"github.com/stackgen/stackgen/stack"
)

// Render renders, for every model of s with drift configured, its filtered
// baseline (BaselinePath) and its recording rules (RulesPath), keyed by
// deploy-relative path. A stack without drift renders nothing. outDir is
// unused (the renderer signature of package render).
func Render(s *stack.Stack, outDir string) (map[string][]byte, error) {
	return Files(Specs(s), s.Prometheus.EvaluationInterval.D())
}

// Files renders the baseline and rule files of specs, evaluated every interval.
func Files(specs []Spec, interval time.Duration) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, sp := range specs {
		g, err := Group(sp, interval)
		if err != nil {
			return nil, err
		}
		rules, err := Marshal(RuleFile{Groups: []RuleGroup{g}})
		if err != nil {
			return nil, fmt.Errorf("drift: model %s: %w", sp.Model, err)
		}
		out[RulesPath(sp.Model)] = rules
		bl, err := sp.Baseline.Marshal()
		if err != nil {
			return nil, fmt.Errorf("drift: model %s: baseline: %w", sp.Model, err)
		}
		path := sp.BaselineFile
		if path == "" {
			path = BaselinePath(sp.Model)
		}
		out[path] = bl
	}
	return out, nil
}

// RuleGroups returns the drift rule group of every model of s with drift
// configured (for renderers that embed rules elsewhere, e.g. a
// PrometheusRule of the kubernetes target).
func RuleGroups(s *stack.Stack) ([]RuleGroup, error) {
	var out []RuleGroup
	for _, sp := range Specs(s) {
		g, err := Group(sp, s.Prometheus.EvaluationInterval.D())
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}
