package dashboards

import (
	"github.com/grafana-tools/sdk"
)

// This file holds the typed JSON model the dashboards are marshalled from.
//
// The grafana-tools/sdk types are the base (sdk.Board for the dashboard,
// sdk.CommonPanel for every panel, sdk.Target for queries, sdk.Thresholds and
// sdk.FieldConfigColor inside fieldConfig), but the sdk is frozen since 2022:
// its stat panel has no fieldConfig and only integer/string thresholds, its
// timeseries fieldConfig always emits a full "custom" block of empty strings,
// and it writes legacy fields that today's Grafana no longer reads ("rows",
// "span", timepicker "time_options", which schema version 41 deletes). The
// small structs below embed the sdk types and add or override what is needed.
//
// Overriding works through encoding/json's field dominance: a field declared
// in the outer struct wins over an embedded field with the same JSON name.
// Legacy sdk fields are hidden by shadowing them with a nil *omitted that is
// dropped by omitempty.

// omitted shadows a legacy sdk field so that it is left out of the JSON.
type omitted struct{}

// datasourceRef points a panel or a query at a data source by type and uid
// (Grafana ≥ 8.3 form; a bare name string is legacy).
type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashboard is Grafana's classic dashboard JSON model.
type dashboard struct {
	sdk.Board
	// Description is shown in the dashboard settings and search.
	Description string `json:"description,omitempty"`
	// Panels replaces sdk.Board's []*sdk.Panel so panels can carry fieldConfig.
	Panels []gridItem `json:"panels"`
	// Timepicker replaces sdk.Timepicker, which always writes time_options.
	Timepicker timepicker `json:"timepicker"`

	// Legacy sdk.Board fields (pre-5.0 rows layout and friends; "style" is
	// ignored since Grafana 7 and dropped by schema version 37's migration).
	Style           *omitted `json:"style,omitempty"`
	Rows            *omitted `json:"rows,omitempty"`
	Slug            *omitted `json:"slug,omitempty"`
	OriginalTitle   *omitted `json:"originalTitle,omitempty"`
	HideControls    *omitted `json:"hideControls,omitempty"`
	SharedCrosshair *omitted `json:"sharedCrosshair,omitempty"`
}

// timepicker is the time picker configuration.
type timepicker struct {
	RefreshIntervals []string `json:"refresh_intervals"`
}

// gridItem is an entry of a dashboard's panels list: a visualization or a row.
type gridItem interface {
	common() *sdk.CommonPanel
}

// vizPanel is a timeseries or stat panel.
type vizPanel struct {
	sdk.CommonPanel
	// Legacy sdk.CommonPanel fields that only pre-5.0 dashboards read. They
	// are declared here, not in an embedded struct, so that they sit at a
	// shallower depth than sdk.CommonPanel's and win.
	Editable    *omitted     `json:"editable,omitempty"`
	Error       *omitted     `json:"error,omitempty"`
	IsNew       *omitted     `json:"isNew,omitempty"`
	Span        *omitted     `json:"span,omitempty"`
	Targets     []query      `json:"targets"`
	FieldConfig fieldConfig  `json:"fieldConfig"`
	Options     panelOptions `json:"options"`
}

func (p *vizPanel) common() *sdk.CommonPanel { return &p.CommonPanel }

// rowPanel is a row header; its panels follow it in the dashboard's list
// (rows are expanded, so their own panels list is empty).
type rowPanel struct {
	sdk.CommonPanel
	Editable  *omitted   `json:"editable,omitempty"`
	Error     *omitted   `json:"error,omitempty"`
	IsNew     *omitted   `json:"isNew,omitempty"`
	Span      *omitted   `json:"span,omitempty"`
	Collapsed bool       `json:"collapsed"`
	Panels    []gridItem `json:"panels"`
}

func (p *rowPanel) common() *sdk.CommonPanel { return &p.CommonPanel }

// query is a Prometheus query of a panel: sdk.Target (refId, datasource,
// expr, legendFormat) plus the fields Grafana's Prometheus query editor uses.
type query struct {
	sdk.Target
	// Range asks for a range query (a series over the dashboard's time range).
	Range bool `json:"range"`
	// EditorMode "code" opens the query in the PromQL code editor.
	EditorMode string `json:"editorMode"`
}

// fieldConfig is a panel's field configuration (the sdk has none for stat
// panels, and its timeseries one cannot leave "custom" out).
type fieldConfig struct {
	Defaults  fieldDefaults `json:"defaults"`
	Overrides []override    `json:"overrides"`
}

// override is a fieldConfig override; stackgen writes none, but Grafana's
// model expects the list.
type override struct {
	Matcher    matcher         `json:"matcher"`
	Properties []dynamicConfig `json:"properties"`
}

// matcher selects the fields an override applies to.
type matcher struct {
	ID      string `json:"id"`
	Options string `json:"options,omitempty"`
}

// dynamicConfig is one property an override sets.
type dynamicConfig struct {
	ID    string `json:"id"`
	Value any    `json:"value,omitempty"`
}

// fieldDefaults are the standard field options applied to every field.
type fieldDefaults struct {
	Unit       string               `json:"unit"`
	Decimals   *int                 `json:"decimals,omitempty"`
	Min        *float64             `json:"min,omitempty"`
	Max        *float64             `json:"max,omitempty"`
	Color      sdk.FieldConfigColor `json:"color"`
	Thresholds sdk.Thresholds       `json:"thresholds"`
	Mappings   []valueMapping       `json:"mappings"`
	Custom     *timeseriesCustom    `json:"custom,omitempty"`
}

// valueMapping maps values to display text and color (type "value").
type valueMapping struct {
	Type    string                   `json:"type"`
	Options map[string]mappingResult `json:"options"`
}

// mappingResult is the text and color a mapped value is shown with.
type mappingResult struct {
	Text  string `json:"text"`
	Color string `json:"color,omitempty"`
	Index int    `json:"index"`
}

// timeseriesCustom is the timeseries panel's fieldConfig.defaults.custom.
// Options left out take the panel's defaults.
type timeseriesCustom struct {
	DrawStyle         string   `json:"drawStyle"`
	LineInterpolation string   `json:"lineInterpolation"`
	LineWidth         int      `json:"lineWidth"`
	FillOpacity       int      `json:"fillOpacity"`
	ShowPoints        string   `json:"showPoints"`
	SpanNulls         bool     `json:"spanNulls"`
	AxisLabel         string   `json:"axisLabel,omitempty"`
	AxisSoftMin       *float64 `json:"axisSoftMin,omitempty"`
}

// panelOptions are a panel plugin's options: *timeseriesOptions or *statOptions.
type panelOptions interface {
	panelType() string
}

// timeseriesOptions are the timeseries panel's options.
type timeseriesOptions struct {
	Legend  legendOptions  `json:"legend"`
	Tooltip tooltipOptions `json:"tooltip"`
}

func (*timeseriesOptions) panelType() string { return "timeseries" }

// legendOptions extends the sdk's legend options with showLegend (Grafana ≥ 8.4).
type legendOptions struct {
	sdk.TimeseriesLegendOptions
	ShowLegend bool `json:"showLegend"`
}

// tooltipOptions extends the sdk's tooltip options with the sort order.
type tooltipOptions struct {
	sdk.TimeseriesTooltipOptions
	Sort string `json:"sort"`
}

// statOptions are the stat panel's options (the sdk's Options mixes in text
// and bar gauge fields).
type statOptions struct {
	ReduceOptions reduceOptions `json:"reduceOptions"`
	Orientation   string        `json:"orientation"`
	TextMode      string        `json:"textMode"`
	ColorMode     string        `json:"colorMode"`
	GraphMode     string        `json:"graphMode"`
	JustifyMode   string        `json:"justifyMode"`
}

func (*statOptions) panelType() string { return "stat" }

// reduceOptions tell a stat panel how to reduce a series to one value.
type reduceOptions struct {
	Values bool     `json:"values"`
	Calcs  []string `json:"calcs"`
	Fields string   `json:"fields"`
}
