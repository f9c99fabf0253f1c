package livecheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/stack"
)

// item is one query to check and where it comes from.
type item struct {
	res Result
	// instant: evaluate at one instant (rules); else a range query over
	// [end-rng, end] with step (panels, as Grafana asks).
	instant bool
	rng     time.Duration
	step    time.Duration
}

// The subset of Grafana's dashboard JSON model livecheck reads. Plain
// structs rather than grafana-tools/sdk's: the sdk's Board has no panel
// targets for the panel types stackgen writes (see dashboards/model.go).
type boardJSON struct {
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Time       timeJSON    `json:"time"`
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []variableJSON `json:"list"`
	} `json:"templating"`
}

type timeJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type panelJSON struct {
	ID          int             `json:"id"`
	Title       string          `json:"title"`
	Type        string          `json:"type"`
	Datasource  json.RawMessage `json:"datasource"`
	Targets     []targetJSON    `json:"targets"`
	Panels      []panelJSON     `json:"panels"` // a collapsed row's panels
	Interval    string          `json:"interval"`
	MaxDataPts  int             `json:"maxDataPoints"`
	Description string          `json:"description"`
}

type targetJSON struct {
	RefID      string          `json:"refId"`
	Expr       string          `json:"expr"`
	Hide       bool            `json:"hide"`
	Instant    bool            `json:"instant"`
	Range      *bool           `json:"range"`
	Datasource json.RawMessage `json:"datasource"`
}

// variableJSON is a dashboard template variable.
type variableJSON struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

// defaultMaxDataPoints is the number of points a panel asks for when its
// JSON does not say: Grafana uses the panel's width in pixels; a half-width
// panel on a 1920-pixel screen is about this wide.
const defaultMaxDataPoints = 800

// panelItems returns the queries of every dashboard of s, in file order.
// Variables are expanded with vars (see expand).
func panelItems(s *stack.Stack, lookup labelLookup) ([]item, error) {
	files, err := dashboards.Build(s)
	if err != nil {
		return nil, fmt.Errorf("build dashboards: %w", err)
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	scrape := s.Prometheus.ScrapeInterval.D()
	if scrape <= 0 {
		scrape = 15 * time.Second // Grafana's default when the data source sets no timeInterval
	}
	var out []item
	for _, file := range names {
		var b boardJSON
		if err := json.Unmarshal(files[file], &b); err != nil {
			return nil, fmt.Errorf("decode dashboard %s: %w", file, err)
		}
		rng := timeRange(b.Time)
		vars, err := templateValues(b.Templating.List, s, lookup)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", file, err)
		}
		var walk func(ps []panelJSON, row string)
		walk = func(ps []panelJSON, row string) {
			for _, p := range ps {
				if p.Type == "row" {
					row = p.Title // the panels after a row header belong to it
					walk(p.Panels, row)
					continue
				}
				walk(p.Panels, row)
				if !isPrometheus(p.Datasource, true) {
					continue
				}
				mdp := p.MaxDataPts
				if mdp <= 0 {
					mdp = defaultMaxDataPoints
				}
				iv := interval(rng, mdp, scrape, p.Interval)
				builtins := builtinValues(rng, iv, scrape)
				for _, t := range p.Targets {
					if t.Hide || strings.TrimSpace(t.Expr) == "" || !isPrometheus(t.Datasource, true) {
						continue
					}
					out = append(out, item{
						res: Result{
							Kind: KindPanel, Dashboard: b.Title, DashboardUID: b.UID, DashboardFile: file,
							Row: row, Panel: p.Title, PanelID: p.ID, RefID: t.RefID, Query: expand(t.Expr, builtins, vars),
						},
						instant: t.Instant && (t.Range == nil || !*t.Range),
						rng:     rng,
						step:    iv,
					})
				}
			}
		}
		walk(b.Panels, "")
	}
	return out, nil
}

// ruleItems returns the value query of every alert rule instance of s.
// Grafana evaluates exactly this query (then reduces and compares it);
// Prometheus evaluates "query op threshold", which is empty whenever the
// alert does not fire, so the value query is what tells "no data" apart.
func ruleItems(s *stack.Stack) ([]item, error) {
	rules, err := alerting.Rules(s)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	out := make([]item, 0, len(rules))
	for _, r := range rules {
		out = append(out, item{
			res:     Result{Kind: KindRule, Rule: r.Name, RuleTitle: r.Title, Model: r.Model, Query: r.Query.Value},
			instant: true,
		})
	}
	return out, nil
}

// isPrometheus reports whether a panel's or query's datasource reference
// points at a Prometheus data source. An absent reference inherits
// (inherit's value); a bare string is a legacy data source name.
func isPrometheus(raw json.RawMessage, inherit bool) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return inherit
	}
	var ref struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return true // legacy name string: assume the default (Prometheus) data source
	}
	switch ref.Type {
	case "prometheus":
		return true
	case "":
		return ref.UID != "-- Grafana --" && ref.UID != "-- Mixed --" && ref.UID != "-- Dashboard --"
	}
	return false
}

var relTimeRE = regexp.MustCompile(`^now-(\d+)([smhdwy])$`)

// timeRange is the length of a dashboard's default time range ("now-1h" to
// "now"); 1h when it is not of that form.
func timeRange(t timeJSON) time.Duration {
	m := relTimeRE.FindStringSubmatch(t.From)
	if m == nil || (t.To != "now" && t.To != "") {
		return time.Hour
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	if n <= 0 {
		return time.Hour
	}
	return time.Duration(n) * unit
}

// interval is Grafana's $__interval for a panel: the time range divided by
// the panel's max data points, rounded to Grafana's "nice" steps, and not
// below the data source's minimum interval (the scrape interval) or the
// panel's own min interval.
func interval(rng time.Duration, maxDataPoints int, scrape time.Duration, panelMin string) time.Duration {
	iv := roundInterval(rng / time.Duration(maxDataPoints))
	floor := scrape
	if d, err := parseGrafanaDuration(strings.TrimPrefix(panelMin, ">")); err == nil && d > floor {
		floor = d
	}
	return max(iv, floor)
}

// roundInterval is Grafana's rangeutil.roundInterval: the nearest "nice"
// interval at or below the raw one.
func roundInterval(d time.Duration) time.Duration {
	ms := d.Milliseconds()
	steps := []struct{ below, to int64 }{
		{15, 10}, {35, 20}, {75, 50}, {150, 100}, {350, 200}, {750, 500}, {1500, 1000},
		{3500, 2000}, {7500, 5000}, {12500, 10000}, {17500, 15000}, {25000, 20000}, {45000, 30000},
		{90000, 60000}, {210000, 120000}, {450000, 300000}, {750000, 600000}, {1050000, 900000},
		{1500000, 1200000}, {2700000, 1800000}, {5400000, 3600000}, {9000000, 7200000},
		{16200000, 10800000}, {32400000, 21600000}, {86400000, 43200000}, {604800000, 86400000},
	}
	for _, s := range steps {
		if ms < s.below {
			return time.Duration(s.to) * time.Millisecond
		}
	}
	return 7 * 24 * time.Hour
}

// parseGrafanaDuration reads "30s", "1m", "500ms".
func parseGrafanaDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	return time.ParseDuration(s)
}

// builtinValues are Grafana's global variables for a panel query, as the
// Prometheus data source computes them.
func builtinValues(rng, iv, scrape time.Duration) map[string]string {
	rate := max(iv+scrape, 4*scrape) // $__rate_interval
	return map[string]string{
		"__interval":         promDuration(iv),
		"__interval_ms":      strconv.FormatInt(iv.Milliseconds(), 10),
		"__rate_interval":    promDuration(rate),
		"__rate_interval_ms": strconv.FormatInt(rate.Milliseconds(), 10),
		"__range":            promDuration(rng),
		"__range_s":          strconv.FormatInt(int64(rng.Seconds()), 10),
		"__range_ms":         strconv.FormatInt(rng.Milliseconds(), 10),
	}
}

// promDuration writes d as a PromQL duration: whole seconds as "90s",
// anything finer in milliseconds ("500ms"), as Grafana does.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// varRE matches Grafana's variable syntaxes: ${name}, ${name:format},
// [[name]], [[name:format]] and $name.
var varRE = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)`)

// expand replaces the variables Grafana knows (builtins and the dashboard's
// template variables) and leaves every other $word as it is, as Grafana
// does: Prometheus then rejects the query, and so does the check.
func expand(expr string, builtins, vars map[string]string) string {
	return varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := varRE.FindStringSubmatch(m)
		name := sm[1] + sm[3] + sm[5]
		if v, ok := builtins[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// labelLookup returns the values of a label among series matching match
// (PromQL selectors), as Grafana's label_values() variable query does.
type labelLookup func(label string, match []string) ([]string, error)

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$`)

// templateValues resolves every template variable of a dashboard to the
// text Grafana's Prometheus data source would put in the query: a single
// value as it is; several values (multi-value or "All") as (a|b) with
// regexp metacharacters escaped. A variable whose current value is "All"
// takes its allValue, else every option: for a label_values() query
// variable the live label values (lookup), for a "model" variable with no
// options the stack's models.
func templateValues(list []variableJSON, s *stack.Stack, lookup labelLookup) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range list {
		cur := currentValues(v.Current.Value)
		all := len(cur) == 0 || (len(cur) == 1 && (cur[0] == "$__all" || cur[0] == "All"))
		if all && v.AllValue != "" {
			out[v.Name] = v.AllValue
			continue
		}
		vals := cur
		if all {
			var err error
			if vals, err = optionValues(v, s, lookup); err != nil {
				return nil, fmt.Errorf("template variable %s: %w", v.Name, err)
			}
		}
		out[v.Name] = formatValues(vals, v.Multi || v.IncludeAll)
	}
	return out, nil
}

func currentValues(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

func optionValues(v variableJSON, s *stack.Stack, lookup labelLookup) ([]string, error) {
	var vals []string
	for _, o := range v.Options {
		if o.Value != "$__all" {
			vals = append(vals, o.Value)
		}
	}
	if len(vals) > 0 {
		return vals, nil
	}
	var q string
	if json.Unmarshal(v.Query, &q) != nil {
		var obj struct {
			Query string `json:"query"`
		}
		_ = json.Unmarshal(v.Query, &obj)
		q = obj.Query
	}
	if m := labelValuesRE.FindStringSubmatch(q); m != nil && lookup != nil {
		var match []string
		if m[1] != "" {
			match = []string{m[1]}
		}
		return lookup(m[2], match)
	}
	if v.Name == "model" {
		for _, m := range s.Models {
			vals = append(vals, m.Name)
		}
		return vals, nil
	}
	if v.Name == "job" {
		return []string{s.Prometheus.JobName}, nil
	}
	if v.Type == "custom" {
		for _, part := range strings.Split(q, ",") {
			if p := strings.TrimSpace(part); p != "" {
				vals = append(vals, p)
			}
		}
	}
	return vals, nil
}

// formatValues is Grafana's Prometheus interpolation: a single value of a
// single-value variable as is; otherwise (a|b) with regexp escaping.
func formatValues(vals []string, multi bool) string {
	if !multi && len(vals) == 1 {
		return vals[0]
	}
	esc := make([]string, len(vals))
	for i, v := range vals {
		esc[i] = regexpEscape(v)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// regexpEscape is Grafana's prometheusSpecialRegexEscape: metacharacters
// escaped with a backslash that survives the PromQL string literal.
func regexpEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\^$*+?.()|{}[]`, r) {
			b.WriteString(`\\`)
		}
		b.WriteRune(r)
	}
	return b.String()
}
