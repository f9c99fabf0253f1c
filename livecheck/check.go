// Package livecheck rules out "No data": it evaluates every dashboard panel
// query and every alert rule of a stack against the live Prometheus and
// tells apart queries that are broken from queries that are only waiting
// for traffic.
//
// Use it once the stack is ready (every scrape target up):
//
//	rep, err := livecheck.Check(ctx, api, s) // api: v1.NewAPI(client) for s.PrometheusURL()
//	if err != nil { ... }                    // Prometheus unreachable, or s cannot be rendered
//	if err := rep.Err(); err != nil { ... }  // some query errors or names an unknown metric: exit 1
//	for _, r := range rep.NoTraffic() { fmt.Println("waiting for traffic:", r) }
//
// Every Result has a Status:
//
//   - ok: the query returned at least one series with a value that is not NaN.
//   - error: Prometheus' PromQL parser or the live Prometheus rejected the
//     query (syntax, unknown function, many-to-many matching, …), or it did
//     not finish within Options.QueryTimeout.
//   - unknown_metric: the query names a metric that has no series in
//     Prometheus, that no scrape target declares (HELP/TYPE metadata), and
//     that is not one the stack's components export after traffic
//     (KnownMetrics). Typically a misspelled name: "No data" forever.
//   - no_traffic: everything else that returned nothing or only NaN: the
//     metrics exist (or appear with the first request), the panel shows data
//     once requests arrive.
//
// Panel queries come from dashboards.Build (also when Grafana is disabled:
// the same queries are what users paste into Prometheus), evaluated as
// Grafana does: a range query over the dashboard's time range with the
// panel's $__interval as step, Grafana's variables ($__interval,
// $__rate_interval, $__range, template variables such as $model) expanded.
// Rule queries come from alerting.Rules: the value query Grafana evaluates
// (Prometheus' rule is that query compared with the threshold, empty while
// the alert does not fire), evaluated at one instant. With engine
// prometheus the health of the rules Prometheus has loaded is checked too.
//
// The work is bounded: identical queries run once, at most
// Options.Concurrency at a time, each with Options.QueryTimeout.
package livecheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/stackgen/stackgen/stack"
)

// Defaults of Options.
const (
	DefaultConcurrency  = 4
	DefaultQueryTimeout = 10 * time.Second
	DefaultLookback     = time.Hour
)

// Options tune CheckWith. Zero values take the defaults.
type Options struct {
	// Concurrency is the number of queries in flight at once (default 4).
	Concurrency int
	// QueryTimeout bounds each query; a slower query is an error (default
	// 10s). It is also sent to Prometheus as the query's timeout.
	QueryTimeout time.Duration
	// Lookback is how far back a metric name counts as present in
	// Prometheus (default 1h, the dashboards' time range).
	Lookback time.Duration
	// Time is the evaluation time (default: now).
	Time time.Time
	// SkipRules leaves the alert rules out.
	SkipRules bool
	// SkipRuleHealth skips asking Prometheus for the health of its loaded
	// rules (engine prometheus only).
	SkipRuleHealth bool
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	return o
}

// Check evaluates every panel query of s's dashboards and every alert rule
// of s against the Prometheus behind api, with the default Options. The
// returned error is about the check itself (Prometheus unreachable or
// answering garbage, the stack cannot be rendered, ctx ended); verdicts on
// queries are in the Report (see Report.Err and Report.NoTraffic).
func Check(ctx context.Context, api v1.API, s *stack.Stack) (Report, error) {
	return CheckWith(ctx, api, s, Options{})
}

// CheckWith is Check with options.
func CheckWith(ctx context.Context, api v1.API, s *stack.Stack, opt Options) (Report, error) {
	if s == nil {
		return Report{}, errors.New("livecheck: nil stack")
	}
	opt = opt.withDefaults()
	rep := Report{Engine: s.Alerting.Engine}
	lookup := func(label string, match []string) ([]string, error) {
		lctx, cancel := context.WithTimeout(ctx, opt.QueryTimeout)
		defer cancel()
		vals, _, _, err := api.LabelValues(lctx, label, match, opt.Time.Add(-opt.Lookback), opt.Time)
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = string(v)
		}
		return out, err
	}
	items, err := panelItems(s, lookup)
	if err != nil {
		return rep, fmt.Errorf("livecheck: %w", err)
	}
	if !opt.SkipRules {
		rules, err := ruleItems(s)
		if err != nil {
			return rep, fmt.Errorf("livecheck: %w", err)
		}
		items = append(items, rules...)
	}
	res, err := checkItems(ctx, api, items, knownCatalog(s), opt)
	if err != nil {
		return rep, err
	}
	rep.Results = res
	if !opt.SkipRules && !opt.SkipRuleHealth && s.Alerting.Engine == stack.EnginePrometheus {
		if err := ruleHealth(ctx, api, &rep, opt.QueryTimeout); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// checkItems runs the queries of items and classifies each result. What
// Prometheus knows (metric names, metadata, targets, series per target) is
// listed after the queries ran, so a metric that showed up during the check
// counts as present.
func checkItems(ctx context.Context, api v1.API, items []item, cat catalog, opt Options) ([]Result, error) {
	if err := run(ctx, api, items, opt); err != nil {
		return nil, err
	}
	end := opt.Time
	if d := time.Since(end); d >= 0 && d < time.Minute {
		end = time.Now() // include names that appeared while the queries ran
	}
	live, err := fetchLive(ctx, api, end, opt.Lookback, opt.QueryTimeout)
	if err != nil {
		return nil, fmt.Errorf("livecheck: prometheus: %w", err)
	}
	ti, err := fetchTargets(ctx, api, opt.QueryTimeout)
	if err != nil {
		return nil, fmt.Errorf("livecheck: prometheus: %w", err)
	}
	type parsed struct {
		sels []selectorRef
		err  error
	}
	byQuery := map[string]parsed{}
	need := map[string]bool{}
	for _, it := range items {
		q := it.res.Query
		if _, ok := byQuery[q]; ok {
			continue
		}
		sels, err := parseSelectors(q)
		byQuery[q] = parsed{sels, err}
		for _, sel := range sels {
			if live.series[sel.name] && len(ti.targetMatchers(sel)) > 0 {
				need[sel.name] = true
			}
		}
	}
	names := make([]string, 0, len(need))
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := ti.fetchGroups(ctx, api, names, end, opt); err != nil {
		return nil, fmt.Errorf("livecheck: prometheus: %w", err)
	}
	out := make([]Result, len(items))
	for i, it := range items {
		p := byQuery[it.res.Query]
		classify(&it.res, p.sels, p.err, live, ti, cat)
		out[i] = it.res
	}
	return out, nil
}

// outcome is what running one distinct query gave.
type outcome struct {
	val    model.Value
	err    error // query rejected or timed out: the verdict is error
	fatal  error // Prometheus unreachable: the check fails
	series int
}

type queryKey struct {
	query     string
	instant   bool
	rng, step time.Duration
}

// run evaluates the distinct queries of items with bounded concurrency and
// stores each outcome in the items' results (Series, Detail on error).
func run(ctx context.Context, api v1.API, items []item, opt Options) error {
	index := map[queryKey][]int{}
	var keys []queryKey
	for i, it := range items {
		k := queryKey{it.res.Query, it.instant, it.rng, it.step}
		if it.instant {
			k.rng, k.step = 0, 0
		}
		if _, ok := index[k]; !ok {
			keys = append(keys, k)
		}
		index[k] = append(index[k], i)
	}
	outs := make([]outcome, len(keys))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opt.Concurrency, len(keys)) {
		wg.Go(func() {
			for j := range jobs {
				outs[j] = evaluate(ctx, api, keys[j], opt)
				if outs[j].fatal != nil {
					cancel()
				}
			}
		})
	}
feed:
	for j := range keys {
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for j, k := range keys {
		o := outs[j]
		if o.fatal != nil {
			return fmt.Errorf("livecheck: prometheus: query %s: %w", k.query, o.fatal)
		}
		for _, i := range index[k] {
			items[i].res.Series = o.series
			if o.err != nil {
				items[i].res.Status = StatusError
				items[i].res.Detail = o.err.Error()
			}
		}
	}
	return ctx.Err()
}

// evaluate runs one query. A query Prometheus rejects (bad_data,
// execution, its own timeout) or that outlives opt.QueryTimeout is an
// outcome.err; anything else (connection refused, 5xx) is fatal.
func evaluate(parent context.Context, api v1.API, k queryKey, opt Options) outcome {
	if parent.Err() != nil {
		return outcome{fatal: parent.Err()}
	}
	if _, err := metricNames(k.query); err != nil {
		return outcome{err: fmt.Errorf("PromQL parse error: %v", err)}
	}
	ctx, cancel := context.WithTimeout(parent, opt.QueryTimeout)
	defer cancel()
	var (
		val model.Value
		err error
	)
	if k.instant {
		val, _, _, err = api.Query(ctx, k.query, opt.Time, v1.WithTimeout(opt.QueryTimeout))
	} else {
		// Grafana floors both ends to a multiple of the step; the check ends
		// at opt.Time itself so that samples of the last step count (a
		// stack that just became ready has seconds of data).
		end := opt.Time
		start := end.Add(-k.rng)
		val, _, _, err = api.QueryRange(ctx, k.query, v1.Range{Start: start, End: end, Step: k.step}, v1.WithTimeout(opt.QueryTimeout))
	}
	if err == nil {
		return outcome{val: val, series: countSeries(val)}
	}
	var apiErr *v1.Error
	switch {
	case parent.Err() != nil:
		return outcome{fatal: parent.Err()}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return outcome{err: fmt.Errorf("the query did not finish within %s", opt.QueryTimeout)}
	case errors.As(err, &apiErr) && (apiErr.Type == v1.ErrBadData || apiErr.Type == v1.ErrExec ||
		apiErr.Type == v1.ErrTimeout || apiErr.Type == v1.ErrCanceled):
		return outcome{err: fmt.Errorf("Prometheus rejected the query: %s", apiErr.Msg)}
	}
	return outcome{fatal: err}
}

// countSeries counts the series of v with at least one value that is not
// NaN (a NaN-only result, such as histogram_quantile over zero rates, shows
// as "No data" too).
func countSeries(v model.Value) int {
	n := 0
	switch x := v.(type) {
	case model.Matrix:
		for _, ss := range x {
			ok := len(ss.Histograms) > 0
			for _, p := range ss.Values {
				if !math.IsNaN(float64(p.Value)) {
					ok = true
					break
				}
			}
			if ok {
				n++
			}
		}
	case model.Vector:
		for _, smp := range x {
			if smp.Histogram != nil || !math.IsNaN(float64(smp.Value)) {
				n++
			}
		}
	case *model.Scalar:
		if x != nil && !math.IsNaN(float64(x.Value)) {
			n++
		}
	case *model.String:
		if x != nil {
			n++
		}
	}
	return n
}

// classify sets r's Status and Detail from the query outcome already in r
// (Status error, or Series), the query's selectors (or parse error perr),
// what Prometheus knows and the catalog of metrics known after traffic.
//
// A selector fails when its metric has no series, no target declares it
// and the catalog does not know it; or when its matchers on target labels
// (job, model, instance…) select no scrape target, or only targets that
// neither have series of the metric nor export it after traffic (e.g.
// process_cpu_seconds_total{job="model_server"}).
func classify(r *Result, sels []selectorRef, perr error, live liveMetrics, ti targetInfo, cat catalog) {
	if perr != nil {
		r.Status = StatusError
		if r.Detail == "" {
			r.Detail = "PromQL parse error: " + perr.Error()
		}
		return
	}
	r.Metrics = namesOf(sels)
	if r.Status == StatusError {
		return
	}
	var problems, missing, waiting []string
	seen := map[string]bool{}
	once := func(list *[]string, s string) {
		if !seen[s] {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	for _, sel := range sels {
		n := sel.name
		_, isKnown := cat[n]
		switch {
		case live.series[n]:
		case live.meta[n] || isKnown:
			once(&waiting, "waiting:"+n)
		default:
			p := "metric " + n + " is exported by no target"
			if sug := suggest(n, live, cat); sug != "" {
				p += " (did you mean " + sug + "?)"
			}
			once(&problems, p)
			once(&missing, "missing:"+n)
			continue
		}
		if why, _ := ti.selectorVerdict(sel, live, cat); why != "" {
			once(&problems, why)
			once(&missing, "missing:"+n)
		}
	}
	if len(problems) > 0 {
		r.Status = StatusUnknownMetric
		r.Missing = trimPrefix(missing, "missing:")
		sort.Strings(r.Missing)
		r.Detail = strings.Join(problems, "; ")
		return
	}
	if r.Series > 0 {
		r.Status = StatusOK
		r.Detail = fmt.Sprintf("%d series", r.Series)
		return
	}
	r.Status = StatusNoTraffic
	r.Missing = trimPrefix(waiting, "waiting:")
	sort.Strings(r.Missing)
	if len(r.Missing) == 0 {
		r.Detail = "no data yet: its metrics exist, but no series matches yet (expected until requests arrive)"
		return
	}
	parts := make([]string, len(r.Missing))
	for i, n := range r.Missing {
		by := cat[n].by
		if by == "" {
			by = "a scrape target declares it"
		}
		parts[i] = fmt.Sprintf("%s (%s)", n, by)
	}
	r.Detail = "no data yet: no series yet of " + strings.Join(parts, ", ") + "; they appear with the first requests"
}

func trimPrefix(list []string, prefix string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.TrimPrefix(s, prefix)
	}
	return out
}

// suggest returns the closest live or known metric name to n, if close.
func suggest(n string, live liveMetrics, known catalog) string {
	best, bestD := "", len(n)/3+1
	try := func(c string) {
		if d := levenshtein(n, c); d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	for c := range live.series {
		try(c)
	}
	for c := range known {
		try(c)
	}
	if best == n {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	if a == b {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ruleHealth marks rules whose evaluation fails in Prometheus (health
// "err", engine prometheus) as errors: the rule file was loaded but
// Prometheus cannot evaluate it.
func ruleHealth(ctx context.Context, api v1.API, rep *Report, timeout time.Duration) error {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := api.Rules(rctx, nil)
	if err != nil {
		return fmt.Errorf("livecheck: prometheus: list rules: %w", err)
	}
	bad := map[[2]string]string{} // (alert name, model) → last error
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			ar, ok := r.(v1.AlertingRule)
			if !ok || ar.Health != v1.RuleHealthBad {
				continue
			}
			bad[[2]string{ar.Name, string(ar.Labels["model"])}] = ar.LastError
		}
	}
	if len(bad) == 0 {
		return nil
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Kind != KindRule {
			continue
		}
		if msg, ok := bad[[2]string{r.Rule, r.Model}]; ok {
			r.Status = StatusError
			r.Detail = "Prometheus fails to evaluate the loaded rule: " + msg
		}
	}
	return nil
}
