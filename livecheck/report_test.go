package livecheck

import (
	"bytes"
	"strings"
	"testing"
)

func sampleReport() Report {
	return Report{Engine: "prometheus", Results: []Result{
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Panel: "RPS", RefID: "A", Query: "sum(rate(x_total[1m]))",
			Status: StatusOK, Detail: "1 series"},
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Panel: "P95", RefID: "A", Query: "hq(a)",
			Status: StatusNoTraffic, Detail: "no data yet", Missing: []string{"a_bucket"}},
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Panel: "P95", RefID: "B", Query: "hq(b)",
			Status: StatusNoTraffic, Detail: "no data yet", Missing: []string{"a_bucket"}},
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Panel: "Mixed", RefID: "A", Query: "up",
			Status: StatusOK, Detail: "1 series"},
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Panel: "Mixed", RefID: "B", Query: "y",
			Status: StatusNoTraffic, Detail: "no data yet"},
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Row: "TF", Panel: "P95", PanelID: 20, RefID: "A", Query: "tf",
			Status: StatusOK, Detail: "1 series"},
		{Kind: KindPanel, Dashboard: "s / demo", DashboardUID: "s-demo", Panel: "Typo", RefID: "A", Query: "foo_total",
			Status: StatusUnknownMetric, Detail: "metric foo_total is exported by no target"},
		{Kind: KindRule, Rule: "high_cpu", Model: "demo", Query: "rate(p[5m])", Status: StatusError, Detail: "Prometheus rejected the query: x"},
		{Kind: KindRule, Rule: "custom", Query: "vector(1)", Status: StatusOK, Detail: "1 series"},
	}}
}

func TestReport(t *testing.T) {
	rep := sampleReport()
	if f := rep.Failures(); len(f) != 2 || f[0].Panel != "Typo" || f[1].Rule != "high_cpu" {
		t.Errorf("Failures() = %v", f)
	}
	if n := rep.NoTraffic(); len(n) != 3 {
		t.Errorf("NoTraffic() = %v", n)
	}
	tests := []struct{ got, want string }{
		{rep.Results[6].String(), "dashboard \"s / demo\", panel \"Typo\", query A: `foo_total`: metric foo_total is exported by no target"},
		{rep.Results[7].String(), "alert rule \"high_cpu\" (model \"demo\"): `rate(p[5m])`: Prometheus rejected the query: x"},
		{rep.Results[8].Where(), `alert rule "custom"`},
		{rep.Results[5].Where(), `dashboard "s / demo", row "TF", panel "P95", query A`},
		{rep.Summary(), "9 queries: 4 ok, 3 no traffic yet, 2 failed (1 error, 1 unknown metric)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
	err := rep.Err()
	if err == nil || !strings.Contains(err.Error(), "2 of 9 dashboard and alert queries would never show data:\n  dashboard \"s / demo\", panel \"Typo\"") {
		t.Errorf("Err() = %v", err)
	}
	if (Report{Results: rep.NoTraffic()}).Err() != nil {
		t.Error("no_traffic must not fail")
	}

	panels := rep.Panels()
	// Two panels titled P95: one per row, told apart by id.
	want := map[string]Status{"RPS": StatusOK, "P95": StatusNoTraffic, "TF P95": StatusOK, "Mixed": StatusOK, "Typo": StatusUnknownMetric}
	if len(panels) != len(want) {
		t.Fatalf("Panels() = %v", panels)
	}
	for _, p := range panels {
		name := strings.TrimSpace(p.Row + " " + p.Title)
		if want[name] != p.Status {
			t.Errorf("panel %s: %s, want %s", name, p.Status, want[name])
		}
	}
	w := rep.WaitingPanels()
	if len(w) != 1 || w[0].String() != `dashboard "s / demo", panel "P95": no data until requests arrive (waits for a_bucket)` {
		t.Errorf("WaitingPanels() = %v", w)
	}

	var b bytes.Buffer
	if err := rep.Format(&b, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "\n") != 1+5 || strings.Contains(out, "1 series") || !strings.Contains(out, "  unknown_metric dashboard") {
		t.Errorf("Format:\n%s", out)
	}
	b.Reset()
	_ = rep.Format(&b, true)
	if strings.Count(b.String(), "\n") != 1+9 {
		t.Errorf("Format verbose:\n%s", b.String())
	}
}
