package grafana

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/dashboards"
)

// driftStack has every panel type stackgen writes: stat, timeseries, row
// and, for drift, barchart.
const driftStack = "name: shop\nmodels:\n  - {name: demo, kind: demo, drift: {window: 30m}}\n  - {name: tf, kind: tfserving, model_name: m}\n"

// builtDashboard returns the demo model's dashboard of driftStack.
func builtDashboard(t *testing.T) []byte {
	t.Helper()
	s := parse(t, driftStack)
	files, err := dashboards.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	for file, data := range files {
		if err := CheckDashboard(file, data); err != nil {
			t.Errorf("rendered dashboard refused:\n%v", err)
		}
	}
	return files[dashboards.ModelFile(s.Models[0])]
}

// edit decodes a dashboard, applies f to the first panel of type typ and
// encodes it again.
func edit(t *testing.T, data []byte, typ string, f func(p map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d["panels"].([]any) {
		if pm := p.(map[string]any); pm["type"] == typ {
			f(pm)
			break
		}
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(p map[string]any, path ...string) map[string]any {
	for _, k := range path {
		p = p[k].(map[string]any)
	}
	return p
}

func TestCheckDashboard(t *testing.T) {
	good := builtDashboard(t)
	tests := []struct {
		name string
		typ  string
		edit func(p map[string]any)
		want string // "" = accepted
	}{
		{name: "as rendered", typ: "barchart", edit: func(map[string]any) {}},
		{name: "barchart: schema field set", typ: "barchart", edit: func(p map[string]any) { obj(p, "options")["colorByField"] = "bin" }},
		{name: "barchart: unknown option", typ: "barchart", edit: func(p map[string]any) { obj(p, "options")["xfield"] = "bin" },
			want: `unknown field "xfield"`},
		{name: "barchart: unknown custom field", typ: "barchart", edit: func(p map[string]any) { obj(p, "fieldConfig", "defaults", "custom")["drawStyle"] = "bars" },
			want: `unknown field "drawStyle"`},
		{name: "barchart: bad orientation", typ: "barchart", edit: func(p map[string]any) { obj(p, "options")["orientation"] = "sideways" },
			want: `orientation "sideways"`},
		{name: "barchart: groupWidth out of range", typ: "barchart", edit: func(p map[string]any) { obj(p, "options")["groupWidth"] = 2 },
			want: "groupWidth 2 out of [0, 1]"},
		{name: "barchart: no xField", typ: "barchart", edit: func(p map[string]any) { delete(obj(p, "options"), "xField") },
			want: "xField is empty"},
		{name: "barchart: unknown transformation", typ: "barchart", edit: func(p map[string]any) {
			p["transformations"] = []any{map[string]any{"id": "mrege", "options": map[string]any{}}}
		}, want: `unknown id "mrege"`},
		{name: "barchart: bad query format", typ: "barchart", edit: func(p map[string]any) {
			p["targets"].([]any)[0].(map[string]any)["format"] = "tabel"
		}, want: `format "tabel"`},
		{name: "barchart: override of a timeseries option", typ: "barchart", edit: func(p map[string]any) {
			o := obj(p, "fieldConfig")
			o["overrides"] = []any{map[string]any{"matcher": map[string]any{"id": "byName", "options": "x"},
				"properties": []any{map[string]any{"id": "custom.lineStyle", "value": map[string]any{}}}}}
		}, want: `property "custom.lineStyle"`},
		{name: "timeseries: override of its own option", typ: "timeseries", edit: func(p map[string]any) {
			o := obj(p, "fieldConfig")
			o["overrides"] = []any{map[string]any{"matcher": map[string]any{"id": "byFrameRefID", "options": "B"},
				"properties": []any{map[string]any{"id": "custom.lineStyle", "value": map[string]any{"fill": "dash"}}}}}
		}},
		{name: "timeseries: unknown panel field", typ: "timeseries", edit: func(p map[string]any) { p["span"] = 6 },
			want: `unknown field "span"`},
		{name: "stat: unknown option", typ: "stat", edit: func(p map[string]any) { obj(p, "options")["legend"] = map[string]any{} },
			want: `unknown field "legend"`},
		{name: "row: duplicate refId elsewhere is fine, unknown field is not", typ: "row", edit: func(p map[string]any) { p["showTitle"] = true },
			want: `unknown field "showTitle"`},
		{name: "unknown panel type", typ: "barchart", edit: func(p map[string]any) { p["type"] = "graph" },
			want: `panel type "graph"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDashboard("demo.json", edit(t, good, tt.typ, tt.edit))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "demo.json: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
