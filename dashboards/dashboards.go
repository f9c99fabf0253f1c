// Package dashboards builds a stack's Grafana dashboards: one per model
// (grafana/dashboards/<model>.json) and an overview of all models
// (grafana/dashboards/_overview.json).
//
// A model's dashboard carries the panels of the seed stacks stackgen
// replaces: seed 000's exporter panels (RPS, p95 latency, CPU in cores, RAM
// in MiB, target health, open FDs, threads) with their exact queries plus a
// model="<name>" matcher, the error ratio as the high_error_ratio alert
// counts it (every code but 2xx/3xx) with 5xx and 4xx apart, in-flight
// requests, upstream failures and predictions; for models with drift
// configured, a "Data drift" row (drift.go); and, for models whose server exports TF Serving metrics, seed
// 002's panels (total requests, by status, RPS, errors, error ratio, average
// and p95/p99 latency in ms). The overview carries seed 000's queries
// verbatim (job matcher only), one series per model.
//
// Dashboards are built on github.com/grafana-tools/sdk types, extended where
// the frozen sdk falls short (see model.go), and marshalled deterministically.
package dashboards

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"

	"github.com/grafana-tools/sdk"

	"github.com/stackgen/stackgen/stack"
)

// Dir is the folder of the dashboard files, relative to the deploy folder.
const Dir = "grafana/dashboards"

// OverviewFile is the overview dashboard's file. Model names cannot start
// with '_', so it never collides with a model's file.
const OverviewFile = Dir + "/_overview.json"

// SchemaVersion is the dashboard JSON schema version the dashboards are
// written in (Grafana 10.4/11). Newer Grafana migrates them on load; the JSON
// already has what the later migrations (40: string refresh, 41: no
// timepicker.time_options) produce.
const SchemaVersion = 39

// Refresh is the dashboards' auto-refresh interval.
const Refresh = "10s"

// MaxUIDLength is the longest dashboard uid Grafana accepts.
const MaxUIDLength = 40

// gridWidth is the width of Grafana's dashboard grid.
const gridWidth = 24

// ModelFile is the dashboard file of model m, relative to the deploy folder.
func ModelFile(m stack.Model) string { return path.Join(Dir, m.Name+".json") }

// ModelUID is the stable uid of model m's dashboard in stack s:
// "<stack>-<model>" when that fits Grafana's uid rules, else a prefix of it
// and a hash of both names.
func ModelUID(s *stack.Stack, m stack.Model) string { return uid("model", s.Name, m.Name) }

// OverviewUID is the stable uid of stack s's overview dashboard:
// "<stack>--overview" (a model uid never has "--" after the stack name,
// since model names start with a letter or digit).
func OverviewUID(s *stack.Stack) string { return uid("overview", s.Name, "-overview") }

var (
	uidRE     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	uidBadRun = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)
)

// uid joins stack and name into a Grafana dashboard uid ([a-zA-Z0-9_-], at
// most 40 characters). Names that do not fit are shortened and made unique
// with a hash of kind, stack and name.
func uid(kind, stackName, name string) string {
	u := stackName + "-" + name
	if len(u) <= MaxUIDLength && uidRE.MatchString(u) {
		return u
	}
	sum := sha256.Sum256([]byte(kind + "\x00" + stackName + "\x00" + name))
	h := hex.EncodeToString(sum[:])[:10]
	p := uidBadRun.ReplaceAllString(u, "_")
	if maxPrefix := MaxUIDLength - len(h) - 1; len(p) > maxPrefix {
		p = p[:maxPrefix]
	}
	return p + "-" + h
}

// Build returns the dashboards of s keyed by path relative to the deploy
// folder: ModelFile(m) for every model and OverviewFile. The same stack
// always gives the same bytes.
func Build(s *stack.Stack) (map[string][]byte, error) {
	if s == nil {
		return nil, errors.New("dashboards: nil stack")
	}
	if len(s.Models) == 0 {
		return nil, fmt.Errorf("dashboards: stack %q has no models", s.Name)
	}
	out := make(map[string][]byte, len(s.Models)+1)
	uids := map[string]string{}
	add := func(file, uid string, d *dashboard) error {
		if prev, ok := uids[uid]; ok {
			return fmt.Errorf("dashboards: %s and %s would share uid %q", prev, file, uid)
		}
		if _, ok := out[file]; ok {
			return fmt.Errorf("dashboards: two dashboards would be written to %s", file)
		}
		data, err := marshal(d)
		if err != nil {
			return fmt.Errorf("dashboards: marshal %s: %w", file, err)
		}
		uids[uid] = file
		out[file] = data
		return nil
	}
	for _, m := range s.Models {
		d, err := modelDashboard(s, m)
		if err != nil {
			return nil, fmt.Errorf("dashboards: model %q: %w", m.Name, err)
		}
		if err := add(ModelFile(m), d.UID, d); err != nil {
			return nil, err
		}
	}
	d := overviewDashboard(s)
	if err := add(OverviewFile, d.UID, d); err != nil {
		return nil, err
	}
	return out, nil
}

// marshal writes d as indented JSON, leaving <, > and & unescaped so that
// PromQL comparisons stay readable.
func marshal(d *dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newDashboard returns an empty dashboard with stackgen's settings. It does
// not use sdk.NewBoard, which assigns ids from a package-global counter.
func newDashboard(s *stack.Stack, uid, title, description string, tags ...string) *dashboard {
	d := &dashboard{
		Board: sdk.Board{
			UID:           uid,
			Title:         title,
			Timezone:      "browser",
			Editable:      false, // provisioned with allowUiUpdates false: UI edits cannot be saved
			GraphTooltip:  1,     // shared crosshair
			SchemaVersion: SchemaVersion,
			Refresh:       &sdk.BoolString{Value: Refresh},
			Time:          sdk.Time{From: "now-1h", To: "now"},
			Templating:    sdk.Templating{List: []sdk.TemplateVar{}},
			Links: []sdk.Link{{
				Title:      s.Name + " dashboards",
				Type:       "dashboards",
				Tags:       []string{"stackgen", s.Name},
				AsDropdown: boolp(true),
				KeepTime:   boolp(true),
			}},
		},
		Description: description,
		Panels:      []gridItem{},
		Timepicker:  timepicker{RefreshIntervals: []string{"5s", "10s", "30s", "1m", "5m", "15m", "30m", "1h"}},
	}
	d.Annotations.List = []sdk.Annotation{}
	d.AddTags(append([]string{"stackgen", s.Name}, tags...)...)
	return d
}

func boolp(b bool) *bool        { return &b }
func intp(i int) *int           { return &i }
func floatp(f float64) *float64 { return &f }

// layout places panels left to right on Grafana's 24-column grid, wrapping
// to a new line when a panel does not fit, and numbers them from 1.
type layout struct {
	d     *dashboard
	ds    datasourceRef
	id    uint
	x, y  int
	lineH int
}

func newLayout(d *dashboard) *layout {
	return &layout{d: d, ds: datasourceRef{Type: "prometheus", UID: stack.GrafanaDatasourceUID}}
}

// place assigns the next id and a grid position of w×h to p.
func (l *layout) place(p *sdk.CommonPanel, w, h int) {
	if l.x+w > gridWidth {
		l.newline()
	}
	l.id++
	p.ID = l.id
	p.GridPos.X, p.GridPos.Y, p.GridPos.W, p.GridPos.H = intp(l.x), intp(l.y), intp(w), intp(h)
	l.x += w
	l.lineH = max(l.lineH, h)
}

func (l *layout) newline() {
	l.y += l.lineH
	l.x, l.lineH = 0, 0
}

// row starts a new line with a full-width row header.
func (l *layout) row(title string) {
	if l.x > 0 {
		l.newline()
	}
	r := &rowPanel{CommonPanel: sdk.CommonPanel{Title: title, Type: "row", Datasource: l.ds}, Panels: []gridItem{}}
	l.place(&r.CommonPanel, gridWidth, 1)
	l.newline()
	l.d.Panels = append(l.d.Panels, r)
}

// series is one query of a panel and its legend.
type series struct {
	expr, legend string
}

// level is a threshold step: from value at on, the color applies.
type level struct {
	at    float64
	color string
}

// spec describes a panel before it is placed.
type spec struct {
	title, description string
	unit               string
	decimals           *int
	min, max           *float64
	// base is the color below the first level (default green).
	base     string
	levels   []level
	mappings []valueMapping
	// axisLabel is a timeseries panel's y axis label.
	axisLabel string
	queries   []series
	w, h      int
}

// timeseries adds a timeseries panel.
func (l *layout) timeseries(sp spec) {
	p := l.viz(sp, &timeseriesOptions{
		Legend: legendOptions{
			TimeseriesLegendOptions: sdk.TimeseriesLegendOptions{Calcs: []string{}, DisplayMode: "list", Placement: "bottom"},
			ShowLegend:              true,
		},
		Tooltip: tooltipOptions{TimeseriesTooltipOptions: sdk.TimeseriesTooltipOptions{Mode: "multi"}, Sort: "desc"},
	})
	p.FieldConfig.Defaults.Color = sdk.FieldConfigColor{Mode: "palette-classic"}
	p.FieldConfig.Defaults.Custom = &timeseriesCustom{
		DrawStyle:         "line",
		LineInterpolation: "linear",
		LineWidth:         1,
		FillOpacity:       10,
		ShowPoints:        "never",
		AxisLabel:         sp.axisLabel,
		AxisSoftMin:       floatp(0),
	}
}

// stat adds a stat panel showing the last value, colored by thresholds.
func (l *layout) stat(sp spec) {
	p := l.viz(sp, &statOptions{
		ReduceOptions: reduceOptions{Calcs: []string{"lastNotNull"}, Fields: ""},
		Orientation:   "auto",
		TextMode:      "auto",
		ColorMode:     "value",
		GraphMode:     "area",
		JustifyMode:   "auto",
	})
	p.FieldConfig.Defaults.Color = sdk.FieldConfigColor{Mode: "thresholds"}
}

func (l *layout) viz(sp spec, opts panelOptions) *vizPanel {
	p := &vizPanel{
		CommonPanel: sdk.CommonPanel{Title: sp.title, Type: opts.panelType(), Datasource: l.ds},
		Targets:     make([]query, len(sp.queries)),
		Options:     opts,
		FieldConfig: fieldConfig{Overrides: []override{}},
	}
	if sp.description != "" {
		p.Description = &sp.description
	}
	for i, q := range sp.queries {
		p.Targets[i] = query{
			Target: sdk.Target{
				RefID:        string(rune('A' + i)),
				Datasource:   l.ds,
				Expr:         q.expr,
				LegendFormat: q.legend,
			},
			Range:      true,
			EditorMode: "code",
		}
	}
	base := sp.base
	if base == "" {
		base = "green"
	}
	steps := []sdk.ThresholdStep{{Color: base}} // first step: value null (-Infinity)
	for _, lv := range sp.levels {
		steps = append(steps, sdk.ThresholdStep{Color: lv.color, Value: floatp(lv.at)})
	}
	mappings := sp.mappings
	if mappings == nil {
		mappings = []valueMapping{}
	}
	p.FieldConfig.Defaults = fieldDefaults{
		Unit:       sp.unit,
		Decimals:   sp.decimals,
		Min:        sp.min,
		Max:        sp.max,
		Thresholds: sdk.Thresholds{Mode: "absolute", Steps: steps},
		Mappings:   mappings,
	}
	l.place(&p.CommonPanel, sp.w, sp.h)
	l.d.Panels = append(l.d.Panels, p)
	return p
}

// upMapping shows Prometheus' up metric as UP/DOWN.
var upMapping = []valueMapping{{Type: "value", Options: map[string]mappingResult{
	"0": {Text: "DOWN", Color: "red", Index: 0},
	"1": {Text: "UP", Color: "green", Index: 1},
}}}

// Thresholds shared by the dashboards, used as they are when no alert sets
// the level (see alertLevels).
var (
	latencySecondsLevels = []level{{0.5, "yellow"}, {1, "red"}}
	latencyMsLevels      = []level{{500, "yellow"}, {1000, "red"}}
	errorRatioLevels     = []level{{0.01, "yellow"}, {0.05, "red"}}
	cpuLevels            = []level{{0.7, "yellow"}, {0.9, "red"}} // cores
)

// Names of the default alerts (stack.DefaultAlerts) the stat thresholds follow.
const (
	alertHighErrorRatio = "high_error_ratio"
	alertHighLatencyP95 = "high_latency_p95"
	alertHighCPU        = "high_cpu"
)

// alertRule says how a panel's thresholds follow an alert: the effective
// alert of kind on source, preferably the one called name.
type alertRule struct {
	name, kind, source string
	// warn is the share of the alert threshold from which the panel turns yellow.
	warn float64
	// scale converts the alert's unit to the panel's (1000 for s to ms).
	scale float64
	// fallback is used when no such alert applies.
	fallback []level
}

var (
	exporterErrorRatio = alertRule{alertHighErrorRatio, stack.AlertErrorRatioHigh, stack.SourceExporter, 0.2, 1, errorRatioLevels}
	exporterLatencyP95 = alertRule{alertHighLatencyP95, stack.AlertLatencyP95High, stack.SourceExporter, 0.5, 1, latencySecondsLevels}
	exporterCPU        = alertRule{alertHighCPU, stack.AlertCPUHigh, stack.SourceExporter, 0.75, 1, cpuLevels}
	tfErrorRatio       = alertRule{"", stack.AlertErrorRatioHigh, stack.SourceModelServer, 0.2, 1, errorRatioLevels}
	tfLatencyP95       = alertRule{"", stack.AlertLatencyP95High, stack.SourceModelServer, 0.5, 1000, latencyMsLevels}
)

// alertLevels returns the thresholds of a panel that watches what rule's
// alert watches on model (the overview passes "" and follows only alerts that
// apply to every model): red from the alert's threshold, where it fires, and
// yellow from warn × threshold. Without such an alert it is rule.fallback.
func alertLevels(s *stack.Stack, model string, rule alertRule) []level {
	t, ok := alertThreshold(s, model, rule)
	if !ok {
		return rule.fallback
	}
	t = round(t * rule.scale)
	if warn := round(t * rule.warn); warn > 0 && warn < t {
		return []level{{warn, "yellow"}, {t, "red"}}
	}
	return []level{{t, "red"}}
}

// alertThreshold is the threshold of the effective alert rule follows on
// model: the one named rule.name if it applies, else the lowest threshold of
// the other alerts of the kind and source (the first to fire).
func alertThreshold(s *stack.Stack, model string, rule alertRule) (float64, bool) {
	var (
		best  float64
		found bool
	)
	for _, a := range s.EffectiveAlerts() {
		if a.Kind != rule.kind || a.Source != rule.source || a.Threshold == nil || (a.Model != "" && a.Model != model) {
			continue
		}
		if rule.name != "" && a.Name == rule.name {
			return *a.Threshold, true
		}
		if !found || *a.Threshold < best {
			best, found = *a.Threshold, true
		}
	}
	return best, found
}

// round keeps 6 significant digits, so that derived levels read 0.01, not
// 0.010000000000000002.
func round(f float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 6, 64), 64)
	if err != nil {
		return f
	}
	return r
}

// exporterSelector matches the exporter job, and one model's exporter when
// model is not empty.
func exporterSelector(s *stack.Stack, model string) selector {
	sel := selector{eq("job", s.Prometheus.JobName)}
	if model != "" {
		sel = append(sel, eq(stack.ModelLabel, model))
	}
	return sel
}

// Titles and descriptions of panels both dashboards carry.
const (
	errorRatioTitle       = "Error ratio (4xx + 5xx)"
	errorRatioDescription = "Share of requests answered with a status code other than 2xx or 3xx (5m), as the " +
		alertHighErrorRatio + " alert counts failed requests: a 400 for an invalid payload is a failed prediction too."
	cpuTitle       = "CPU (cores)"
	cpuDescription = "CPU seconds per second, 5m rate: 1 = one full core."
	// The seed's "RAM MB" query divides by 1024 * 1024: mebibytes.
	ramTitle       = "RAM (MiB)"
	ramDescription = "Resident memory, 5m average, in MiB (1024 × 1024 bytes)."
)

func modelDashboard(s *stack.Stack, m stack.Model) (*dashboard, error) {
	d := newDashboard(s, ModelUID(s, m),
		fmt.Sprintf("%s / %s", s.Name, m.Name),
		fmt.Sprintf("Model %q (%s) of stack %q: exporter proxy metrics (job %q)%s. Generated by stackgen from stack.yaml; edit stack.yaml and re-render instead of this file.",
			m.Name, m.Kind, s.Name, s.Prometheus.JobName, tfNote(m)),
		"model", m.Kind)
	l := newLayout(d)
	sel := exporterSelector(s, m.Name)
	q := seed000(sel)
	ratio := func(code labelMatcher) string { return codeRatio(sel, code, "") }

	l.row("Exporter: traffic and latency")
	l.stat(spec{title: "Requests/s", unit: "reqps", min: floatp(0), queries: []series{{q.RPS, "requests/s"}}, w: 6, h: 4})
	l.stat(spec{title: "P95 latency", unit: "s", min: floatp(0), levels: alertLevels(s, m.Name, exporterLatencyP95),
		queries: []series{{q.P95, "p95"}}, w: 6, h: 4})
	l.stat(spec{title: errorRatioTitle, description: errorRatioDescription, unit: "percentunit", decimals: intp(2), min: floatp(0), max: floatp(1),
		levels: alertLevels(s, m.Name, exporterErrorRatio), queries: []series{{ratio(codeFailed), "4xx + 5xx"}}, w: 6, h: 4})
	l.stat(spec{title: "Target health", description: "up: whether Prometheus can scrape the exporter.", unit: "short",
		base: "red", levels: []level{{1, "green"}}, mappings: upMapping, queries: []series{{q.Up, "{{instance}}"}}, w: 6, h: 4})
	l.timeseries(spec{title: "Requests/s (RPS)", unit: "reqps", min: floatp(0), queries: []series{{q.RPS, "requests/s"}}, w: 12, h: 8})
	l.timeseries(spec{title: "Latency (P95)", unit: "s", min: floatp(0), queries: []series{
		{q.P95, "p95"}, {latencyQuantile("0.5", sel), "p50"}, {latencyQuantile("0.99", sel), "p99"},
	}, w: 12, h: 8})
	l.timeseries(spec{title: errorRatioTitle, description: errorRatioDescription + " 5xx and 4xx are also shown apart for diagnosis.",
		unit: "percentunit", decimals: intp(2), min: floatp(0), max: floatp(1),
		queries: []series{{ratio(codeFailed), "4xx + 5xx"}, {ratio(code5xx), "5xx"}, {ratio(code4xx), "4xx"}}, w: 8, h: 8})
	l.timeseries(spec{title: "Requests/s by route and code", unit: "reqps", min: floatp(0), queries: []series{
		{fmt.Sprintf(`sum by (route, code) (rate(http_requests_total{%s}[1m]))`, sel), "{{route}} {{code}}"},
	}, w: 8, h: 8})
	l.timeseries(spec{title: "Requests in flight", unit: "short", min: floatp(0), queries: []series{
		{fmt.Sprintf(`sum(http_requests_in_flight{%s})`, sel), "in flight"},
	}, w: 8, h: 8})

	l.row("Exporter: upstream model server and predictions")
	l.timeseries(spec{title: "Upstream latency", description: "Time the model server took to answer forwarded requests.",
		unit: "s", min: floatp(0), queries: []series{
			{fmt.Sprintf(`histogram_quantile(0.95, sum by(le) (rate(upstream_request_duration_seconds_bucket{%s}[5m])))`, sel), "p95"},
			{fmt.Sprintf(`histogram_quantile(0.5, sum by(le) (rate(upstream_request_duration_seconds_bucket{%s}[5m])))`, sel), "p50"},
		}, w: 6, h: 8})
	l.timeseries(spec{title: "Upstream failures/s by cause", description: "Forwarded requests with no valid answer: timeout, refused, bad_response.",
		unit: "reqps", min: floatp(0), queries: []series{
			{fmt.Sprintf(`sum by (cause) (rate(upstream_failures_total{%s}[5m]))`, sel), "{{cause}}"},
		}, w: 6, h: 8})
	l.timeseries(spec{title: "Predictions/s by class", unit: "short", min: floatp(0), queries: []series{
		{fmt.Sprintf(`sum by (class) (rate(model_predictions_total{%s}[5m]))`, sel), "{{class}}"},
	}, w: 6, h: 8})
	l.timeseries(spec{title: "Rows per request", description: "Average input rows per inference request (5m).",
		unit: "short", min: floatp(0), queries: []series{
			{fmt.Sprintf(`sum(rate(model_request_rows_sum{%s}[5m])) / sum(rate(model_request_rows_count{%s}[5m]))`, sel, sel), "rows/request"},
		}, w: 6, h: 8})

	l.row("Exporter: process")
	l.timeseries(spec{title: cpuTitle, description: cpuDescription, unit: "short", axisLabel: "cores", min: floatp(0),
		levels: alertLevels(s, m.Name, exporterCPU), queries: []series{{q.CPU, "{{instance}}"}}, w: 6, h: 8})
	l.timeseries(spec{title: ramTitle, description: ramDescription, unit: "mbytes", decimals: intp(1), min: floatp(0),
		queries: []series{{q.RAMMB, "{{instance}}"}}, w: 6, h: 8})
	l.timeseries(spec{title: "Open file descriptors", unit: "short", min: floatp(0), queries: []series{{q.OpenFDs, "{{instance}}"}}, w: 6, h: 8})
	l.timeseries(spec{title: "Threads", unit: "short", min: floatp(0), queries: []series{{q.Threads, "{{instance}}"}}, w: 6, h: 8})

	if m.DriftEnabled() {
		driftRow(s, l, m, m.Drift.Baseline)
	}
	if m.ExportsTFServingMetrics() {
		if m.ModelName == "" {
			return nil, errors.New("the model server exports TF Serving metrics but model_name is empty")
		}
		tfRow(s, l, m)
	}
	return d, nil
}

func tfNote(m stack.Model) string {
	if !m.ExportsTFServingMetrics() {
		return ""
	}
	return fmt.Sprintf(" and TF Serving metrics of model_name %q (job %q)", m.ModelName, stack.ModelServerJob)
}

// tfRow adds seed 002's TF Serving panels for model m.
func tfRow(s *stack.Stack, l *layout, m stack.Model) {
	target := selector{eq("job", stack.ModelServerJob), eq(stack.ModelLabel, m.Name)}
	t := seed002(target, target.with(eq("model_name", m.ModelName)))
	l.row(fmt.Sprintf("TF Serving: %s (model server)", m.ModelName))
	l.stat(spec{title: "Model server health", unit: "short", base: "red", levels: []level{{1, "green"}}, mappings: upMapping,
		queries: []series{{t.Up, "{{instance}}"}}, w: 4, h: 4})
	l.stat(spec{title: "Total requests", description: "Requests since the model server started.", unit: "short", min: floatp(0),
		queries: []series{{t.Total, "total"}}, w: 4, h: 4})
	l.stat(spec{title: "Requests/s", unit: "reqps", min: floatp(0), queries: []series{{t.RPSTotal, "requests/s"}}, w: 4, h: 4})
	l.stat(spec{title: "Error ratio", unit: "percentunit", decimals: intp(2), min: floatp(0), max: floatp(1),
		levels: alertLevels(s, m.Name, tfErrorRatio), queries: []series{{t.ErrorRatio, "errors"}}, w: 4, h: 4})
	l.stat(spec{title: "Average latency", description: "REST predict latency since start (sum/count).", unit: "ms", min: floatp(0),
		levels: latencyMsLevels, queries: []series{{t.AvgLatencyMs, "{{instance}}"}}, w: 4, h: 4})
	l.stat(spec{title: "P95 latency", unit: "ms", min: floatp(0), levels: alertLevels(s, m.Name, tfLatencyP95),
		queries: []series{{t.P95Ms, "p95"}}, w: 4, h: 4})
	l.timeseries(spec{title: "Requests by status", description: "Cumulative request count by status.", unit: "short", min: floatp(0),
		queries: []series{{t.ByStatus, "{{status}}"}}, w: 12, h: 8})
	l.timeseries(spec{title: "Requests/s (RPS)", unit: "reqps", min: floatp(0), queries: []series{
		{t.RPS1m, "{{status}} [1m]"}, {t.RPS5m, "{{status}} [5m, smoother]"},
	}, w: 12, h: 8})
	l.timeseries(spec{title: "Errors/s", description: "Requests whose status is not OK.", unit: "reqps", min: floatp(0),
		queries: []series{{t.ErrorsPerSec, "{{status}}"}}, w: 6, h: 8})
	l.timeseries(spec{title: "Error ratio", unit: "percentunit", decimals: intp(2), min: floatp(0), max: floatp(1),
		queries: []series{{t.ErrorRatio, "errors"}}, w: 6, h: 8})
	l.timeseries(spec{title: "Average latency", unit: "ms", min: floatp(0), queries: []series{{t.AvgLatencyMs, "{{instance}}"}}, w: 6, h: 8})
	l.timeseries(spec{title: "Latency (P95 / P99)", unit: "ms", min: floatp(0), queries: []series{
		{t.P95Ms, "p95"}, {t.P99Ms, "p99"},
	}, w: 6, h: 8})
}

// overviewDashboard shows every model of s side by side with seed 000's
// queries as written in the seed (job matcher only), one series per model.
func overviewDashboard(s *stack.Stack) *dashboard {
	// Model names have no spaces, so this title never equals a model's
	// (Grafana needs unique titles within the folder).
	d := newDashboard(s, OverviewUID(s), s.Name+" / all models",
		fmt.Sprintf("All models of stack %q (exporter job %q). Generated by stackgen from stack.yaml; edit stack.yaml and re-render instead of this file.",
			s.Name, s.Prometheus.JobName),
		"overview")
	l := newLayout(d)
	sel := exporterSelector(s, "")
	q := seed000(sel)
	byModel := "{{" + stack.ModelLabel + "}}"
	l.stat(spec{title: "Requests/s (all models)", unit: "reqps", min: floatp(0), queries: []series{{q.RPS, "requests/s"}}, w: 6, h: 4})
	l.stat(spec{title: "P95 latency (all models)", unit: "s", min: floatp(0), levels: alertLevels(s, "", exporterLatencyP95),
		queries: []series{{q.P95, "p95"}}, w: 6, h: 4})
	l.stat(spec{title: errorRatioTitle + " (all models)", description: errorRatioDescription, unit: "percentunit", decimals: intp(2), min: floatp(0), max: floatp(1),
		levels: alertLevels(s, "", exporterErrorRatio), queries: []series{{codeRatio(sel, codeFailed, ""), "4xx + 5xx"}}, w: 6, h: 4})
	l.stat(spec{title: "Exporters up", description: fmt.Sprintf("Exporters Prometheus can scrape, of %d.", len(s.Models)),
		unit: "short", min: floatp(0), max: floatp(float64(len(s.Models))), base: "red",
		levels:  []level{{float64(len(s.Models)), "green"}},
		queries: []series{{fmt.Sprintf(`sum(up{%s})`, sel), "up"}}, w: 6, h: 4})
	l.timeseries(spec{title: "Requests/s by model", unit: "reqps", min: floatp(0), queries: []series{
		{fmt.Sprintf(`sum by (%s) (rate(http_requests_total{%s}[1m]))`, stack.ModelLabel, sel), byModel},
	}, w: 12, h: 8})
	l.timeseries(spec{title: "P95 latency by model", unit: "s", min: floatp(0), queries: []series{
		{fmt.Sprintf(`histogram_quantile(0.95, sum by(le, %s) (rate(http_request_duration_seconds_bucket{%s}[5m])))`, stack.ModelLabel, sel), byModel},
	}, w: 12, h: 8})
	for _, r := range []struct {
		title, description string
		code               labelMatcher
	}{
		{errorRatioTitle + " by model", errorRatioDescription, codeFailed},
		{"5xx error ratio by model", "Share of requests answered with a 5xx status code (5m).", code5xx},
		{"4xx error ratio by model", "Share of requests answered with a 4xx status code (5m), e.g. 400 for an invalid payload.", code4xx},
	} {
		l.timeseries(spec{title: r.title, description: r.description, unit: "percentunit", decimals: intp(2), min: floatp(0), max: floatp(1),
			queries: []series{{codeRatio(sel, r.code, stack.ModelLabel), byModel}}, w: 8, h: 8})
	}
	l.timeseries(spec{title: "Target health", unit: "short", min: floatp(0), max: floatp(1), mappings: upMapping,
		queries: []series{{q.Up, byModel}}, w: 24, h: 6})
	l.timeseries(spec{title: cpuTitle, description: cpuDescription, unit: "short", axisLabel: "cores", min: floatp(0),
		levels: alertLevels(s, "", exporterCPU), queries: []series{{q.CPU, byModel}}, w: 6, h: 8})
	l.timeseries(spec{title: ramTitle, description: ramDescription, unit: "mbytes", decimals: intp(1), min: floatp(0),
		queries: []series{{q.RAMMB, byModel}}, w: 6, h: 8})
	l.timeseries(spec{title: "Open file descriptors", unit: "short", min: floatp(0), queries: []series{{q.OpenFDs, byModel}}, w: 6, h: 8})
	l.timeseries(spec{title: "Threads", unit: "short", min: floatp(0), queries: []series{{q.Threads, byModel}}, w: 6, h: 8})
	return d
}
