package stack_test

import (
	"strings"
	"testing"

	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/stack"
)

// TestDashboardUIDsMatchDashboards: the uids renderers link to are the ones
// the dashboards package gives its dashboards, short and long names alike.
func TestDashboardUIDsMatchDashboards(t *testing.T) {
	for _, tc := range []struct{ stack, model string }{
		{"demo", "demo"},
		{"shop", "churn-model"},
		{"a_very_long_stack_name_for_testing", "and-a-long-model-name-too"},
	} {
		s := &stack.Stack{Name: tc.stack, Models: []stack.Model{{Name: tc.model}}}
		m := s.Models[0]
		if got, want := s.ModelDashboardUID(m), dashboards.ModelUID(s, m); got != want {
			t.Errorf("%s/%s: ModelDashboardUID %q, dashboards.ModelUID %q", tc.stack, tc.model, got, want)
		}
		if got, want := s.OverviewDashboardUID(), dashboards.OverviewUID(s); got != want {
			t.Errorf("%s: OverviewDashboardUID %q, dashboards.OverviewUID %q", tc.stack, got, want)
		}
		if len(s.ModelDashboardUID(m)) > stack.MaxDashboardUIDLength || strings.ContainsAny(s.ModelDashboardUID(m), " /.") {
			t.Errorf("%q is not a Grafana uid", s.ModelDashboardUID(m))
		}
	}
}
