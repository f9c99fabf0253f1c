package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart sizes in pixels at chartDPI.
const (
	chartDPI          = 96
	chartWidth        = 640
	chartHeight       = 240
	sparkWidth        = 320
	sparkHeight       = 90
	pointsPerPixelPt  = 72.0 / chartDPI
	thresholdDashSize = 4
)

// drawPanel draws a panel's chart: bars for a bar chart, lines otherwise.
func drawPanel(w io.Writer, p PanelData, from, to time.Time) error {
	if p.Type == TypeBarchart && p.Bars != nil {
		return drawBars(w, p)
	}
	return drawChart(w, p, from, to)
}

// drawChart draws a panel's series as a PNG with gonum/plot: a line per
// series in its legend colour, the time on the x axis (UTC), the panel's
// unit on the y axis and its thresholds as dashed lines; a series with a
// dashed line style override (Series.Dashes) is dashed too. A spark chart
// (stat panels) is smaller and has no axes labels. NaN samples break the
// line, as Grafana leaves gaps.
func drawChart(w io.Writer, p PanelData, from, to time.Time) error {
	spark := p.Type == TypeStat
	pl := plot.New()
	pl.X.Min, pl.X.Max = unix(from), unix(to)
	pl.X.Tick.Marker = plot.TimeTicks{Format: timeFormat(to.Sub(from))}
	pl.Y.Tick.Marker = unitTicks{unit: p.Unit}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		c, err := parseHex(s.Color)
		if err != nil {
			return err
		}
		for _, seg := range segments(s.Points) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return fmt.Errorf("series %s: %w", s.Name, err)
			}
			l.Color = c
			l.Width = vg.Points(1.5)
			for _, d := range s.Dashes {
				l.Dashes = append(l.Dashes, vg.Points(d*pointsPerPixelPt))
			}
			pl.Add(l)
			for _, xy := range seg {
				lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if p.Min != nil {
		lo = math.Min(lo, *p.Min)
	}
	if hi <= lo {
		hi = lo + 1
	}
	pl.Y.Min, pl.Y.Max = lo, hi+(hi-lo)*0.05
	if p.Max != nil && *p.Max >= hi {
		pl.Y.Max = *p.Max
	}
	if !spark {
		for _, t := range p.Thresholds {
			if t.Value == nil || *t.Value < pl.Y.Min || *t.Value > pl.Y.Max {
				continue
			}
			c, _ := parseHex(colorHex(t.Color))
			f := plotter.NewFunction(func(float64) float64 { return *t.Value })
			f.Color = c
			f.Dashes = []vg.Length{vg.Points(thresholdDashSize), vg.Points(thresholdDashSize)}
			f.Samples = 2
			pl.Add(f)
		}
		pl.Add(plotter.NewGrid())
	}
	wpx, hpx := chartSize(p.Panel)
	if spark {
		pl.HideY()
		pl.X.Tick.Label.Font.Size = vg.Points(7)
	}
	return writePNG(w, pl, wpx, hpx)
}

// writePNG draws pl at wpx×hpx pixels and encodes it as PNG.
func writePNG(w io.Writer, pl *plot.Plot, wpx, hpx int) error {
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(float64(wpx)*pointsPerPixelPt), vg.Length(float64(hpx)*pointsPerPixelPt)),
		vgimg.UseDPI(chartDPI))
	pl.Draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

func unix(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// segments splits points at NaN values into drawable runs.
func segments(ps []Point) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for _, p := range ps {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: unix(p.T), Y: p.V})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func timeFormat(rng time.Duration) string {
	if rng > 48*time.Hour {
		return "01-02 15:04"
	}
	return "15:04"
}

// unitTicks labels gonum's default ticks in the panel's unit.
type unitTicks struct{ unit string }

func (u unitTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = formatValue(u.unit, ts[i].Value, -1)
		}
	}
	return ts
}

func parseHex(s string) (color.Color, error) {
	if len(s) != 7 || s[0] != '#' {
		return nil, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return nil, fmt.Errorf("colour %q: %w", s, err)
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}, nil
}
