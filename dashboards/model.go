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
	// Transformations post-process the query results (bar charts merge
	// their queries into one table); absent for the other panels.
	Transformations []transformation `json:"transformations,omitempty"`
}

// transformation is one step of a panel's data transformations, e.g.
// {"id": "merge", "options": {}}, which joins the tables of several
// queries on their common columns (the bar charts' "bin").
type transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
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
	// Instant asks for one value per series at the end of the range (bar
	// charts); left out (false) for range queries.
	Instant bool `json:"instant,omitempty"`
	// Format "table" returns a table (one row per series, a column per
	// label) instead of time series; left out for time series.
	Format string `json:"format,omitempty"`
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
	// Custom is the panel plugin's field options: *timeseriesCustom or
	// *barchartCustom (none for stat panels).
	Custom fieldCustom `json:"custom,omitempty"`
}

// fieldCustom is a panel plugin's fieldConfig.defaults.custom.
type fieldCustom interface {
	customOf() string
}

func (*timeseriesCustom) customOf() string { return "timeseries" }

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

// The bar chart panel ("barchart"), as Grafana 12 reads it. Fields and
// defaults follow Grafana's panel schema,
// public/app/plugins/panel/barchart/panelcfg.cue (Options: common legend,
// tooltip and text options plus xField, colorByField, orientation,
// barRadius, xTickLabelRotation, xTickLabelMaxLength, xTickLabelSpacing,
// stacking, showValue, barWidth, groupWidth, fullHighlight; FieldConfig:
// the common axis and hideable options plus lineWidth, fillOpacity,
// gradientMode, thresholdsStyle). Only the fields stackgen sets are
// declared; Grafana fills the rest with the schema defaults.

// barchartOptions are the bar chart panel's options.
type barchartOptions struct {
	// XField is the field whose values label the bars' groups (the "bin"
	// or "class" column of the merged table).
	XField string `json:"xField"`
	// Orientation is "auto", "horizontal" or "vertical".
	Orientation string `json:"orientation"`
	// ShowValue is "auto", "always" or "never".
	ShowValue string `json:"showValue"`
	// Stacking is "none", "normal" or "percent".
	Stacking string `json:"stacking"`
	// GroupWidth (0–1) and BarWidth (0–1) size the groups and their bars.
	GroupWidth float64 `json:"groupWidth"`
	BarWidth   float64 `json:"barWidth"`
	// BarRadius (0–0.5) rounds the bars' corners.
	BarRadius float64 `json:"barRadius"`
	// FullHighlight highlights a whole group under the cursor.
	FullHighlight bool `json:"fullHighlight"`
	// XTickLabelRotation (-90–90), XTickLabelMaxLength and
	// XTickLabelSpacing lay out the x axis labels.
	XTickLabelRotation  int            `json:"xTickLabelRotation"`
	XTickLabelMaxLength int            `json:"xTickLabelMaxLength"`
	XTickLabelSpacing   int            `json:"xTickLabelSpacing"`
	Legend              legendOptions  `json:"legend"`
	Tooltip             tooltipOptions `json:"tooltip"`
}

func (*barchartOptions) panelType() string { return "barchart" }

// barchartCustom is the bar chart's fieldConfig.defaults.custom.
type barchartCustom struct {
	LineWidth     int      `json:"lineWidth"`
	FillOpacity   int      `json:"fillOpacity"`
	GradientMode  string   `json:"gradientMode"`
	AxisPlacement string   `json:"axisPlacement"`
	AxisLabel     string   `json:"axisLabel,omitempty"`
	AxisSoftMin   *float64 `json:"axisSoftMin,omitempty"`
}

func (*barchartCustom) customOf() string { return "barchart" }
