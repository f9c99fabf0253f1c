// Package report writes `stackgen report`: one self-contained HTML page of
// evidence that a running stack works, for users who must hand in proof and
// for stacks without Grafana (the offline demo, CI).
//
//	r, err := report.Collect(ctx, s, report.Options{From: from, To: to, API: promAPI, MailURL: s.HostURL(s.SMTP.WebPort)})
//	path, err := report.Write(r, "report")   // report/index.html + one PNG per panel with data
//
// The page has a header (stack, range, stackgen version, services with image
// and health, scrape targets with health); every dashboard dashboards.Build
// renders, panel by panel in the dashboards' order and rows (Dashboards reads
// the built JSON: the same PromQL, units, thresholds, legends and value
// mappings; the tests compare the two programmatically), each row laid out
// on Grafana's 24-column grid from the panels' gridPos (a CSS grid, charts
// sized by w×h); the alert rules with state, value and active since at To
// and the firing history (engine prometheus: the ALERTS series; engine
// grafana: Grafana's alerting API, see Grafana, falling back to the value
// against the threshold when Grafana does not answer); and the alert emails
// the mail catcher received in the range.
//
// Panels are drawn from Prometheus' query_range (client_golang's
// api/prometheus/v1) at one step for the whole report: the range over
// DefaultMaxPoints, not below the scrape interval. Time series become PNG
// charts drawn with gonum.org/v1/plot (fonts embedded in the binary: nothing
// is fetched) with the panel's unit on the axis, its thresholds as dashed
// lines and an HTML legend in the series' colours; stat panels show the
// last value that is not NaN in the panel's unit, mapped ("UP") and coloured
// by its thresholds, over a small chart; bar charts (instant table queries
// at To, options.xField as the x axis) are grouped bars, one colour per
// query; a panel without data says "No data" and shows its queries, and a
// panel type the report does not draw says so and lists its queries. html/template escapes everything that comes
// from Prometheus or an email.
//
// A rule shows the value of its firing (else pending) instance, or without
// one the worst of its series (the maximum for > rules, the minimum for <);
// without an alert state source (engine grafana, Grafana not answering) its
// state is the value against the condition: "condition met (0.5 > 0.2)" or
// "not met (1 ≥ 1)". A source that fails never reads as "nothing happened":
// rules are "unknown" when ALERTS cannot be read, and the page prints the
// error instead of "No alert was pending or firing" / "No email was
// received". The firing history is max_over_time(ALERTS[w]) at the step (w:
// the step, at least the evaluation interval), so an alert firing for less
// than a step, between two steps, is still listed.
//
// The same data and To give the same bytes: times are UTC, series sorted by
// labels, colours by position, and rule states come from the ALERTS and
// ALERTS_FOR_STATE series at To (not from the rules API's "now").
package report
