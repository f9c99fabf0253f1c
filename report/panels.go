package report

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/stack"
)

// Dashboard is one dashboard stackgen renders, as the report draws it.
type Dashboard struct {
	// File is the dashboard's path in the deploy folder.
	File string
	// UID and Title name it.
	UID   string
	Title string
	// Rows are the dashboard's rows in order; panels before the first row
	// header are in a row with an empty title.
	Rows []Row
}

// Row is a titled group of panels.
type Row struct {
	Title  string
	Panels []Panel
}

// Panel is one dashboard panel: the definition dashboards.Build writes.
type Panel struct {
	ID    int
	Title string
	// Type is Grafana's panel type: stat, timeseries and barchart are
	// drawn; any other type is listed with its queries ("not drawn").
	Type        string
	Description string
	// GridPos is the panel's place on Grafana's 24-column grid (zero W:
	// the dashboard gave none; the page then flows it).
	GridPos GridPos
	// XField is a bar chart's options.xField: the label whose values are
	// the x axis.
	XField   string
	Unit     string
	Decimals *int
	Min, Max *float64
	// Thresholds are the absolute threshold steps, lowest first (the first
	// has no value: the base colour).
	Thresholds []Threshold
	// Mappings are value mappings ("1" → "UP").
	Mappings map[string]Mapping
	Targets  []Target
	// LineStyles are the fieldConfig overrides setting custom.lineStyle
	// (threshold and baseline series drawn dashed), in the panel's order.
	LineStyles []LineStyle
}

// LineStyle is a dashed or dotted line override: the series of query
// RefID (matcher byFrameRefID) or named Name (matcher byName) are drawn
// with Dashes (on, off lengths in pixels; empty: solid).
type LineStyle struct {
	RefID, Name string
	Dashes      []float64
}

// Dashes is the dash pattern (pixels) of the series name of query refID:
// the last matching line style override's, nil for a solid line.
func (p Panel) Dashes(refID, name string) []float64 {
	var out []float64
	for _, ls := range p.LineStyles {
		if (ls.RefID != "" && ls.RefID == refID) || (ls.Name != "" && ls.Name == name) {
			out = ls.Dashes
		}
	}
	return out
}

// GridPos is a panel's position in Grafana's grid: columns X..X+W of 24,
// rows Y..Y+H of Grafana's 30 px grid cells.
type GridPos struct {
	X, Y, W, H int
}

// GridColumns is the width of Grafana's dashboard grid.
const GridColumns = 24

// Drawn panel types; other types are listed, not drawn.
const (
	TypeStat       = "stat"
	TypeTimeseries = "timeseries"
	TypeBarchart   = "barchart"
)

// Drawn reports whether the report draws panels of type t.
func Drawn(t string) bool {
	return t == TypeStat || t == TypeTimeseries || t == TypeBarchart
}

// Threshold is one threshold step.
type Threshold struct {
	Color string
	Value *float64
}

// Mapping maps a value to a text and colour.
type Mapping struct {
	Text  string
	Color string
}

// Target is one query of a panel.
type Target struct {
	RefID  string
	Expr   string
	Legend string
	// Instant is an instant query (bar charts: evaluated at To).
	Instant bool
}

// The subset of Grafana's dashboard JSON the report reads.
type boardJSON struct {
	UID    string      `json:"uid"`
	Title  string      `json:"title"`
	Panels []panelJSON `json:"panels"`
}

type panelJSON struct {
	ID          int         `json:"id"`
	Title       string      `json:"title"`
	Type        string      `json:"type"`
	Description string      `json:"description"`
	Panels      []panelJSON `json:"panels"`
	GridPos     *struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Options struct {
		XField string `json:"xField"`
	} `json:"options"`
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Legend  string `json:"legendFormat"`
		Hide    bool   `json:"hide"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit       string   `json:"unit"`
			Decimals   *int     `json:"decimals"`
			Min        *float64 `json:"min"`
			Max        *float64 `json:"max"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Mappings []struct {
				Type    string `json:"type"`
				Options map[string]struct {
					Text  string `json:"text"`
					Color string `json:"color"`
				} `json:"options"`
			} `json:"mappings"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options any    `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

// lineStyleJSON is the value of a custom.lineStyle override.
type lineStyleJSON struct {
	Fill string    `json:"fill"`
	Dash []float64 `json:"dash"`
}

// lineStyles reads p's custom.lineStyle overrides matching a query
// (byFrameRefID) or a series name (byName); other matchers are ignored.
func lineStyles(p panelJSON) []LineStyle {
	var out []LineStyle
	for _, o := range p.FieldConfig.Overrides {
		opt, _ := o.Matcher.Options.(string)
		ls := LineStyle{}
		switch o.Matcher.ID {
		case "byFrameRefID":
			ls.RefID = opt
		case "byName":
			ls.Name = opt
		default:
			continue
		}
		if opt == "" {
			continue
		}
		for _, prop := range o.Properties {
			var v lineStyleJSON
			if prop.ID != "custom.lineStyle" || json.Unmarshal(prop.Value, &v) != nil {
				continue
			}
			switch v.Fill {
			case "dash":
				ls.Dashes = []float64{10, 10} // Grafana's default dash
				if len(v.Dash) >= 2 && v.Dash[0] > 0 && v.Dash[1] > 0 {
					ls.Dashes = v.Dash[:2]
				}
			case "dot":
				ls.Dashes = []float64{1, 6}
				if len(v.Dash) >= 2 && v.Dash[1] > 0 {
					ls.Dashes = []float64{1, v.Dash[1]}
				}
			default:
				ls.Dashes = nil
			}
			out = append(out, ls)
		}
	}
	return out
}

// Dashboards returns the dashboards dashboards.Build renders for s, sorted
// by file (the overview, _overview.json, first), with their panels in the
// dashboards' order. It is the report's only source of panels: titles,
// PromQL, units, thresholds and legends are the dashboards' own.
func Dashboards(s *stack.Stack) ([]Dashboard, error) {
	files, err := dashboards.Build(s)
	if err != nil {
		return nil, fmt.Errorf("build dashboards: %w", err)
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	out := make([]Dashboard, 0, len(names))
	for _, f := range names {
		var b boardJSON
		if err := json.Unmarshal(files[f], &b); err != nil {
			return nil, fmt.Errorf("decode dashboard %s: %w", f, err)
		}
		d := Dashboard{File: f, UID: b.UID, Title: b.Title}
		var walk func(ps []panelJSON)
		walk = func(ps []panelJSON) {
			for _, p := range ps {
				if p.Type == "row" {
					d.Rows = append(d.Rows, Row{Title: p.Title})
					walk(p.Panels) // a collapsed row's panels
					continue
				}
				if len(d.Rows) == 0 {
					d.Rows = append(d.Rows, Row{})
				}
				r := &d.Rows[len(d.Rows)-1]
				r.Panels = append(r.Panels, convertPanel(p))
			}
		}
		walk(b.Panels)
		out = append(out, d)
	}
	return out, nil
}

func convertPanel(p panelJSON) Panel {
	def := p.FieldConfig.Defaults
	out := Panel{ID: p.ID, Title: p.Title, Type: p.Type, Description: p.Description, Unit: def.Unit,
		Decimals: def.Decimals, Min: def.Min, Max: def.Max, XField: p.Options.XField, LineStyles: lineStyles(p)}
	if g := p.GridPos; g != nil && g.W > 0 && g.H > 0 {
		out.GridPos = GridPos{X: min(max(g.X, 0), GridColumns-1), Y: max(g.Y, 0), W: min(g.W, GridColumns), H: g.H}
		out.GridPos.W = min(out.GridPos.W, GridColumns-out.GridPos.X)
	}
	for _, s := range def.Thresholds.Steps {
		out.Thresholds = append(out.Thresholds, Threshold{Color: s.Color, Value: s.Value})
	}
	for _, m := range def.Mappings {
		if m.Type != "value" {
			continue
		}
		for k, o := range m.Options {
			if out.Mappings == nil {
				out.Mappings = map[string]Mapping{}
			}
			out.Mappings[k] = Mapping{Text: o.Text, Color: o.Color}
		}
	}
	for _, t := range p.Targets {
		if t.Hide || t.Expr == "" {
			continue
		}
		out.Targets = append(out.Targets, Target{RefID: t.RefID, Expr: t.Expr, Legend: t.Legend, Instant: t.Instant})
	}
	return out
}

// thresholdColor is the colour of the threshold step v falls in.
func (p Panel) thresholdColor(v float64) string {
	c := ""
	for _, t := range p.Thresholds {
		if t.Value == nil || v >= *t.Value {
			c = t.Color
		}
	}
	return c
}
