package report

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
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
	// DefaultMaxPoints bounds the points of a panel's range query: about one
	// per two pixels of a chart, enough to draw it, and Prometheus' cost
	// grows with points.
	DefaultMaxPoints = 300
	// DefaultConcurrency is the number of Prometheus queries in flight.
	DefaultConcurrency = 4
	// DefaultQueryTimeout bounds each query.
	DefaultQueryTimeout = 30 * time.Second
)

// Options say what to report on and where the data comes from.
type Options struct {
	// From and To are the time range (To is also the instant of rule values).
	From, To time.Time
	// API is the Prometheus API (client_golang); required.
	API v1.API
	// MailURL is the mail catcher's web address (e.g. http://127.0.0.1:8025);
	// empty leaves the emails out.
	MailURL string
	// HTTPClient asks the mail catcher (default: one with a 30s timeout).
	HTTPClient *http.Client
	// Services are the stack's services with image and health, as the
	// runner reports them; nil when Docker could not be asked
	// (ServicesError says why).
	Services      []Service
	ServicesError string
	// Grafana is the stack's Grafana, asked for the rule states and firing
	// history with engine grafana; nil falls back to the rule's value
	// compared with its threshold (GrafanaSkipped says why on the page).
	Grafana        *Grafana
	GrafanaSkipped string
	// Version is the stackgen version printed in the header.
	Version string
	// MaxPoints, Concurrency and QueryTimeout bound the queries (zero: defaults).
	MaxPoints    int
	Concurrency  int
	QueryTimeout time.Duration
}

// Service is one service in the header.
type Service struct {
	Name, Image, State, Health string
}

// Report is everything the page shows.
type Report struct {
	Stack         string
	Engine        string
	From, To      time.Time
	Step          time.Duration
	Version       string
	Services      []Service
	ServicesError string
	Targets       []TargetHealth
	TargetsError  string
	Dashboards    []DashboardData
	Rules         []RuleState
	RulesError    string
	History       []Firing
	HistoryError  string
	// HistorySource is where the history comes from (SourceALERTS or
	// SourceGrafana).
	HistorySource string
	Emails        []Email
	EmailsError   string
	MailEnabled   bool
}

// TargetHealth is one scrape target.
type TargetHealth struct {
	Job, Instance, ScrapeURL, Health, LastError string
}

// DashboardData is a dashboard with its panels' data.
type DashboardData struct {
	Dashboard
	Rows []RowData
}

// RowData is a row with its panels' data.
type RowData struct {
	Title  string
	Panels []PanelData
}

// PanelData is a panel with the data of its queries.
type PanelData struct {
	Panel
	// Series are the returned series, in query then label order.
	Series []Series
	// Errors are the failed queries' errors.
	Errors []string
	// Image is the chart's file name beside index.html ("" without data).
	Image string
	// Stats are a stat panel's values (last value of each series).
	Stats []Stat
	// Omitted counts the series beyond MaxSeries, not drawn.
	Omitted int
	// Bars is a bar chart's table (nil for other types).
	Bars *Bars
	// rowTop is the first grid line of the panel's row (see GridStyle).
	rowTop int
}

// NotDrawn reports whether the panel's type is one the report does not
// draw: the page names the type and lists its queries.
func (p PanelData) NotDrawn() bool { return !Drawn(p.Type) }

// MaxSeries bounds the series drawn per panel (the first in label order):
// a query selecting thousands of series would make an unreadable chart and
// an unbounded page.
const MaxSeries = 50

// capSeries keeps the first max series and says how many it dropped.
func capSeries(ss []Series, max int) ([]Series, int) {
	if len(ss) <= max {
		return ss, 0
	}
	return ss[:max], len(ss) - max
}

// HasData reports whether any series has a value that is not NaN.
func (p PanelData) HasData() bool {
	for _, s := range p.Series {
		for _, pt := range s.Points {
			if !math.IsNaN(pt.V) {
				return true
			}
		}
	}
	return false
}

// Series is one drawn line.
type Series struct {
	Name   string
	Color  string
	Points []Point
	// Category is a bar chart sample's x value (its xField label).
	Category string
	// Dashes is the line's dash pattern in pixels (on, off); nil: solid.
	Dashes []float64
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Stat is one big number of a stat panel.
type Stat struct {
	Name, Text, Color string
}

// Collect asks Prometheus (and the mail catcher) for everything s's report
// shows. Failures to reach a source are recorded in the report (the page
// says what is missing and why); the error is for a report that cannot be
// made at all (bad options, dashboards that do not build).
func Collect(ctx context.Context, s *stack.Stack, o Options) (*Report, error) {
	if o.API == nil {
		return nil, fmt.Errorf("report: no Prometheus API")
	}
	if !o.From.Before(o.To) {
		return nil, fmt.Errorf("report: --from (%s) must be before --to (%s)", o.From.UTC().Format(time.RFC3339), o.To.UTC().Format(time.RFC3339))
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = DefaultMaxPoints
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	dash, err := Dashboards(s)
	if err != nil {
		return nil, err
	}
	r := &Report{Stack: s.Name, Engine: s.Alerting.Engine, From: o.From.UTC(), To: o.To.UTC(), Version: o.Version,
		Services: o.Services, ServicesError: o.ServicesError, MailEnabled: o.MailURL != ""}
	r.Step = step(o.To.Sub(o.From), o.MaxPoints, s.Prometheus.ScrapeInterval.D())
	r.Targets, r.TargetsError = targets(ctx, o)
	r.Dashboards = panelData(ctx, dash, r.Step, o)
	if s.Alerting.Engine == stack.EngineGrafana {
		grafanaAlerts(ctx, s, o, r.Step, r)
	} else {
		r.History, r.HistoryError = history(ctx, r.Step, s.Prometheus.EvaluationInterval.D(), o)
		r.HistorySource = SourceALERTS
		r.Rules, r.RulesError = ruleStates(ctx, s, o, r.History, r.Step)
	}
	if o.MailURL != "" {
		r.Emails, r.EmailsError = emails(ctx, o)
	}
	return r, nil
}

// step is the range queries' resolution: the range over maxPoints, in
// whole seconds, not below the scrape interval.
func step(rng time.Duration, maxPoints int, scrape time.Duration) time.Duration {
	st := (rng + time.Duration(maxPoints) - 1) / time.Duration(maxPoints)
	st = st.Round(time.Second)
	if scrape <= 0 {
		scrape = 15 * time.Second
	}
	return max(st, scrape, time.Second)
}

func targets(ctx context.Context, o Options) ([]TargetHealth, string) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	res, err := o.API.Targets(ctx)
	if err != nil {
		return nil, fmt.Sprintf("Prometheus targets: %v", err)
	}
	out := make([]TargetHealth, 0, len(res.Active))
	for _, t := range res.Active {
		out = append(out, TargetHealth{Job: string(t.Labels["job"]), Instance: string(t.Labels["instance"]),
			ScrapeURL: t.ScrapeURL, Health: string(t.Health), LastError: t.LastError})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Job != out[j].Job {
			return out[i].Job < out[j].Job
		}
		return out[i].Instance < out[j].Instance
	})
	return out, ""
}

// palette is the series colours (Grafana's classic palette).
var palette = []string{"#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
	"#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477"}

// panelData runs every panel query over the range, at most o.Concurrency at once.
func panelData(ctx context.Context, dash []Dashboard, st time.Duration, o Options) []DashboardData {
	out := make([]DashboardData, len(dash))
	var jobs []*PanelData
	for i, d := range dash {
		out[i] = DashboardData{Dashboard: d}
		for _, row := range d.Rows {
			rd := RowData{Title: row.Title}
			for _, p := range row.Panels {
				rd.Panels = append(rd.Panels, PanelData{Panel: p})
			}
			top := rowTop(rd.Panels)
			for k := range rd.Panels {
				rd.Panels[k].rowTop = top
			}
			out[i].Rows = append(out[i].Rows, rd)
		}
	}
	for i := range out {
		for j := range out[i].Rows {
			for k := range out[i].Rows[j].Panels {
				if p := &out[i].Rows[j].Panels[k]; Drawn(p.Type) {
					jobs = append(jobs, p)
				}
			}
		}
	}
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	rng := v1.Range{Start: o.From, End: o.To, Step: st}
	for _, p := range jobs {
		results := make([][]Series, len(p.Targets))
		errs := make([]string, len(p.Targets))
		var pw sync.WaitGroup
		for ti, t := range p.Targets {
			wg.Add(1)
			pw.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; pw.Done(); wg.Done() }()
				if p.Type == TypeBarchart {
					results[ti], errs[ti] = instantSeries(ctx, o, t, p.XField)
				} else {
					results[ti], errs[ti] = rangeSeries(ctx, o, t, rng)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw.Wait()
			for ti, t := range p.Targets {
				for k := range results[ti] {
					results[ti][k].Dashes = p.Dashes(t.RefID, results[ti][k].Name)
				}
				p.Series = append(p.Series, results[ti]...)
				if errs[ti] != "" {
					p.Errors = append(p.Errors, errs[ti])
				}
			}
			if p.Type == TypeBarchart {
				p.Bars = buildBars(p.Series)
				return
			}
			p.Series, p.Omitted = capSeries(p.Series, MaxSeries)
			for i := range p.Series {
				p.Series[i].Color = palette[i%len(palette)]
			}
			p.Stats = stats(p)
		}()
	}
	wg.Wait()
	return out
}

func rangeSeries(ctx context.Context, o Options, t Target, rng v1.Range) ([]Series, string) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	v, _, _, err := o.API.QueryRange(ctx, t.Expr, rng, v1.WithTimeout(o.QueryTimeout))
	if err != nil {
		return nil, fmt.Sprintf("query %s: %v", t.RefID, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Sprintf("query %s: Prometheus answered a %s, not a matrix", t.RefID, v.Type())
	}
	sort.Sort(m)
	out := make([]Series, 0, len(m))
	for _, ss := range m {
		s := Series{Name: legend(t.Legend, ss.Metric)}
		for _, p := range ss.Values {
			s.Points = append(s.Points, Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
		}
		out = append(out, s)
	}
	return out, ""
}

var legendRE = regexp.MustCompile(`\{\{\s*([a-zA-Z_]\w*)\s*\}\}`)

// legend is Grafana's legend format: {{label}} replaced with the series'
// label value; empty gives the series' labels.
func legend(format string, m model.Metric) string {
	if strings.TrimSpace(format) == "" || format == "__auto" {
		if len(m) == 0 {
			return "value"
		}
		return m.String()
	}
	return legendRE.ReplaceAllStringFunc(format, func(s string) string {
		return string(m[model.LabelName(legendRE.FindStringSubmatch(s)[1])])
	})
}

// stats is a stat panel's big numbers: each series' last value that is
// not NaN (Grafana's lastNotNull), mapped and coloured by the panel.
func stats(p *PanelData) []Stat {
	if p.Type != "stat" {
		return nil
	}
	var out []Stat
	for _, s := range p.Series {
		v, ok := lastNotNaN(s.Points)
		if !ok {
			continue
		}
		st := Stat{Name: s.Name, Color: colorHex(p.thresholdColor(v))}
		dec := -1
		if p.Decimals != nil {
			dec = *p.Decimals
		}
		st.Text = formatValue(p.Unit, v, dec)
		if m, ok := p.Mappings[formatNumber(v, -1)]; ok {
			st.Text = m.Text
			if m.Color != "" {
				st.Color = colorHex(m.Color)
			}
		}
		out = append(out, st)
	}
	return out
}

func lastNotNaN(ps []Point) (float64, bool) {
	for i := len(ps) - 1; i >= 0; i-- {
		if !math.IsNaN(ps[i].V) {
			return ps[i].V, true
		}
	}
	return 0, false
}

// colorHex turns Grafana's named colours into CSS hex.
func colorHex(c string) string {
	switch c {
	case "green":
		return "#56A64B"
	case "yellow":
		return "#E0B400"
	case "red":
		return "#E02F44"
	case "orange":
		return "#FF9830"
	case "blue":
		return "#3274D9"
	case "":
		return "#333333"
	}
	return c
}
