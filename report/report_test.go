package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/mailcatcher"
	"github.com/stackgen/stackgen/stack"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.html")

// fixedTo is the end of the range in the tests.
var fixedTo = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

func loadExample(t testing.TB, name string) *stack.Stack {
	t.Helper()
	s, err := stack.Load(filepath.Join("..", "examples", name, "stack.yaml"))
	if err != nil {
		t.Fatalf("load example %s: %v", name, err)
	}
	return s
}

// panelKey is what must be the same in the report and the dashboards.
type panelKey struct {
	File, Row, Title, Unit string
	Exprs                  []string
}

// fromJSON lists the panels of dashboards.Build's JSON, read generically
// (not with the report's own decoder).
func fromJSON(t *testing.T, s *stack.Stack) []panelKey {
	files, err := dashboards.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	var out []panelKey
	for _, f := range names {
		var b map[string]any
		if err := json.Unmarshal(files[f], &b); err != nil {
			t.Fatal(err)
		}
		row := ""
		for _, pa := range b["panels"].([]any) {
			p := pa.(map[string]any)
			if p["type"] == "row" {
				row = p["title"].(string)
				continue
			}
			k := panelKey{File: f, Row: row, Title: p["title"].(string)}
			if fc, ok := p["fieldConfig"].(map[string]any); ok {
				if d, ok := fc["defaults"].(map[string]any); ok {
					k.Unit, _ = d["unit"].(string)
				}
			}
			for _, ta := range p["targets"].([]any) {
				k.Exprs = append(k.Exprs, ta.(map[string]any)["expr"].(string))
			}
			out = append(out, k)
		}
	}
	return out
}

func fromReport(ds []Dashboard) []panelKey {
	var out []panelKey
	for _, d := range ds {
		for _, r := range d.Rows {
			for _, p := range r.Panels {
				k := panelKey{File: d.File, Row: r.Title, Title: p.Title, Unit: p.Unit}
				for _, t := range p.Targets {
					k.Exprs = append(k.Exprs, t.Expr)
				}
				out = append(out, k)
			}
		}
	}
	return out
}

// TestPanelsAreTheDashboards: the report's panels are exactly the
// dashboards' panels (order, rows, titles, queries, units), so a panel
// added to the dashboards cannot be missing from the report.
func TestPanelsAreTheDashboards(t *testing.T) {
	for _, ex := range []string{"offline", "demo", "tfserving", "mlflow", "remote"} {
		t.Run(ex, func(t *testing.T) {
			s := loadExample(t, ex)
			want := fromJSON(t, s)
			ds, err := Dashboards(s)
			if err != nil {
				t.Fatal(err)
			}
			got := fromReport(ds)
			for _, k := range got {
				for _, e := range k.Exprs {
					// The report sends the dashboards' PromQL as it is: a
					// Grafana variable ($model, $__rate_interval) would need
					// livecheck's expansion first.
					if strings.Contains(e, "$") {
						t.Errorf("panel %q query uses a Grafana variable the report does not expand: %s", k.Title, e)
					}
				}
			}
			if len(want) == 0 {
				t.Fatal("no panels in the dashboards")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("report panels differ from the dashboards:\n got %d: %+v\nwant %d: %+v", len(got), got, len(want), want)
			}
			// Negative control: a forgotten panel or changed query is noticed.
			short := append([]panelKey(nil), got[:len(got)-1]...)
			if reflect.DeepEqual(short, want) {
				t.Fatal("comparison does not notice a missing panel")
			}
			changed := append([]panelKey(nil), got...)
			changed[0].Exprs = []string{"up"}
			if reflect.DeepEqual(changed, want) {
				t.Fatal("comparison does not notice a changed query")
			}
		})
	}
}

// testMail is a real mail catcher's JSON API holding one alert email, with
// markup in its body that must come out escaped.
func testMail(t testing.TB, received time.Time) string {
	t.Helper()
	mc, err := mailcatcher.New(mailcatcher.Config{SMTPListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mc.Close)
	raw := "From: alertmanager@offline.local\r\nTo: oncall@example.com\r\nSubject: [FIRING:1] high_error_ratio demo\r\n" +
		"Content-Type: text/plain\r\n\r\nError ratio 0.5 > 0.2 for model demo <script>alert('x')</script>\r\n"
	if _, err := mc.Store().AddRaw([]byte(raw), "alertmanager@offline.local", []string{"oncall@example.com"}, received); err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(raw, "[FIRING:1]", "[OLD]", 1)
	if _, err := mc.Store().AddRaw([]byte(old), "alertmanager@offline.local", []string{"oncall@example.com"}, received.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mc.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func testOptions(t testing.TB, f *fakeProm) Options {
	return Options{From: fixedTo.Add(-time.Hour), To: fixedTo, API: fakeAPI(t, f), MailURL: testMail(t, fixedTo.Add(-20*time.Minute)),
		Version: "v0.0.0-test", Services: []Service{{Name: "prometheus", Image: "stackgen/prometheus:2.42.0", State: "running", Health: "healthy"}}}
}

func newFake() *fakeProm {
	return &fakeProm{empty: []string{"upstream_failures_total"}, firingFrom: fixedTo.Add(-25 * time.Minute), firingTo: fixedTo}
}

func generate(t testing.TB, s *stack.Stack, o Options, dir string) string {
	t.Helper()
	r, err := Collect(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	path, err := Write(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGoldenHTML(t *testing.T) {
	s := loadExample(t, "offline")
	dir := t.TempDir()
	path := generate(t, s, testOptions(t, newFake()), dir)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden.html")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run TestGoldenHTML -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("index.html differs from %s (go test ./report -run TestGoldenHTML -update after checking the change)", golden)
	}
	page := string(got)
	for _, c := range []struct{ name, want string }{
		{"escaped email body", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"},
		{"email subject", "[FIRING:1] high_error_ratio demo"},
		{"firing rule", `<td class="firing">firing</td>`},
		{"history", "<td>high_error_ratio</td><td>demo</td><td class=\"firing\">firing</td><td>2026-01-02 14:35:00</td>"},
		{"no data query", "<div class=\"nodata\">No data</div>"},
		{"target down", `<td class="down">down</td>`},
		{"version", "v0.0.0-test"},
		{"stat threshold colour", `<div class="big" style="color:#`},
		{"bar chart (data drift row)", `<div class="panel barchart" id="offline-demo-panel-24" data-dashboard="offline-demo" data-has-data="true" style="grid-column:1 / span 8;`},
		{"bar chart legend", `<i class="sw" style="background:#7EB26D"></i>actual</span><span><i class="sw" style="background:#EAB839"></i>baseline</span>`},
	} {
		if !strings.Contains(page, c.want) {
			t.Errorf("%s: page lacks %q", c.name, c.want)
		}
	}
	for _, bad := range []string{"<script>", "[OLD]", "http://", "https://"} {
		if bad == "http://" || bad == "https://" {
			// only the scrape URLs of the targets table may be links' text, never a src/href
			if strings.Contains(page, `src="`+bad) || strings.Contains(page, `href="`+bad) {
				t.Errorf("page loads %s from the network", bad)
			}
			continue
		}
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Every panel with data has its image, and every image exists.
	imgs := 0
	for _, m := range strings.Split(page, `<img src="`)[1:] {
		name := m[:strings.IndexByte(m, '"')]
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("image %s: %v", name, err)
		}
		imgs++
	}
	ds, _ := Dashboards(s)
	panels := len(fromReport(ds))
	nodata := strings.Count(page, "No data</div>")
	if imgs+nodata != panels || nodata == 0 || imgs == 0 {
		t.Errorf("%d images + %d No data for %d panels", imgs, nodata, panels)
	}
}

// TestDeterministic: the same data and --to give the same bytes.
func TestDeterministic(t *testing.T) {
	s := loadExample(t, "offline")
	o := testOptions(t, newFake())
	a, b := t.TempDir(), t.TempDir()
	generate(t, s, o, a)
	generate(t, s, o, b)
	if fa, fb := dirDigest(t, a), dirDigest(t, b); fa != fb {
		t.Fatalf("two runs differ:\n%s\n%s", fa, fb)
	}
	// Negative control: other data gives other bytes.
	c := t.TempDir()
	f := newFake()
	f.empty = nil
	o.API = fakeAPI(t, f)
	generate(t, s, o, c)
	if dirDigest(t, a) == dirDigest(t, c) {
		t.Fatal("different data gave the same report")
	}
}

func dirDigest(t testing.TB, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%x ", e.Name(), fnvSum(data))
	}
	return b.String()
}

func fnvSum(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// TestEmailWholeBody: a body longer than the mail catcher's list preview is
// fetched whole from the message's own URL.
func TestEmailWholeBody(t *testing.T) {
	mc, err := mailcatcher.New(mailcatcher.Config{SMTPListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	body := strings.Repeat("firing alert line\r\n", 2*mailcatcher.PreviewBytes/18) + "END-OF-BODY\r\n"
	raw := "From: a@x\r\nTo: b@x\r\nSubject: long\r\nContent-Type: text/plain\r\n\r\n" + body
	if _, err := mc.Store().AddRaw([]byte(raw), "a@x", []string{"b@x"}, fixedTo.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mc.Handler())
	defer srv.Close()
	// Control: the list's preview really is cut.
	list, err := mailPage(context.Background(), srv.Client(), srv.URL+"/api/messages")
	if err != nil || len(list) != 1 || strings.Contains(list[0].Text, "END-OF-BODY") || !list[0].Truncated {
		t.Fatalf("control: list preview not cut (err %v)", err)
	}
	got, problem := emails(context.Background(), Options{From: fixedTo.Add(-time.Hour), To: fixedTo, MailURL: srv.URL})
	if problem != "" || len(got) != 1 {
		t.Fatalf("emails: %d, %q", len(got), problem)
	}
	if !strings.Contains(got[0].Text, "END-OF-BODY") || got[0].Truncated {
		t.Fatalf("body not whole (truncated %v, %d bytes)", got[0].Truncated, len(got[0].Text))
	}
}

// TestRuleStateAtTo: a rule's state is what the ALERTS series says at --to,
// not what the rules API says now.
func TestRuleStateAtTo(t *testing.T) {
	s := loadExample(t, "offline")
	f := &fakeProm{firingFrom: fixedTo.Add(-40 * time.Minute), firingTo: fixedTo.Add(-20 * time.Minute)}
	api := fakeAPI(t, f)
	for _, c := range []struct {
		name  string
		to    time.Time
		state string
		since time.Time
	}{
		{"while firing", fixedTo.Add(-30 * time.Minute), "firing", f.firingFrom},
		{"after it resolved", fixedTo, "inactive", time.Time{}},
		{"before it fired", fixedTo.Add(-50 * time.Minute), "inactive", time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Collect(context.Background(), s, Options{From: c.to.Add(-time.Hour), To: c.to, API: api})
			if err != nil {
				t.Fatal(err)
			}
			var got *RuleState
			for i := range r.Rules {
				if r.Rules[i].Name == "high_error_ratio" {
					got = &r.Rules[i]
				}
			}
			if got == nil {
				t.Fatal("no high_error_ratio rule")
			}
			if got.State != c.state || !got.ActiveSince.Equal(c.since) {
				t.Fatalf("state %s since %v, want %s since %v", got.State, got.ActiveSince, c.state, c.since)
			}
		})
	}
}

// TestStaleChartsRemoved: a panel that lost its data loses its chart on the
// next report into the same folder; files the report did not write stay.
func TestStaleChartsRemoved(t *testing.T) {
	s := loadExample(t, "offline")
	dir := t.TempDir()
	generate(t, s, testOptions(t, newFake()), dir)
	before, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	mine := filepath.Join(dir, "mine.png")
	if err := os.WriteFile(mine, []byte("user file"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFake()
	f.empty = append(f.empty, "process_cpu_seconds_total")
	generate(t, s, testOptions(t, f), dir)
	after, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("a file the report did not write was removed: %v", err)
	}
	// after holds mine.png too: one chart fewer means at least two fewer.
	if len(after) >= len(before)+1 {
		t.Fatalf("charts before %d, after %d (with mine.png): the CPU panel's chart was not removed", len(before), len(after))
	}
	page, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range after {
		n := filepath.Base(p)
		if n != "mine.png" && !strings.Contains(string(page), n) {
			t.Errorf("%s is left but the page does not show it", n)
		}
	}
}
