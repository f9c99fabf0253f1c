package grafana

import (
	"errors"
	"fmt"
	"slices"
)

// The options and custom field configs of the panel types stackgen writes,
// with the fields of Grafana 12's panel schemas
// (public/app/plugins/panel/{timeseries,stat,barchart}/panelcfg.cue and the
// common types of packages/grafana-schema/src/common): legend, tooltip,
// text, reduce, axis, hideable and graph field options.

type legendJSON struct {
	ShowLegend  bool     `json:"showLegend"`
	DisplayMode string   `json:"displayMode"`
	Placement   string   `json:"placement"`
	Calcs       []string `json:"calcs"`
	AsTable     bool     `json:"asTable"`
	IsVisible   bool     `json:"isVisible"`
	SortBy      string   `json:"sortBy"`
	SortDesc    bool     `json:"sortDesc"`
	Width       float64  `json:"width"`
}

func (l legendJSON) validate() error {
	return errors.Join(
		oneOf("legend.displayMode", l.DisplayMode, "list", "table", "hidden"),
		oneOf("legend.placement", l.Placement, "bottom", "right"))
}

type tooltipJSON struct {
	Mode      string  `json:"mode"`
	Sort      string  `json:"sort"`
	MaxWidth  float64 `json:"maxWidth"`
	MaxHeight float64 `json:"maxHeight"`
	HideZeros bool    `json:"hideZeros"`
}

func (t tooltipJSON) validate() error {
	return errors.Join(
		oneOf("tooltip.mode", t.Mode, "single", "multi", "none"),
		oneOf("tooltip.sort", t.Sort, "", "none", "asc", "desc"))
}

type textJSON struct {
	TitleSize float64 `json:"titleSize"`
	ValueSize float64 `json:"valueSize"`
}

// oneOf checks that an enumeration holds one of its values.
func oneOf(name, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s %q, want one of %q", name, v, allowed)
}

// within checks a number's range.
func within(name string, v, lo, hi float64) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %g out of [%g, %g]", name, v, lo, hi)
	}
	return nil
}

type timeseriesOptionsJSON struct {
	Legend   legendJSON  `json:"legend"`
	Tooltip  tooltipJSON `json:"tooltip"`
	Timezone []string    `json:"timezone"`
}

func (o *timeseriesOptionsJSON) validate() error {
	return errors.Join(o.Legend.validate(), o.Tooltip.validate())
}

type statOptionsJSON struct {
	ReduceOptions struct {
		Values bool     `json:"values"`
		Calcs  []string `json:"calcs"`
		Fields string   `json:"fields"`
		Limit  int      `json:"limit"`
	} `json:"reduceOptions"`
	Orientation            string    `json:"orientation"`
	TextMode               string    `json:"textMode"`
	ColorMode              string    `json:"colorMode"`
	GraphMode              string    `json:"graphMode"`
	JustifyMode            string    `json:"justifyMode"`
	WideLayout             *bool     `json:"wideLayout"`
	ShowPercentChange      bool      `json:"showPercentChange"`
	PercentChangeColorMode string    `json:"percentChangeColorMode"`
	Text                   *textJSON `json:"text"`
}

func (o *statOptionsJSON) validate() error {
	return errors.Join(
		oneOf("orientation", o.Orientation, "auto", "horizontal", "vertical"),
		oneOf("textMode", o.TextMode, "auto", "value", "value_and_name", "name", "none"),
		oneOf("colorMode", o.ColorMode, "value", "background", "background_solid", "none"),
		oneOf("graphMode", o.GraphMode, "none", "area"),
		oneOf("justifyMode", o.JustifyMode, "auto", "center"))
}

type barchartOptionsJSON struct {
	Legend              legendJSON  `json:"legend"`
	Tooltip             tooltipJSON `json:"tooltip"`
	Text                *textJSON   `json:"text"`
	XField              string      `json:"xField"`
	ColorByField        string      `json:"colorByField"`
	Orientation         string      `json:"orientation"`
	BarRadius           float64     `json:"barRadius"`
	XTickLabelRotation  float64     `json:"xTickLabelRotation"`
	XTickLabelMaxLength float64     `json:"xTickLabelMaxLength"`
	XTickLabelSpacing   float64     `json:"xTickLabelSpacing"`
	Stacking            string      `json:"stacking"`
	ShowValue           string      `json:"showValue"`
	BarWidth            float64     `json:"barWidth"`
	GroupWidth          float64     `json:"groupWidth"`
	FullHighlight       bool        `json:"fullHighlight"`
}

func (o *barchartOptionsJSON) validate() error {
	var xField error
	if o.XField == "" {
		xField = errors.New("xField is empty: name the field whose values label the bars (e.g. the merged tables' label column)")
	}
	return errors.Join(o.Legend.validate(), o.Tooltip.validate(), xField,
		oneOf("orientation", o.Orientation, "auto", "horizontal", "vertical"),
		oneOf("stacking", o.Stacking, "none", "normal", "percent"),
		oneOf("showValue", o.ShowValue, "auto", "always", "never"),
		within("barRadius", o.BarRadius, 0, 0.5),
		within("xTickLabelRotation", o.XTickLabelRotation, -90, 90),
		within("xTickLabelMaxLength", o.XTickLabelMaxLength, 0, 1e6),
		within("barWidth", o.BarWidth, 0, 1),
		within("groupWidth", o.GroupWidth, 0, 1))
}

// axisJSON is Grafana's common AxisConfig and HideableFieldConfig.
type axisJSON struct {
	AxisPlacement     string         `json:"axisPlacement"`
	AxisColorMode     string         `json:"axisColorMode"`
	AxisLabel         string         `json:"axisLabel"`
	AxisWidth         float64        `json:"axisWidth"`
	AxisSoftMin       *float64       `json:"axisSoftMin"`
	AxisSoftMax       *float64       `json:"axisSoftMax"`
	AxisGridShow      *bool          `json:"axisGridShow"`
	AxisCenteredZero  bool           `json:"axisCenteredZero"`
	AxisBorderShow    bool           `json:"axisBorderShow"`
	ScaleDistribution map[string]any `json:"scaleDistribution"`
	HideFrom          map[string]any `json:"hideFrom"`
}

type timeseriesCustomJSON struct {
	axisJSON
	DrawStyle         string         `json:"drawStyle"`
	LineInterpolation string         `json:"lineInterpolation"`
	LineWidth         float64        `json:"lineWidth"`
	LineStyle         map[string]any `json:"lineStyle"`
	FillOpacity       float64        `json:"fillOpacity"`
	GradientMode      string         `json:"gradientMode"`
	ShowPoints        string         `json:"showPoints"`
	PointSize         float64        `json:"pointSize"`
	SpanNulls         any            `json:"spanNulls"`
	InsertNulls       any            `json:"insertNulls"`
	BarAlignment      float64        `json:"barAlignment"`
	BarWidthFactor    float64        `json:"barWidthFactor"`
	Stacking          map[string]any `json:"stacking"`
	ThresholdsStyle   map[string]any `json:"thresholdsStyle"`
	ShowValues        bool           `json:"showValues"`
}

type barchartCustomJSON struct {
	axisJSON
	LineWidth       float64        `json:"lineWidth"`
	FillOpacity     float64        `json:"fillOpacity"`
	GradientMode    string         `json:"gradientMode"`
	ThresholdsStyle map[string]any `json:"thresholdsStyle"`
}
