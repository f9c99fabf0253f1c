package livecheck

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// targetInfo is what Prometheus' scrape targets look like: the labels of
// every active target (after relabelling), and, for metrics the queries
// select by target labels, which target label sets have series of them.
type targetInfo struct {
	// targets are the label sets of the active targets.
	targets []map[string]string
	// names are the label names any target carries (job, instance, model…).
	names map[string]bool
	// groups[metric] are the distinct target label sets among the metric's
	// series in the lookback window.
	groups map[string][]map[string]string
}

// fetchTargets lists the active scrape targets (one call).
func fetchTargets(ctx context.Context, api v1.API, timeout time.Duration) (targetInfo, error) {
	ti := targetInfo{names: map[string]bool{}, groups: map[string][]map[string]string{}}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := api.Targets(tctx)
	if err != nil {
		return ti, fmt.Errorf("list targets: %w", err)
	}
	for _, t := range res.Active {
		ls := map[string]string{}
		for k, v := range t.Labels {
			if !strings.HasPrefix(string(k), "__") {
				ls[string(k)] = string(v)
				ti.names[string(k)] = true
			}
		}
		ti.targets = append(ti.targets, ls)
	}
	return ti, nil
}

// targetMatchers returns the matchers of sel on target labels.
func (ti targetInfo) targetMatchers(sel selectorRef) []*labels.Matcher {
	var out []*labels.Matcher
	for _, m := range sel.matchers {
		if m.Name != labels.MetricName && ti.names[m.Name] {
			out = append(out, m)
		}
	}
	return out
}

// fetchGroups fills ti.groups for metric names: one Series call each, over
// the lookback window, keeping only target labels.
func (ti targetInfo) fetchGroups(ctx context.Context, api v1.API, names []string, end time.Time, opt Options) error {
	for _, n := range names {
		sctx, cancel := context.WithTimeout(ctx, opt.QueryTimeout)
		series, _, _, err := api.Series(sctx, []string{"{__name__=" + strconv.Quote(n) + "}"}, end.Add(-opt.Lookback), end)
		cancel()
		if err != nil {
			return fmt.Errorf("list series of %s: %w", n, err)
		}
		seen := map[string]bool{}
		for _, ls := range series {
			g := map[string]string{}
			var key []string
			for k := range ti.names {
				v := string(ls[model.LabelName(k)])
				g[k] = v
				key = append(key, k+"="+v)
			}
			sort.Strings(key)
			if k := strings.Join(key, "\xff"); !seen[k] {
				seen[k] = true
				ti.groups[n] = append(ti.groups[n], g)
			}
		}
	}
	return nil
}

// matchesAll reports whether the label set ls satisfies every matcher (an
// absent label is the empty value, as in PromQL).
func matchesAll(ls map[string]string, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

// selectorVerdict says whether a selector whose metric exists (or is known)
// can ever match, judged by the scrape targets its target-label matchers
// select: "" when it can (series exist, or a selected target exports the
// metric after traffic), otherwise why not. waiting reports that it can,
// but only after traffic.
func (ti targetInfo) selectorVerdict(sel selectorRef, live liveMetrics, cat catalog) (why string, waiting bool) {
	tm := ti.targetMatchers(sel)
	if len(tm) == 0 || len(ti.targets) == 0 {
		return "", false
	}
	for _, g := range ti.groups[sel.name] {
		if matchesAll(g, tm) {
			return "", false
		}
	}
	var selected []map[string]string
	for _, t := range ti.targets {
		if matchesAll(t, tm) {
			selected = append(selected, t)
		}
	}
	if len(selected) == 0 {
		if k, ok := cat[sel.name]; ok && k.jobs == nil && !strings.HasPrefix(k.by, "Prometheus, for every") {
			return "", true // ALERTS and the like: not tied to a target
		}
		return fmt.Sprintf("metric %s: no scrape target matches {%s}", sel.name, matcherText(tm)), false
	}
	if k, ok := cat[sel.name]; ok {
		if k.jobs == nil {
			return "", true
		}
		for _, t := range selected {
			for _, j := range k.jobs {
				if t["job"] == j {
					return "", true
				}
			}
		}
	}
	for _, t := range live.metaBy[sel.name] {
		if matchesAll(t, tm) {
			return "", true // declared, no sample yet
		}
	}
	return fmt.Sprintf("metric %s is exported by no target matching {%s}", sel.name, matcherText(tm)), false
}

func matcherText(ms []*labels.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}
