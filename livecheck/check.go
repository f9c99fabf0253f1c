package livecheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/stackgen/stackgen/stack"
)

// Defaults of Options.
const (
	DefaultConcurrency  = 4
	DefaultQueryTimeout = 10 * time.Second
	DefaultLookback     = time.Hour
	DefaultMaxTimeouts  = 5
	DefaultMaxPoints    = 120
)

// Options tune CheckWith. Zero values take the defaults.
type Options struct {
	// Concurrency is the number of queries in flight at once (default 4).
	Concurrency int
	// QueryTimeout bounds each query; a slower query is an error (default
	// 10s). It is also sent to Prometheus as the query's timeout.
	QueryTimeout time.Duration
	// MaxTimeouts is how many queries may time out before the check stops
	// with an error: Prometheus is overloaded or hangs (default 5).
	MaxTimeouts int
	// MaxPoints bounds the points of a panel's range query (default 120,
	// a 30s step over the dashboards' hour). Grafana asks for one point per
	// $__interval (5s with a 5s scrape interval: 720 points); whether a
	// panel has data does not need that resolution, and Prometheus' cost
	// grows with it (every point re-reads its rate window). A coarser step
	// can only turn ok into no_traffic, never hide a failure.
	MaxPoints int
	// Lookback is how far back a metric name counts as present in
	// Prometheus (default 1h, the dashboards' time range).
	Lookback time.Duration
	// Time is the evaluation time (default: now).
	Time time.Time
	// SkipRules leaves the alert rules out.
	SkipRules bool
	// SkipRuleHealth skips comparing the rendered alert rules with the ones
	// Prometheus has loaded and their health (engine prometheus only).
	SkipRuleHealth bool
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.MaxTimeouts <= 0 {
		o.MaxTimeouts = DefaultMaxTimeouts
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = DefaultMaxPoints
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	return o
}

// Check evaluates every panel query of s's dashboards and every alert rule
// of s against the Prometheus behind api, with the default Options. The
// returned error is about the check itself (Prometheus unreachable or
// answering garbage or hanging, the stack cannot be rendered, ctx ended);
// verdicts on queries are in the Report: Report.Err fails `up`,
// Report.WaitingPanels lists the panels empty only for lack of traffic.
func Check(ctx context.Context, api v1.API, s *stack.Stack) (Report, error) {
	return CheckWith(ctx, api, s, Options{})
}

// CheckURL is Check against the Prometheus at prometheusURL (e.g.
// s.PrometheusURL()), with the default Options and an HTTP client of its
// own: no client-wide timeout (each query has Options.QueryTimeout), at
// most Options.Concurrency connections.
func CheckURL(ctx context.Context, prometheusURL string, s *stack.Stack) (Report, error) {
	return CheckURLWith(ctx, prometheusURL, s, Options{})
}

// CheckURLWith is CheckURL with options.
func CheckURLWith(ctx context.Context, prometheusURL string, s *stack.Stack, opt Options) (Report, error) {
	opt = opt.withDefaults()
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:       opt.Concurrency,
		MaxIdleConnsPerHost:   opt.Concurrency,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: opt.QueryTimeout + 5*time.Second,
	}
	defer tr.CloseIdleConnections()
	c, err := api.NewClient(api.Config{Address: prometheusURL, Client: &http.Client{Transport: tr}})
	if err != nil {
		return Report{}, fmt.Errorf("livecheck: prometheus client for %s: %w", prometheusURL, err)
	}
	return CheckWith(ctx, v1.NewAPI(c), s, opt)
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
	val      model.Value
	err      error // query rejected or timed out: the verdict is error
	timedOut bool  // err is the per-query timeout
	fatal    error // Prometheus unreachable: the check fails
	series   int
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
		k := queryKey{it.res.Query, it.instant, it.rng, max(it.step, it.rng/time.Duration(opt.MaxPoints))}
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
	var (
		mu       sync.Mutex
		fatal    error
		timeouts int
	)
	stop := func(err error) {
		mu.Lock()
		if fatal == nil {
			fatal = err
		}
		mu.Unlock()
		cancel()
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opt.Concurrency, len(keys)) {
		wg.Go(func() {
			for j := range jobs {
				o := evaluate(ctx, api, keys[j], opt)
				outs[j] = o
				switch {
				case o.fatal != nil:
					stop(fmt.Errorf("livecheck: prometheus: query %s: %w", keys[j].query, o.fatal))
				case o.timedOut:
					mu.Lock()
					timeouts++
					n := timeouts
					mu.Unlock()
					if n >= opt.MaxTimeouts {
						stop(fmt.Errorf("livecheck: prometheus: %d queries did not finish within %s; Prometheus is overloaded or hangs", n, opt.QueryTimeout))
					}
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
	if fatal != nil {
		return fatal
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("livecheck: %w", err)
	}
	for j, k := range keys {
		o := outs[j]
		for _, i := range index[k] {
			items[i].res.Series = o.series
			if o.err != nil {
				items[i].res.Status = StatusError
				items[i].res.Detail = o.err.Error()
			}
		}
	}
	return nil
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
	start := time.Now()
	var (
		val model.Value
		err error
	)
	// The query at opt.Time first: it is the last point of the panel's
	// range, so data there settles it at the cost of one point; only an
	// empty answer needs the whole range.
	val, _, _, err = api.Query(ctx, k.query, opt.Time, v1.WithTimeout(opt.QueryTimeout))
	if err == nil && !k.instant && countSeries(val) == 0 {
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
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		// The caller's http.Client may have a shorter timeout: say how long it took.
		return outcome{err: fmt.Errorf("the query did not finish within %s", time.Since(start).Round(100*time.Millisecond)), timedOut: true}
	case errors.As(err, &apiErr) && (apiErr.Type == v1.ErrBadData || apiErr.Type == v1.ErrExec ||
		apiErr.Type == v1.ErrTimeout || apiErr.Type == v1.ErrCanceled):
		return outcome{err: fmt.Errorf("Prometheus rejected the query: %s", apiErr.Msg)}
	}
	return outcome{fatal: err}
}

// isTimeout reports a network timeout, e.g. the caller's http.Client
// Timeout expiring.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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
