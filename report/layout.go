package report

import (
	"fmt"
	"html/template"
)

// The page lays each dashboard row out as Grafana does: a CSS grid of
// GridColumns columns, each panel at gridPos.x/y spanning gridPos.w columns
// and gridPos.h rows (no JavaScript). Charts are drawn at a size
// proportional to w×h, so a half-width panel gets a half-width chart.
const (
	// cellWidth is one grid column in pixels: 24 of them fill the
	// 1400 px window the browser test uses, less the page's margins.
	cellWidth = 56
	// cellHeight is one grid row in pixels: Grafana's 30 px cell plus
	// room for the title and legend the page prints as text.
	cellHeight = 36
	// chrome is the height a panel's title, legend and padding take.
	chrome     = 90
	statChrome = 100
	minChartH  = 40
	panelPad   = 20
)

// rowTop is the smallest gridPos.y of the row's panels: the row's first
// grid line.
func rowTop(ps []PanelData) int {
	top := -1
	for _, p := range ps {
		if p.GridPos.W > 0 && (top < 0 || p.GridPos.Y < top) {
			top = p.GridPos.Y
		}
	}
	return max(top, 0)
}

// GridStyle is the panel's CSS grid placement: its gridPos relative to
// its row, or a half-width span in flow order when the dashboard gave no
// gridPos. It is built from integers only, so it is safe CSS.
func (p PanelData) GridStyle() template.CSS {
	g := p.GridPos
	if g.W <= 0 {
		return template.CSS("grid-column:span 12")
	}
	return template.CSS(fmt.Sprintf("grid-column:%d / span %d;grid-row:%d / span %d", g.X+1, g.W, g.Y-p.rowTop+1, g.H))
}

// chartSize is the chart's size in pixels for a panel: proportional to
// its gridPos w×h, or the defaults when it has none.
func chartSize(p Panel) (w, h int) {
	g := p.GridPos
	spark := p.Type == TypeStat
	if g.W <= 0 {
		if spark {
			return sparkWidth, sparkHeight
		}
		return chartWidth, chartHeight
	}
	w = g.W*cellWidth - panelPad
	if spark {
		return w, max(g.H*cellHeight-statChrome, minChartH)
	}
	return w, max(g.H*cellHeight-chrome, 3*minChartH)
}
