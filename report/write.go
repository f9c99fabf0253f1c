package report

import (
	"bytes"
	_ "embed" // the page template
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed index.html.tmpl
var pageText string

var page = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"ts":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"dur":       func(a, b time.Time) string { return b.Sub(a).String() },
	"join":      strings.Join,
	"maxSeries": func() int { return MaxSeries },
}).Parse(pageText))

// IndexFile is the report page's name in the output folder.
const IndexFile = "index.html"

// Write draws every panel with data as a PNG beside the page and writes
// dir/index.html; it returns the page's path. The page needs nothing from
// the network: no script, no web font, images are files beside it.
func Write(r *Report, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	for di := range r.Dashboards {
		d := &r.Dashboards[di]
		for ri := range d.Rows {
			for pi := range d.Rows[ri].Panels {
				p := &d.Rows[ri].Panels[pi]
				if !p.HasData() {
					continue
				}
				name := imageName(d.File, p.ID)
				var buf bytes.Buffer
				if err := drawChart(&buf, *p, r.From, r.To, p.Type == "stat"); err != nil {
					return "", fmt.Errorf("dashboard %q, panel %q: %w", d.Title, p.Title, err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
					return "", fmt.Errorf("write %s: %w", name, err)
				}
				p.Image = name
			}
		}
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, r); err != nil {
		return "", fmt.Errorf("render %s: %w", IndexFile, err)
	}
	path := filepath.Join(dir, IndexFile)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// imageName is a panel's PNG file: the dashboard file's base name and the
// panel id ("demo-7.png", "_overview-3.png").
func imageName(dashFile string, id int) string {
	base := strings.TrimSuffix(filepath.Base(dashFile), filepath.Ext(dashFile))
	return base + "-" + strconv.Itoa(id) + ".png"
}
