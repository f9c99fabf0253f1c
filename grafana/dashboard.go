package grafana

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// CheckDashboard checks a dashboard JSON file structurally, as strictly as
// Grafana 12 reads it, for the panel types stackgen writes (row,
// timeseries, stat, barchart): every object is decoded into the fields
// Grafana's schema has for it and an unknown field is an error (Grafana
// would silently ignore it, so a typo would be a setting that does
// nothing); enumerations and ranges are checked against the panel schemas
// (public/app/plugins/panel/*/panelcfg.cue); query refIds are unique per
// panel; override properties name a standard option or a field of the
// panel's custom field config; transformations are known ids. file names
// the dashboard in errors. It returns every problem found, joined.
//
// Grafana cannot run on these machines; the rendered dashboards are loaded
// into a real Grafana elsewhere, and this check keeps them honest between.
func CheckDashboard(file string, data []byte) error {
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", file, where, fmt.Sprintf(format, args...)))
	}
	var d dashboardJSON
	if err := strictJSON(data, &d); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if d.UID == "" || d.Title == "" {
		bad("dashboard", "uid and title are required")
	}
	ids := map[int]bool{}
	for i, raw := range d.Panels {
		var head struct {
			Type  string `json:"type"`
			Title string `json:"title"`
			ID    int    `json:"id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			bad(fmt.Sprintf("panels[%d]", i), "%v", err)
			continue
		}
		where := fmt.Sprintf("panels[%d] (%s %q)", i, head.Type, head.Title)
		if ids[head.ID] || head.ID <= 0 {
			bad(where, "id %d is not a unique positive number", head.ID)
		}
		ids[head.ID] = true
		var err error
		switch head.Type {
		case "row":
			err = strictJSON(raw, &rowJSON{})
		case "timeseries":
			err = checkViz[timeseriesOptionsJSON, timeseriesCustomJSON](raw)
		case "stat":
			err = checkViz[statOptionsJSON, noCustom](raw)
		case "barchart":
			err = checkViz[barchartOptionsJSON, barchartCustomJSON](raw)
		default:
			err = fmt.Errorf("panel type %q is not one stackgen writes (row, timeseries, stat, barchart)", head.Type)
		}
		if err != nil {
			bad(where, "%v", err)
		}
	}
	return errors.Join(errs...)
}

// strictJSON decodes data into v, refusing unknown fields and trailing
// data. encoding/json matches field names case-insensitively, Grafana (a
// JavaScript object) does not: exactKeys then refuses "xfield" for
// "xField".
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return err
	}
	return exactKeys(generic, reflect.TypeOf(v), "")
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// exactKeys checks that every object key in v is spelled exactly as a JSON
// field name of the struct type t describing it.
func exactKeys(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil // a free-form object (map[string]any, any)
		}
		fields := structFields(t)
		for k, c := range x {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("json: unknown field %q at %s (field names are case-sensitive)", k, strings.TrimPrefix(path+"."+k, "."))
			}
			if err := exactKeys(c, ft, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice || t == rawMessageType {
			return nil
		}
		for i, c := range x {
			if err := exactKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// structFields maps the JSON field names of struct type t (with its
// embedded structs' fields) to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			for n, ft := range structFields(f.Type) {
				out[n] = ft
			}
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// validator is implemented by the decoded parts that check their values.
type validator interface{ validate() error }

// checkViz decodes a visualization panel with options O and custom field
// config C, then checks its values.
func checkViz[O, C any](raw json.RawMessage) error {
	var p vizJSON[O, C]
	if err := strictJSON(raw, &p); err != nil {
		return err
	}
	var errs []error
	if v, ok := any(&p.Options).(validator); ok {
		if err := v.validate(); err != nil {
			errs = append(errs, fmt.Errorf("options: %w", err))
		}
	}
	refs := map[string]bool{}
	for i, t := range p.Targets {
		if t.RefID == "" || refs[t.RefID] {
			errs = append(errs, fmt.Errorf("targets[%d]: refId %q empty or not unique", i, t.RefID))
		}
		refs[t.RefID] = true
		switch t.Format {
		case "", "time_series", "table", "heatmap":
		default:
			errs = append(errs, fmt.Errorf("targets[%d]: format %q, want time_series, table or heatmap", i, t.Format))
		}
	}
	custom := jsonFields(reflect.TypeFor[C]())
	for i, o := range p.FieldConfig.Overrides {
		if !overrideMatchers[o.Matcher.ID] {
			errs = append(errs, fmt.Errorf("fieldConfig.overrides[%d]: matcher %q is not one of Grafana's field matchers", i, o.Matcher.ID))
		}
		for _, pr := range o.Properties {
			name, isCustom := strings.CutPrefix(pr.ID, "custom.")
			if (isCustom && !custom[name]) || (!isCustom && !standardProperties[pr.ID]) {
				errs = append(errs, fmt.Errorf("fieldConfig.overrides[%d]: property %q is neither a standard field option nor one of this panel's custom options", i, pr.ID))
			}
		}
	}
	for i, t := range p.Transformations {
		if !transformations[t.ID] {
			errs = append(errs, fmt.Errorf("transformations[%d]: unknown id %q", i, t.ID))
		}
		if t.ID == "merge" && len(t.Options) != 0 {
			errs = append(errs, fmt.Errorf("transformations[%d]: merge takes no options", i))
		}
	}
	return errors.Join(errs...)
}

// jsonFields returns the JSON names of struct type t's fields.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for n := range structFields(t) {
		out[n] = true
	}
	return out
}

// Field matchers, standard field options an override may set, and
// transformation ids (Grafana's FieldMatcherID, FieldConfigProperty and
// DataTransformerID).
var (
	overrideMatchers = map[string]bool{"byName": true, "byRegexp": true, "byType": true, "byFrameRefID": true,
		"byValue": true, "byNames": true}
	standardProperties = map[string]bool{"displayName": true, "unit": true, "decimals": true, "min": true, "max": true,
		"color": true, "thresholds": true, "mappings": true, "links": true, "noValue": true, "filterable": true}
	transformations = map[string]bool{"merge": true, "organize": true, "joinByField": true, "reduce": true,
		"seriesToRows": true, "sortBy": true, "filterFieldsByName": true, "renameByRegex": true, "calculateField": true}
)

// ---- the dashboard and its panels ------------------------------------------

type dashboardJSON struct {
	ID            *int            `json:"id,omitempty"`
	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	Description   string          `json:"description"`
	Tags          []string        `json:"tags"`
	Timezone      string          `json:"timezone"`
	Editable      bool            `json:"editable"`
	GraphTooltip  int             `json:"graphTooltip"`
	SchemaVersion int             `json:"schemaVersion"`
	Version       int             `json:"version"`
	Refresh       json.RawMessage `json:"refresh"`
	Time          struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Timepicker struct {
		RefreshIntervals []string `json:"refresh_intervals"`
		Hidden           bool     `json:"hidden"`
	} `json:"timepicker"`
	Templating struct {
		List []json.RawMessage `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []json.RawMessage `json:"list"`
	} `json:"annotations"`
	Links []struct {
		Title       string   `json:"title"`
		Type        string   `json:"type"`
		Tags        []string `json:"tags"`
		AsDropdown  bool     `json:"asDropdown"`
		KeepTime    bool     `json:"keepTime"`
		IncludeVars bool     `json:"includeVars"`
		TargetBlank bool     `json:"targetBlank"`
		Icon        string   `json:"icon"`
		Tooltip     string   `json:"tooltip"`
		URL         string   `json:"url"`
	} `json:"links"`
	Panels []json.RawMessage `json:"panels"`
}

type datasourceJSON struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPosJSON struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// commonJSON are the fields every panel has (Grafana's Panel kind).
type commonJSON struct {
	ID               int             `json:"id"`
	Type             string          `json:"type"`
	Title            string          `json:"title"`
	Description      string          `json:"description"`
	Transparent      bool            `json:"transparent"`
	Datasource       *datasourceJSON `json:"datasource"`
	GridPos          gridPosJSON     `json:"gridPos"`
	PluginVersion    string          `json:"pluginVersion"`
	Links            []any           `json:"links"`
	Repeat           string          `json:"repeat"`
	RepeatDirection  string          `json:"repeatDirection"`
	MaxPerRow        int             `json:"maxPerRow"`
	MaxDataPoints    int             `json:"maxDataPoints"`
	Interval         string          `json:"interval"`
	TimeFrom         string          `json:"timeFrom"`
	TimeShift        string          `json:"timeShift"`
	HideTimeOverride bool            `json:"hideTimeOverride"`
}

type rowJSON struct {
	commonJSON
	Collapsed bool              `json:"collapsed"`
	Panels    []json.RawMessage `json:"panels"`
}

type vizJSON[O, C any] struct {
	commonJSON
	Targets         []targetJSON       `json:"targets"`
	FieldConfig     fieldConfigJSON[C] `json:"fieldConfig"`
	Options         O                  `json:"options"`
	Transformations []struct {
		ID       string         `json:"id"`
		Options  map[string]any `json:"options"`
		Disabled bool           `json:"disabled"`
	} `json:"transformations"`
}

// targetJSON is a Prometheus query.
type targetJSON struct {
	RefID          string          `json:"refId"`
	Datasource     *datasourceJSON `json:"datasource"`
	Expr           string          `json:"expr"`
	LegendFormat   string          `json:"legendFormat"`
	Range          bool            `json:"range"`
	Instant        bool            `json:"instant"`
	Format         string          `json:"format"`
	EditorMode     string          `json:"editorMode"`
	Interval       string          `json:"interval"`
	IntervalFactor int             `json:"intervalFactor"`
	Exemplar       bool            `json:"exemplar"`
	Hide           bool            `json:"hide"`
}

type fieldConfigJSON[C any] struct {
	Defaults struct {
		Unit        string   `json:"unit"`
		Decimals    *int     `json:"decimals"`
		Min         *float64 `json:"min"`
		Max         *float64 `json:"max"`
		DisplayName string   `json:"displayName"`
		NoValue     string   `json:"noValue"`
		Color       struct {
			Mode       string `json:"mode"`
			FixedColor string `json:"fixedColor"`
			SeriesBy   string `json:"seriesBy"`
		} `json:"color"`
		Thresholds struct {
			Mode  string `json:"mode"`
			Steps []struct {
				Color string   `json:"color"`
				Value *float64 `json:"value"`
			} `json:"steps"`
		} `json:"thresholds"`
		Mappings []json.RawMessage `json:"mappings"`
		Links    []any             `json:"links"`
		Custom   *C                `json:"custom"`
	} `json:"defaults"`
	Overrides []struct {
		Matcher struct {
			ID      string `json:"id"`
			Options any    `json:"options"`
		} `json:"matcher"`
		Properties []struct {
			ID    string `json:"id"`
			Value any    `json:"value"`
		} `json:"properties"`
	} `json:"overrides"`
}

// noCustom is the custom field config of a panel that has none (stat).
type noCustom struct{}
