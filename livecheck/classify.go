package livecheck

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/stackgen/stackgen/internal/editdist"
)

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
		switch why, wait := ti.selectorVerdict(sel, live, cat); {
		case why != "":
			once(&problems, why)
			once(&missing, "missing:"+n)
		case wait:
			once(&waiting, "waiting:"+n) // the metric exists, not yet for the selected targets
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
		if d := editdist.Levenshtein(n, c); d < bestD || (d == bestD && best != "" && c < best) {
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

// ruleHealth checks the rules Prometheus has loaded (engine prometheus):
// a rendered rule Prometheus has not loaded (its rule file was not
// reloaded, or the reload failed) or whose evaluation fails (health "err")
// is an error, unless the rule's query already failed.
func ruleHealth(ctx context.Context, api v1.API, rep *Report, timeout time.Duration) error {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := api.Rules(rctx, nil)
	if err != nil {
		return fmt.Errorf("livecheck: prometheus: list rules: %w", err)
	}
	type key struct{ name, model string }
	loaded := map[key]v1.AlertingRule{}
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			if ar, ok := r.(v1.AlertingRule); ok {
				loaded[key{ar.Name, string(ar.Labels["model"])}] = ar
			}
		}
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Kind != KindRule || r.Status.Failed() {
			continue
		}
		ar, ok := loaded[key{r.Rule, r.Model}]
		switch {
		case !ok:
			r.Status = StatusError
			r.Detail = "Prometheus has not loaded this alert rule: its rule file was not (re)loaded or the reload failed (see Prometheus' log)"
		case ar.Health == v1.RuleHealthBad:
			r.Status = StatusError
			r.Detail = "Prometheus fails to evaluate the loaded rule: " + ar.LastError
		}
	}
	return nil
}
