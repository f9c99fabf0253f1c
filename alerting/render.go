package alerting

import (
	"fmt"

	"github.com/stackgen/stackgen/stack"
)

// Render renders the alerting files of the stack's engine, keyed by path
// relative to the deploy directory:
//
//   - grafana: GrafanaRulesPath, plus GrafanaContactPointsPath and GrafanaPoliciesPath
//     unless smtp.mode is off;
//   - prometheus: PrometheusRulesPath and AlertmanagerPath.
//
// The same stack always renders the same bytes.
func Render(s *stack.Stack) (map[string][]byte, error) {
	out := map[string][]byte{}
	put := func(path string, v any) error {
		b, err := marshal(v)
		if err != nil {
			return fmt.Errorf("alerting: %s: %w", path, err)
		}
		out[path] = b
		return nil
	}
	switch s.Alerting.Engine {
	case stack.EngineGrafana, "":
		rules, err := GrafanaRuleGroups(s)
		if err != nil {
			return nil, err
		}
		if err := put(GrafanaRulesPath, rules); err != nil {
			return nil, err
		}
		if cp, ok := GrafanaContactPoints(s); ok {
			if err := put(GrafanaContactPointsPath, cp); err != nil {
				return nil, err
			}
		}
		if p, ok := GrafanaPolicies(s); ok {
			if err := put(GrafanaPoliciesPath, p); err != nil {
				return nil, err
			}
		}
	case stack.EnginePrometheus:
		rules, err := PrometheusRules(s)
		if err != nil {
			return nil, err
		}
		if err := put(PrometheusRulesPath, rules); err != nil {
			return nil, err
		}
		if err := put(AlertmanagerPath, Alertmanager(s)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("alerting: unknown engine %q (want %s or %s)", s.Alerting.Engine, stack.EngineGrafana, stack.EnginePrometheus)
	}
	return out, nil
}
