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

// ImagesFile lists the charts the last report wrote into the folder, so the
// next report removes the ones it no longer draws (a panel that lost its
// data) and never touches other files.
const ImagesFile = ".stackgen-report-images"

// Write draws every panel with data as a PNG beside the page and writes
// dir/index.html; it returns the page's path. The page needs nothing from
// the network: no script, no web font, images are files beside it.
func Write(r *Report, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	var written []string
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
				if err := drawPanel(&buf, *p, r.From, r.To); err != nil {
					return "", fmt.Errorf("dashboard %q, panel %q: %w", d.Title, p.Title, err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
					return "", fmt.Errorf("write %s: %w", name, err)
				}
				p.Image = name
				written = append(written, name)
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
	if err := removeStale(dir, written); err != nil {
		return "", err
	}
	return path, nil
}

// removeStale deletes the charts the previous report listed in ImagesFile
// that this one did not write, then lists this report's charts there.
func removeStale(dir string, written []string) error {
	list := filepath.Join(dir, ImagesFile)
	keep := make(map[string]bool, len(written))
	for _, n := range written {
		keep[n] = true
	}
	if old, err := os.ReadFile(list); err == nil {
		for _, n := range strings.Fields(string(old)) {
			// Only plain chart names: the list file is not trusted to
			// point outside the folder.
			if keep[n] || n != filepath.Base(n) || !strings.HasSuffix(n, ".png") {
				continue
			}
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("remove stale chart %s: %w", n, err)
			}
		}
	}
	if err := os.WriteFile(list, []byte(strings.Join(written, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", list, err)
	}
	return nil
}

// imageName is a panel's PNG file: the dashboard file's base name and the
// panel id ("demo-7.png", "_overview-3.png").
func imageName(dashFile string, id int) string {
	base := strings.TrimSuffix(filepath.Base(dashFile), filepath.Ext(dashFile))
	return base + "-" + strconv.Itoa(id) + ".png"
}
