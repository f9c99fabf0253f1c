package drift

import "github.com/stackgen/stackgen/stack"

// Specs returns the drift spec of every model of s with drift configured
// and its baseline loaded (stack validation loads it), in file order.
func Specs(s *stack.Stack) []Spec {
	var out []Spec
	for _, m := range s.Models {
		if !m.DriftEnabled() {
			continue
		}
		d := m.Drift
		out = append(out, Spec{
			Model:        m.Name,
			Window:       d.Window.D(),
			Threshold:    d.Threshold,
			MinSamples:   d.MinSamples,
			Confidence:   d.Confidence,
			Baseline:     d.Baseline,
			BaselineFile: m.BaselineFile(),
		})
	}
	return out
}
