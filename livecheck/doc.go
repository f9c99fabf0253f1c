// Package livecheck rules out "No data": it evaluates every dashboard panel
// query and every alert rule of a stack against the live Prometheus and
// tells queries that are broken apart from queries that only wait for
// traffic.
//
// Call it once the stack is ready (every scrape target up):
//
//	rep, err := livecheck.CheckURL(ctx, s.PrometheusURL(), s) // or Check with a v1.API
//	if err != nil { ... }                    // the check itself failed: Prometheus unreachable or hanging, ctx ended
//	if err := rep.Err(); err != nil { ... }  // some query errors or names an unknown metric: up exits 1
//	for _, p := range rep.WaitingPanels() {  // status: panels empty only for lack of traffic
//		fmt.Println(p)                   // dashboard "demo / demo", panel "P95 latency": no data until requests arrive (waits for …)
//	}
//
// Every Result (one per dashboard, panel and query, and one per alert rule
// instance) has a Status:
//
//   - ok: the query returned at least one series with a value that is not NaN.
//   - error: Prometheus' PromQL parser or the live Prometheus rejected the
//     query (syntax, unknown function, many-to-many matching, …), it did not
//     finish within Options.QueryTimeout; or (engine prometheus, alert rules)
//     Prometheus has not loaded the rendered rule (no reload, or the reload
//     failed) or reports its evaluation as failing.
//   - unknown_metric: the query names a metric that no scrape target
//     exports: it has no series in Prometheus, no target declares it
//     (HELP/TYPE metadata), and it is not one the stack's components export
//     after traffic (KnownMetrics); or its matchers on target labels (job,
//     model, instance) select no scrape target, or only targets that neither
//     have series of it nor export it after traffic. Typically a misspelled
//     metric, job or model name: "No data" forever.
//   - no_traffic: the query is fine but returned nothing or only NaN (for
//     example histogram_quantile before the first request): the panel shows
//     data once requests arrive. Not a failure.
//
// Panel queries come from dashboards.Build, also when Grafana is disabled
// (the queries are what users paste into Prometheus too). They are
// evaluated as Grafana does: a range query over the dashboard's time range
// with the panel's $__interval as step, Grafana's variables ($__interval,
// $__rate_interval, $__range, template variables such as $model)
// expanded. Rule queries come from alerting.Rules: the value query Grafana
// evaluates (Prometheus' rule is that query compared with the threshold,
// empty while the alert does not fire), evaluated at one instant.
//
// The work is bounded: identical queries run once, at most
// Options.Concurrency at a time, each within Options.QueryTimeout, and the
// check gives up after Options.MaxTimeouts timeouts. A 50-model stack
// (2,264 queries) takes about 3 s on a loaded 2-core machine.
package livecheck
