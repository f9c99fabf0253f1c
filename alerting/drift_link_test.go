package alerting

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/stackgen/stackgen/stack"
)

// TestDriftLinkNamesThePanel: a drift email links the alert's own panel
// (Grafana's ?viewPanel=<id>, the id the dashboards renderer gives it), or
// without Grafana the Prometheus graph of the recorded series.
func TestDriftLinkNamesThePanel(t *testing.T) {
	s, _ := driftStack(t)
	base := s.GrafanaURL() + "/d/" + s.ModelDashboardUID(s.Models[0])
	off := false
	noGrafana := *s
	noGrafana.Grafana.Enabled = &off
	cases := []struct {
		name string
		s    *stack.Stack
		kind string
		want string
	}{
		{"feature drift", s, stack.AlertFeatureDrift, base + "?viewPanel=" + strconv.Itoa(stack.PanelFeatureDriftPSI)},
		{"prediction drift", s, stack.AlertPredictionDrift, base + "?viewPanel=" + strconv.Itoa(stack.PanelPredictionDriftPSI)},
		{"confidence drop", s, stack.AlertConfidenceDrop, base + "?viewPanel=" + strconv.Itoa(stack.PanelConfidenceMean)},
		{"without grafana", &noGrafana, stack.AlertFeatureDrift, s.PrometheusURL() + "/graph?g0.expr=" + url.QueryEscape(stack.RecFeaturePSI+`{model="hot"}`) + "&g0.tab=0&g0.range_input=6h"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := driftLink(c.s, stack.Alert{Name: c.kind, Kind: c.kind}, c.s.Models[0]); got != c.want {
				t.Errorf("link %q, want %q", got, c.want)
			}
		})
	}
}
