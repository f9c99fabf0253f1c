package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"sort"
	"testing"
	"time"

	"github.com/stackgen/stackgen/dashboards"
)

// TestLineStylesAreTheDashboards: the queries whose series the report
// draws dashed are exactly those the dashboards' custom.lineStyle
// overrides dash (read from dashboards.Build's JSON generically).
func TestLineStylesAreTheDashboards(t *testing.T) {
	total := 0
	for _, ex := range []string{"offline", "demo", "tfserving", "mlflow", "remote"} {
		t.Run(ex, func(t *testing.T) {
			s := loadExample(t, ex)
			files, err := dashboards.Build(s)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for f, b := range files {
				var d struct {
					Panels []map[string]any `json:"panels"`
				}
				if err := json.Unmarshal(b, &d); err != nil {
					t.Fatal(err)
				}
				for _, p := range d.Panels {
					fc, _ := p["fieldConfig"].(map[string]any)
					ovs, _ := fc["overrides"].([]any)
					for _, o := range ovs {
						om := o.(map[string]any)
						m := om["matcher"].(map[string]any)
						for _, pr := range om["properties"].([]any) {
							pm := pr.(map[string]any)
							v, _ := pm["value"].(map[string]any)
							if pm["id"] == "custom.lineStyle" && v["fill"] == "dash" && m["id"] == "byFrameRefID" {
								want = append(want, f+"/"+p["title"].(string)+"/"+m["options"].(string))
							}
						}
					}
				}
			}
			ds, err := Dashboards(s)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				for _, r := range d.Rows {
					for _, p := range r.Panels {
						for _, tg := range p.Targets {
							if len(p.Dashes(tg.RefID, "")) == 2 {
								got = append(got, d.File+"/"+p.Title+"/"+tg.RefID)
							}
						}
					}
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("dashed queries\n got %v\nwant %v", got, want)
			}
			total += len(want)
		})
	}
	if total == 0 {
		t.Fatal("control: no dashboard dashes a series")
	}
}

// TestDashedSeriesDrawnDashed: a series with a dash pattern is drawn as
// dashes (many runs of its colour along its row of pixels), the same
// series without one as a solid line (few runs: only the grid crosses it).
func TestDashedSeriesDrawnDashed(t *testing.T) {
	from := fixedTo.Add(-time.Hour)
	var pts []Point
	for i := 0; i <= 60; i++ {
		pts = append(pts, Point{T: from.Add(time.Duration(i) * time.Minute), V: 0.5})
	}
	low := []Point{{T: from, V: 0}, {T: fixedTo, V: 0}}
	runs := func(dashes []float64) int {
		p := PanelData{Panel: Panel{Type: TypeTimeseries, Unit: "short", GridPos: GridPos{W: 12, H: 8}},
			Series: []Series{{Name: "line", Color: "#E24D42", Points: pts, Dashes: dashes}, {Name: "low", Color: "#1F78C1", Points: low}}}
		var b bytes.Buffer
		if err := drawChart(&b, p, from, fixedTo); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		red := func(x, y int) bool {
			r, g, bl, _ := img.At(x, y).RGBA()
			return r>>8 > 180 && g>>8 < 120 && bl>>8 < 120
		}
		// The row with the most red pixels is the line's.
		bounds := img.Bounds()
		bestY, bestN := 0, 0
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			n := 0
			for x := bounds.Min.X; x < bounds.Max.X; x++ {
				if red(x, y) {
					n++
				}
			}
			if n > bestN {
				bestY, bestN = y, n
			}
		}
		if bestN < bounds.Dx()/3 {
			t.Fatalf("the line is not drawn: %d red pixels at best in a row of %d", bestN, bounds.Dx())
		}
		n, on := 0, false
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if r := red(x, bestY); r && !on {
				n++
				on = true
			} else if !r {
				on = false
			}
		}
		return n
	}
	solid, dashed := runs(nil), runs([]float64{10, 10})
	if solid > 10 {
		t.Errorf("solid line: %d runs, want a few", solid)
	}
	if dashed < 15 {
		t.Errorf("dashed line: %d runs, want dashes (≥ 15)", dashed)
	}
	t.Logf("runs of the line's colour: solid %d, dashed %d", solid, dashed)
}
