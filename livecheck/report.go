package livecheck

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Status is the verdict on one query.
type Status string

// Statuses of a Result, from best to worst.
const (
	// StatusOK: the query returned at least one series with a value that is
	// not NaN.
	StatusOK Status = "ok"
	// StatusNoTraffic: the query is valid and every metric it names exists in
	// Prometheus or is one the stack's components export once they serve
	// requests, but it returned nothing (or only NaN) yet. The panel shows
	// "No data" only until traffic arrives; this is not a failure.
	StatusNoTraffic Status = "no_traffic"
	// StatusError: Prometheus (or Prometheus' PromQL parser) rejected the
	// query, or it did not finish within the per-query timeout. A failure.
	StatusError Status = "error"
	// StatusUnknownMetric: the query names a metric that no scrape target
	// exports and that none of the stack's components exports after traffic
	// either (typically a misspelled name). The panel would show "No data"
	// forever. A failure.
	StatusUnknownMetric Status = "unknown_metric"
)

// Failed reports whether s fails `stackgen up` (error or unknown_metric).
func (s Status) Failed() bool { return s == StatusError || s == StatusUnknownMetric }

// Kind says where a checked query comes from.
type Kind string

// Kinds of a Result.
const (
	// KindPanel is a query (target) of a dashboard panel.
	KindPanel Kind = "panel"
	// KindRule is the value query of an alert rule.
	KindRule Kind = "rule"
)

// Result is the verdict on one query: one per (dashboard, panel, query) and
// one per alert rule instance (alert × model).
type Result struct {
	// Kind is KindPanel or KindRule.
	Kind Kind `json:"kind"`
	// Dashboard is the dashboard title, DashboardUID its uid and
	// DashboardFile its path in the deploy folder (panels only).
	Dashboard     string `json:"dashboard,omitempty"`
	DashboardUID  string `json:"dashboard_uid,omitempty"`
	DashboardFile string `json:"dashboard_file,omitempty"`
	// Row is the title of the row the panel is in, Panel the panel title,
	// PanelID its id in the dashboard and RefID the query's refId in the
	// panel (panels only).
	Row     string `json:"row,omitempty"`
	Panel   string `json:"panel,omitempty"`
	PanelID int    `json:"panel_id,omitempty"`
	RefID   string `json:"ref_id,omitempty"`
	// Rule is the alert name (the alertname label) and RuleTitle the
	// Grafana rule title, unique per model (rules only).
	Rule      string `json:"rule,omitempty"`
	RuleTitle string `json:"rule_title,omitempty"`
	// Model is the model the rule watches (rules only; empty for a
	// stack-wide custom alert).
	Model string `json:"model,omitempty"`
	// Query is the PromQL sent to Prometheus, Grafana variables expanded.
	Query string `json:"query"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Detail says why, in one human sentence (e.g. "metric foo_total is
	// exported by no target").
	Detail string `json:"detail"`
	// Metrics are the metric names the query reads, sorted.
	Metrics []string `json:"metrics,omitempty"`
	// Missing are the metric names of Metrics that have no series in
	// Prometheus yet (unknown ones for StatusUnknownMetric, ones that wait
	// for traffic for StatusNoTraffic).
	Missing []string `json:"missing,omitempty"`
	// Series is the number of series with at least one value that is not NaN.
	Series int `json:"series"`
}

// Where names the query's origin: `dashboard "demo / demo", row
// "Exporter: traffic and latency", panel "P95 latency", query B` or `alert
// rule "high_error_ratio" (model "demo")`.
func (r Result) Where() string {
	if r.Kind == KindRule {
		if r.Model == "" {
			return fmt.Sprintf("alert rule %q", r.Rule)
		}
		return fmt.Sprintf("alert rule %q (model %q)", r.Rule, r.Model)
	}
	w := panelWhere(r.Dashboard, r.Row, r.Panel)
	if r.RefID != "" {
		w += ", query " + r.RefID
	}
	return w
}

func panelWhere(dashboard, row, panel string) string {
	if row == "" {
		return fmt.Sprintf("dashboard %q, panel %q", dashboard, panel)
	}
	return fmt.Sprintf("dashboard %q, row %q, panel %q", dashboard, row, panel)
}

// String is one line for a person: where, the query, and the detail:
//
//	dashboard "demo / demo", row "Exporter: traffic and latency", panel "Requests/s", query A: `sum(rate(foo_total[5m]))`: metric foo_total is exported by no target
func (r Result) String() string {
	return fmt.Sprintf("%s: `%s`: %s", r.Where(), r.Query, r.Detail)
}

// Report is the outcome of Check: every Result in a stable order (the
// dashboards by file name, panels and queries in dashboard order, then the
// alert rules in catalog order).
type Report struct {
	// Results holds one Result per checked query.
	Results []Result `json:"results"`
	// Engine is the alerting engine whose rules were checked (grafana or
	// prometheus).
	Engine string `json:"engine"`
}

// Failures returns the results that fail `stackgen up`: StatusError and
// StatusUnknownMetric, in report order.
func (r Report) Failures() []Result {
	return r.filter(func(s Status) bool { return s.Failed() })
}

// NoTraffic returns the results that are empty only for lack of traffic
// (StatusNoTraffic), in report order. `stackgen status` lists them as such.
func (r Report) NoTraffic() []Result {
	return r.filter(func(s Status) bool { return s == StatusNoTraffic })
}

func (r Report) filter(keep func(Status) bool) []Result {
	var out []Result
	for _, x := range r.Results {
		if keep(x.Status) {
			out = append(out, x)
		}
	}
	return out
}

// Counts returns how many results have each status.
func (r Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, x := range r.Results {
		c[x.Status]++
	}
	return c
}

// Summary is one line: "42 queries: 30 ok, 12 no traffic yet, 0 failed".
func (r Report) Summary() string {
	c := r.Counts()
	return fmt.Sprintf("%d queries: %d ok, %d no traffic yet, %d failed (%d error, %d unknown metric)",
		len(r.Results), c[StatusOK], c[StatusNoTraffic], c[StatusError]+c[StatusUnknownMetric],
		c[StatusError], c[StatusUnknownMetric])
}

// Err returns nil when nothing failed, else an error whose message lists
// every failure, one per line (what `stackgen up` prints before exit 1).
func (r Report) Err() error {
	f := r.Failures()
	if len(f) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d dashboard and alert queries would never show data:", len(f), len(r.Results))
	for _, x := range f {
		b.WriteString("\n  ")
		b.WriteString(x.String())
	}
	return errors.New(b.String())
}

// Format writes the summary line, then the failures and the panels waiting
// for traffic, one per line with a status prefix. With verbose, ok results
// are listed too.
func (r Report) Format(w io.Writer, verbose bool) error {
	if _, err := fmt.Fprintln(w, r.Summary()); err != nil {
		return err
	}
	for _, x := range r.Results {
		if x.Status == StatusOK && !verbose {
			continue
		}
		if _, err := fmt.Fprintf(w, "  %-14s %s\n", x.Status, x); err != nil {
			return err
		}
	}
	return nil
}

// Panel is the verdict on one dashboard panel, from its queries' results.
type Panel struct {
	// Dashboard, DashboardUID, Row, Title and ID name the panel.
	Dashboard    string `json:"dashboard"`
	DashboardUID string `json:"dashboard_uid"`
	Row          string `json:"row,omitempty"`
	Title        string `json:"panel"`
	ID           int    `json:"panel_id"`
	// Status is error or unknown_metric when a query failed (the first
	// failure's), else ok when a query has data, else no_traffic: Grafana
	// shows "No data" only when every query of the panel is empty.
	Status Status `json:"status"`
	// Results are the panel's queries.
	Results []Result `json:"results"`
}

// String is one line: `dashboard "demo / demo", row "Exporter: traffic and
// latency", panel "P95 latency": no data until requests arrive (waits for
// http_request_duration_seconds_bucket)`.
func (p Panel) String() string {
	w := panelWhere(p.Dashboard, p.Row, p.Title)
	switch p.Status {
	case StatusOK:
		return w + ": ok"
	case StatusNoTraffic:
		var waits []string
		seen := map[string]bool{}
		for _, r := range p.Results {
			for _, m := range r.Missing {
				if !seen[m] {
					seen[m] = true
					waits = append(waits, m)
				}
			}
		}
		if len(waits) == 0 {
			return w + ": no data until requests arrive"
		}
		return w + ": no data until requests arrive (waits for " + strings.Join(waits, ", ") + ")"
	}
	for _, r := range p.Results {
		if r.Status == p.Status {
			return r.String()
		}
	}
	return w + ": " + string(p.Status)
}

// Panels groups the panel results by dashboard and panel, in report order.
func (r Report) Panels() []Panel {
	var out []Panel
	index := map[string]int{}
	for _, x := range r.Results {
		if x.Kind != KindPanel {
			continue
		}
		k := fmt.Sprintf("%s\x00%d\x00%s\x00%s", x.DashboardUID, x.PanelID, x.Row, x.Panel)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Panel{Dashboard: x.Dashboard, DashboardUID: x.DashboardUID, Row: x.Row, Title: x.Panel, ID: x.PanelID})
		}
		out[i].Results = append(out[i].Results, x)
	}
	for i := range out {
		out[i].Status = panelStatus(out[i].Results)
	}
	return out
}

func panelStatus(rs []Result) Status {
	st := StatusNoTraffic
	for _, x := range rs {
		if x.Status.Failed() {
			return x.Status
		}
		if x.Status == StatusOK {
			st = StatusOK
		}
	}
	return st
}

// WaitingPanels returns the panels that are empty only for lack of
// traffic: every query is no_traffic. `stackgen status` lists them as such.
func (r Report) WaitingPanels() []Panel {
	var out []Panel
	for _, p := range r.Panels() {
		if p.Status == StatusNoTraffic {
			out = append(out, p)
		}
	}
	return out
}
