package report

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// driftPanel is a bar chart panel as the dashboards' Data drift row writes
// it (the contract: instant table queries, one per series named by its
// legend format, a merge transformation, options.xField naming the label
// of the x axis), beside a panel type the report does not draw.
const driftPanels = `[
 {"type":"row","title":"Data drift","gridPos":{"h":1,"w":24,"x":0,"y":40},"panels":[]},
 {"id":24,"type":"barchart","title":"Share per bin — age","gridPos":{"h":8,"w":8,"x":0,"y":41},
  "fieldConfig":{"defaults":{"unit":"percentunit","min":0}},
  "options":{"xField":"bin","showValue":"never","stacking":"none"},
  "transformations":[{"id":"merge","options":{}}],
  "targets":[
   {"refId":"A","expr":"sum by (bin) (model_feature:bin_share:window{feature=\"age\"})","legendFormat":"actual","instant":true,"range":false,"format":"table"},
   {"refId":"B","expr":"max by (bin) (model_feature_baseline_ratio{feature=\"age\"})","legendFormat":"baseline","instant":true,"range":false,"format":"table"}]},
 {"id":25,"type":"barchart","title":"Share per bin — income","gridPos":{"h":8,"w":8,"x":8,"y":41},
  "options":{"xField":"bin"},
  "targets":[{"refId":"A","expr":"sum by (bin) (empty_metric)","legendFormat":"actual","instant":true,"format":"table"}]},
 {"id":26,"type":"heatmap","title":"Latency heatmap","gridPos":{"h":8,"w":8,"x":16,"y":41},
  "targets":[{"refId":"A","expr":"sum by (le) (rate(latency_bucket[5m]))"}]}
]`

// binsProm answers instant queries: the "actual" query with five bins,
// the baseline with four (no "missing" bin), empty_metric with nothing.
func binsProm(t testing.TB) (v1.API, *[]string) {
	var asked []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		q := r.Form.Get("query")
		mu.Lock()
		asked = append(asked, r.URL.Path+" "+q)
		mu.Unlock()
		type sample struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		res := []sample{}
		add := func(bin, v string) {
			res = append(res, sample{Metric: map[string]string{"bin": bin}, Value: [2]any{float64(fixedTo.Unix()), v}})
		}
		switch {
		case r.URL.Path != "/api/v1/query":
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"bar charts use instant queries"}`, http.StatusBadRequest)
			return
		case strings.Contains(q, "bin_share"):
			add("10-20", "0.3")
			add("2-5", "0.2")
			add("100+", "0.1")
			add("0-2", "0.25")
			add("missing", "0.15")
		case strings.Contains(q, "baseline_ratio"):
			add("0-2", "0.3")
			add("2-5", "0.3")
			add("10-20", "0.3")
			add("100+", "0.1")
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": res}})
	}))
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c), &asked
}

func driftDashboard(t *testing.T) Dashboard {
	t.Helper()
	var ps []panelJSON
	if err := json.Unmarshal([]byte(driftPanels), &ps); err != nil {
		t.Fatal(err)
	}
	d := Dashboard{File: "drift.json", UID: "drift", Title: "drift"}
	for _, p := range ps {
		if p.Type == "row" {
			d.Rows = append(d.Rows, Row{Title: p.Title})
			continue
		}
		d.Rows[len(d.Rows)-1].Panels = append(d.Rows[len(d.Rows)-1].Panels, convertPanel(p))
	}
	return d
}

// TestBarChart: a barchart panel is drawn as grouped bars at To, one
// colour per query with a legend, x in natural order, missing values
// left out; an empty one says "No data"; a panel type the report does not
// draw is named with its query, never failing the report.
func TestBarChart(t *testing.T) {
	d := driftDashboard(t)
	papi, asked := binsProm(t)
	o := Options{From: fixedTo.Add(-time.Hour), To: fixedTo, API: papi, MaxPoints: DefaultMaxPoints, Concurrency: 2, QueryTimeout: 10 * time.Second}
	r := &Report{Stack: "drift", From: o.From, To: o.To, Step: time.Minute}
	r.Dashboards = panelData(context.Background(), []Dashboard{d}, r.Step, o)
	panels := r.Dashboards[0].Rows[0].Panels
	age, empty, heat := panels[0], panels[1], panels[2]

	if age.XField != "bin" || !age.Targets[0].Instant {
		t.Fatalf("panel read: xField %q, instant %v", age.XField, age.Targets[0].Instant)
	}
	if len(age.Errors) > 0 || age.Bars == nil {
		t.Fatalf("bar chart: errors %v, bars %v", age.Errors, age.Bars)
	}
	if want := []string{"0-2", "2-5", "10-20", "100+", "missing"}; !reflect.DeepEqual(age.Bars.Categories, want) {
		t.Errorf("x values %q, want %q (natural order)", age.Bars.Categories, want)
	}
	nan := math.NaN()
	for i, want := range []struct {
		name   string
		values []float64
	}{
		{"actual", []float64{0.25, 0.2, 0.3, 0.1, 0.15}},
		{"baseline", []float64{0.3, 0.3, 0.3, 0.1, nan}},
	} {
		got := age.Bars.Series[i]
		if got.Name != want.name || len(got.Values) != len(want.values) {
			t.Fatalf("series %d: %q %v, want %q %v", i, got.Name, got.Values, want.name, want.values)
		}
		for j, v := range want.values {
			if g := got.Values[j]; !(g == v || math.IsNaN(g) && math.IsNaN(v)) {
				t.Errorf("%s[%s] = %v, want %v", got.Name, age.Bars.Categories[j], g, v)
			}
		}
	}
	if age.Bars.Series[0].Color == age.Bars.Series[1].Color {
		t.Error("both series have one colour")
	}
	if empty.HasData() || heat.HasData() || !heat.NotDrawn() || age.NotDrawn() {
		t.Errorf("has data: empty %v, heatmap %v; not drawn: heatmap %v, bar chart %v", empty.HasData(), heat.HasData(), heat.NotDrawn(), age.NotDrawn())
	}
	for _, a := range *asked {
		if strings.Contains(a, "latency_bucket") {
			t.Errorf("the undrawn panel's query was run: %s", a)
		}
		if !strings.HasPrefix(a, "/api/v1/query ") {
			t.Errorf("not an instant query: %s", a)
		}
	}

	dir := t.TempDir()
	path, err := Write(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	b, err := os.ReadFile(filepath.Join(dir, "drift-24.png"))
	if err != nil {
		t.Fatalf("bar chart image: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := chartSize(age.Panel); img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Errorf("bar chart %v, want %dx%d", img.Bounds(), w, h)
	}
	// Both series' colours are in the picture: the bars are drawn.
	for _, s := range age.Bars.Series {
		c, _ := parseHex(s.Color)
		if !hasColour(img, c) {
			t.Errorf("no %s bar (%s) in the chart", s.Name, s.Color)
		}
	}
	for _, want := range []string{
		`<i class="sw" style="background:#7EB26D"></i>actual</span><span><i class="sw" style="background:#EAB839"></i>baseline</span>`,
		`<div class="nodata">No data</div>`,
		`<div class="nodata">Panel type heatmap is not drawn</div>`,
		`<code>sum by (le) (rate(latency_bucket[5m]))</code>`,
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "drift-26.png")); err == nil {
		t.Error("an undrawn panel got an image")
	}
}

// hasColour reports whether some pixel of img is exactly c.
func hasColour(img image.Image, c color.Color) bool {
	r0, g0, b0, _ := c.RGBA()
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r == r0 && g == g0 && b == b0 {
				return true
			}
		}
	}
	return false
}

func TestNaturalOrder(t *testing.T) {
	in := []string{"missing", "100+", "10-20", "2-5", "0-2", "+Inf", "-1", "0.5-1", "other"}
	want := []string{"-1", "0-2", "0.5-1", "2-5", "10-20", "100+", "+Inf", "missing", "other"}
	got := append([]string(nil), in...)
	sort.SliceStable(got, func(i, j int) bool { return naturalLess(got[i], got[j]) })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("natural order %q, want %q", got, want)
	}
	// Negative control: lexical order differs, so the test can tell.
	lex := append([]string(nil), in...)
	sort.Strings(lex)
	if reflect.DeepEqual(lex, want) {
		t.Fatal("lexical order equals the natural one: the case proves nothing")
	}
}
