package report

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackgen/stackgen/internal/testtool"
)

var keepShot = flag.String("screenshot", "", "also copy the browser test's screenshot to this path")

// consoleRE matches the page's console messages in Chromium's log
// (--enable-logging=stderr): `INFO:CONSOLE:1] "boom", source: …`.
var consoleRE = regexp.MustCompile(`:CONSOLE(?:\(\d+\)|:\d+)\] (.*)`)

// shoot opens dir/index.html in headless Chromium, served over HTTP from dir
// so every request and its status is seen, and returns the screenshot, the
// page's console messages and the requests that failed (404 and the like).
func shoot(t *testing.T, chromium, dir string) (image.Image, []string, []string) {
	t.Helper()
	var mu sync.Mutex
	var failed []string
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		fs.ServeHTTP(rec, r)
		if rec.code >= 400 {
			mu.Lock()
			failed = append(failed, fmt.Sprintf("%s: %d", r.URL.Path, rec.code))
			mu.Unlock()
		}
	}))
	defer srv.Close()
	shot := filepath.Join(t.TempDir(), "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--screenshot="+shot, "--window-size=1400,2000", srv.URL+"/index.html")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	var console []string
	for _, m := range consoleRE.FindAllStringSubmatch(string(out), -1) {
		console = append(console, m[1])
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return img, console, append([]string(nil), failed...)
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func distinctColours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// TestInBrowser opens the report in a real browser (Debian's chromium,
// headless): no console error, no missing image, and a screenshot that is
// not blank. The negative controls break the page and expect the failures.
func TestInBrowser(t *testing.T) {
	chromium := testtool.Path(t, "apt-get install chromium", "chromium", "chromium-browser")
	s := loadExample(t, "offline")
	good := t.TempDir()
	generate(t, s, testOptions(t, newFake()), good)

	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		ok     bool
	}{
		{"report", nil, true},
		{"missing image", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "demo-6.png")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"console error", func(t *testing.T, dir string) {
			p := filepath.Join(dir, IndexFile)
			b, _ := os.ReadFile(p)
			b = []byte(strings.Replace(string(b), "</body>", `<script>console.error("broken")</script></body>`, 1))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"blank page", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte("<!DOCTYPE html><html><body></body></html>"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := good
			if c.break_ != nil {
				dir = t.TempDir()
				copyDir(t, good, dir)
				c.break_(t, dir)
			}
			img, console, failed := shoot(t, chromium, dir)
			if c.ok && *keepShot != "" {
				if f, err := os.Create(*keepShot); err == nil {
					_ = png.Encode(f, img)
					f.Close()
				}
			}
			var problems []string
			if len(console) > 0 {
				problems = append(problems, fmt.Sprintf("console: %q", console))
			}
			if len(failed) > 0 {
				problems = append(problems, fmt.Sprintf("failed requests: %q", failed))
			}
			if n := distinctColours(img); n < 64 {
				problems = append(problems, fmt.Sprintf("screenshot looks blank: %d colours", n))
			}
			if c.ok && len(problems) > 0 {
				t.Fatalf("report in the browser: %s", strings.Join(problems, "; "))
			}
			if !c.ok && len(problems) == 0 {
				t.Fatal("the broken page passed: the browser check cannot fail")
			}
		})
	}
}

// TestBarChartInBrowser: a page with a bar chart, an empty bar chart and
// a panel type the report does not draw loads in the browser with no
// console error or missing image, and is not blank.
func TestBarChartInBrowser(t *testing.T) {
	chromium := testtool.Path(t, "apt-get install chromium", "chromium", "chromium-browser")
	papi, _ := binsProm(t)
	o := Options{From: fixedTo.Add(-time.Hour), To: fixedTo, API: papi, MaxPoints: DefaultMaxPoints, Concurrency: 2, QueryTimeout: 10 * time.Second}
	r := &Report{Stack: "drift", From: o.From, To: o.To, Step: time.Minute, HistorySource: SourceALERTS}
	r.Dashboards = panelData(context.Background(), []Dashboard{driftDashboard(t)}, r.Step, o)
	dir := t.TempDir()
	if _, err := Write(r, dir); err != nil {
		t.Fatal(err)
	}
	img, console, failed := shoot(t, chromium, dir)
	if len(console) > 0 || len(failed) > 0 {
		t.Fatalf("console %q, failed requests %q", console, failed)
	}
	if n := distinctColours(img); n < 64 {
		t.Fatalf("screenshot looks blank: %d colours", n)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
