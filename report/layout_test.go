package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestLayoutFollowsGridPos: every panel of the page sits where its
// dashboard's gridPos puts it (column x+1 spanning w, row y-rowTop+1
// spanning h), read back from the written page, and its chart's pixel
// size is proportional to w×h.
func TestLayoutFollowsGridPos(t *testing.T) {
	s := loadExample(t, "offline")
	dir := t.TempDir()
	generate(t, s, testOptions(t, newFake()), dir)
	page, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Dashboards(s)
	if err != nil {
		t.Fatal(err)
	}
	styleRE := regexp.MustCompile(`id="([^"]+)-panel-(\d+)"[^>]*style="grid-column:(\d+) / span (\d+);grid-row:(\d+) / span (\d+)"`)
	got := map[string][4]int{}
	for _, m := range styleRE.FindAllStringSubmatch(string(page), -1) {
		var v [4]int
		for i := range v {
			v[i], _ = strconv.Atoi(m[3+i])
		}
		got[m[1]+"/"+m[2]] = v
	}
	n := 0
	for _, d := range ds {
		for _, r := range d.Rows {
			top := -1
			for _, p := range r.Panels {
				if top < 0 || p.GridPos.Y < top {
					top = p.GridPos.Y
				}
			}
			for _, p := range r.Panels {
				n++
				g := p.GridPos
				if g.W == 0 {
					t.Errorf("%s panel %q: no gridPos read from the dashboard", d.File, p.Title)
					continue
				}
				want := [4]int{g.X + 1, g.W, g.Y - top + 1, g.H}
				if got[d.UID+"/"+strconv.Itoa(p.ID)] != want {
					t.Errorf("%s panel %q: placed %v, want %v (gridPos %+v)", d.File, p.Title, got[d.UID+"/"+strconv.Itoa(p.ID)], want, g)
				}
			}
		}
	}
	if n == 0 || len(got) != n {
		t.Fatalf("%d panels placed on the page, %d in the dashboards", len(got), n)
	}
	// Chart sizes follow w×h: decode every PNG and compare with its panel.
	for _, c := range []struct {
		file string
		id   int
	}{{"_overview.json", 1}, {"_overview.json", 5}, {"demo.json", 6}, {"demo.json", 12}} {
		var p Panel
		for _, d := range ds {
			for _, r := range d.Rows {
				for _, q := range r.Panels {
					if filepath.Base(d.File) == c.file && q.ID == c.id {
						p = q
					}
				}
			}
		}
		f, err := os.ReadFile(filepath.Join(dir, imageName(c.file, c.id)))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		w, h := chartSize(p)
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("%s panel %d (gridPos %+v): chart %dx%d, want %dx%d", c.file, c.id, p.GridPos, b.Dx(), b.Dy(), w, h)
		}
		if wantW := p.GridPos.W*cellWidth - panelPad; w != wantW {
			t.Errorf("%s panel %d: chart width %d not proportional to w=%d", c.file, c.id, w, p.GridPos.W)
		}
	}
}

func TestGridStyle(t *testing.T) {
	for _, c := range []struct {
		g    GridPos
		top  int
		want string
	}{
		{GridPos{X: 0, Y: 1, W: 6, H: 4}, 1, "grid-column:1 / span 6;grid-row:1 / span 4"},
		{GridPos{X: 12, Y: 13, W: 12, H: 8}, 5, "grid-column:13 / span 12;grid-row:9 / span 8"},
		{GridPos{}, 0, "grid-column:span 12"}, // no gridPos: flows
	} {
		p := PanelData{Panel: Panel{GridPos: c.g}, rowTop: c.top}
		if got := string(p.GridStyle()); got != c.want {
			t.Errorf("GridStyle(%+v, top %d) = %q, want %q", c.g, c.top, got, c.want)
		}
	}
	// Negative control: a panel moved in its dashboard moves on the page.
	a := PanelData{Panel: Panel{GridPos: GridPos{X: 0, Y: 1, W: 6, H: 4}}, rowTop: 1}
	b := a
	b.GridPos.X = 6
	if a.GridStyle() == b.GridStyle() {
		t.Fatal("moving a panel does not change its place")
	}
}

// TestGridPosClamped: a gridPos outside the grid is clamped into it.
func TestGridPosClamped(t *testing.T) {
	for _, c := range []struct {
		in   string
		want GridPos
	}{
		{`{"x":20,"y":3,"w":12,"h":8}`, GridPos{X: 20, Y: 3, W: 4, H: 8}},
		{`{"x":-2,"y":-1,"w":30,"h":4}`, GridPos{X: 0, Y: 0, W: 24, H: 4}},
		{`{"x":0,"y":0,"w":0,"h":0}`, GridPos{}},
	} {
		var pj panelJSON
		if err := jsonUnmarshal(fmt.Sprintf(`{"type":"timeseries","gridPos":%s}`, c.in), &pj); err != nil {
			t.Fatal(err)
		}
		if got := convertPanel(pj).GridPos; got != c.want {
			t.Errorf("%s: %+v, want %+v", c.in, got, c.want)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
