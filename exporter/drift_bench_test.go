package exporter

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/modelserver"
	"github.com/stackgen/stackgen/stack"
)

// demoBaseline profiles the demo model's features: each numeric with inner
// edges at mean − std/2, mean and mean + std/2.
func driftDemoBaseline(t testing.TB, m *model.Model) *baseline.Baseline {
	t.Helper()
	b := &baseline.Baseline{Format: baseline.Format, Rows: 768, Columns: m.Features}
	for i, name := range m.Features {
		mu, sd := m.Means[i], m.Stds[i]
		f := baseline.Feature{Name: name, Kind: baseline.KindNumeric,
			Edges: []float64{mu - sd/2, mu, mu + sd/2}, Min: mu - 3*sd, Max: mu + 3*sd}
		for j := range 4 {
			f.Bins = append(f.Bins, baseline.Bin{Label: fmt.Sprint(j), Ratio: .25})
		}
		b.Features = append(b.Features, f)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDriftEveryExampleFormat: the demo model's example bodies, in every
// request format the model package writes, count the same bins, and every
// feature exactly once per row; against a synthetic baseline and against the
// demo model's shipped one (model.DefaultBaseline).
func TestDriftEveryExampleFormat(t *testing.T) {
	dm := model.Default()
	shipped, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*baseline.Baseline{"synthetic": driftDemoBaseline(t, dm), "shipped": shipped} {
		var first map[string]float64
		for _, format := range model.Formats() {
			t.Run(name+"/"+format, func(t *testing.T) {
				body, ct, err := model.Example(dm, format)
				if err != nil {
					t.Fatal(err)
				}
				m := driftMetricsFor(t, b)
				m.request(body, ct == model.ContentTypeCSV)
				got := driftFeatureCounts(t, m.reg)
				perFeature := map[string]float64{}
				for k, v := range got {
					if strings.HasSuffix(k, ":missing") {
						t.Errorf("%s = %v: example rows are complete", k, v)
					}
					if name, _, ok := strings.Cut(k, "="); ok {
						perFeature[name] += v
					}
				}
				if len(perFeature) != len(b.Features) {
					t.Errorf("features counted %v, baseline has %d", perFeature, len(b.Features))
				}
				for _, f := range b.Features {
					if perFeature[f.Name] != 2 {
						t.Errorf("feature %s binned %v times, want 2 (two rows)", f.Name, perFeature[f.Name])
					}
				}
				if first == nil {
					first = got
				} else if !maps.Equal(got, first) {
					t.Errorf("%s counts %v, %s counted %v", format, got, model.Formats()[0], first)
				}
			})
		}
	}
}

// TestDriftThroughHandler: a request through the real handler is counted.
func TestDriftThroughHandler(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"predictions":[[0.3,0.7]]}`)
	}))
	defer up.Close()
	e, err := New(Config{Upstream: up.URL, Kind: KindMLflow, Baseline: driftTestBaseline(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/predict", "application/json",
		strings.NewReader(`{"dataframe_records":[{"age":44,"income":50,"city":"berlin"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	got := driftGather(t, e.Registry())
	for k, v := range map[string]float64{
		stack.MetricFeatureBin + "{bin=40-50,feature=age}":   1,
		stack.MetricFeatureBin + "{bin=berlin,feature=city}": 1,
		stack.MetricFeatureBin + "{bin=low,feature=income}":  1,
		stack.MetricFeatureBin + "{bin=30-40,feature=age}":   0,
		"model_prediction_confidence_count{}":                1,
		MetricPredictions + "{class=yes}":                    1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// TestDriftRequestAllocFree: counting a request's features allocates nothing
// in the steady state (pooled scratch, no label lookups).
func TestDriftRequestAllocFree(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	m := driftMetricsFor(t, driftTestBaseline(t))
	for name, body := range map[string]struct {
		b   string
		csv bool
	}{
		"dataframe_split":   {`{"dataframe_split":{"columns":["age","income","city"],"data":[[35,5000,"paris"],[42,7200,"x"]]}}`, false},
		"dataframe_records": {`{"dataframe_records":[{"age":35,"income":"5000","city":"berlin"},{"age":null}]}`, false},
		"instances":         {`{"instances":[[35,5000,"paris"],[42,7200,1]]}`, false},
		"inputs columnar":   {`{"inputs":{"age":[35,42],"income":[5000,7200],"city":["paris","x"]}}`, false},
		"csv":               {"age,income,city\n35,5000,paris\n42,NA,\"x,y\"\n", true},
	} {
		b := []byte(body.b)
		m.request(b, body.csv)
		if n := testing.AllocsPerRun(200, func() { m.drift.request(b, body.csv) }); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", name, n)
		}
	}
	ans := []byte(`{"predictions":[[0.2,0.8],[0.9,0.1]]}`)
	m.answer(ans)
	if n := testing.AllocsPerRun(200, func() { m.drift.answer(ans, &m.classes) }); n != 0 {
		t.Errorf("answer: %v allocations, want 0", n)
	}
}

// FuzzDrift: any body, JSON or CSV, never panics, never adds a series, and
// counts every committed row at most once per feature (bins + missing) and
// at least once (bins + missing + out_of_range).
// Run with: go test -fuzz=FuzzDrift ./exporter/
func FuzzDrift(f *testing.F) {
	dm := model.Default()
	for _, format := range model.Formats() {
		body, _, err := model.Example(dm, format)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, format == model.FormatCSV)
	}
	for _, s := range []string{
		`{"dataframe_split":{"columns":["city","age"],"data":[["paris",35],[null,"x"]]}}`,
		`{"inputs":{"age":[35,45],"city":"paris"}}`,
		`[{"\u0061ge":"3\u0035","age":[1]},[Infinity,NaN,true]]`,
		`{"predictions":[[0.2,0.8],{"a":0.1,"b":0.9}]}`,
		"age,city\n35,\"a\"\"b\nc\"\n",
		"[0\xc2]", // an invalid UTF-8 class label used to panic
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, csv bool) {
		b := driftTestBaseline(t)
		m := driftMetricsFor(t, b)
		before := driftSeries(driftGather(t, m.reg))
		m.request(body, csv)
		m.answer(body)
		s := driftGather(t, m.reg)
		if after := driftSeries(s); after != before {
			t.Fatalf("drift series %d → %d", before, after)
		}
		rows := float64(m.drift.rows.Load())
		for _, feat := range b.Features {
			binned := s[stack.MetricFeatureMissing+"{feature="+feat.Name+"}"]
			for _, bin := range feat.Bins {
				binned += s[stack.MetricFeatureBin+"{bin="+bin.Label+",feature="+feat.Name+"}"]
			}
			oor := s[stack.MetricFeatureOutOfRange+"{feature="+feat.Name+"}"]
			if binned > rows || binned+oor < rows {
				t.Fatalf("feature %s: bins+missing %v, out of range %v, rows %v", feat.Name, binned, oor, rows)
			}
		}
	})
}

// BenchmarkDriftRequest measures what drift adds to the exporter: the
// metrics seam alone (request + answer) and the whole handler (exported API
// only) against a loopback upstream, drift off and on, same bodies
// (the body bench/exporter.sh sends).
func BenchmarkDriftRequest(b *testing.B) {
	ans := []byte(`{"predictions": [0, 1]}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ans)
	}))
	defer up.Close()
	bl := driftTestBaseline(b)
	bl.Columns = []string{"age", "income", "tenure"}
	bl.Features[2] = baseline.Feature{Name: "tenure", Kind: baseline.KindNumeric, Edges: []float64{2, 5, 10}, Min: 0, Max: 40,
		Bins: []baseline.Bin{{Label: "a", Ratio: .25}, {Label: "b", Ratio: .25}, {Label: "c", Ratio: .25}, {Label: "d", Ratio: .25}}}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		var base *baseline.Baseline
		if on {
			base = bl
		}
		b.Run("seam/"+name, func(b *testing.B) {
			m := driftMetricsFor(b, base)
			b.ReportAllocs()
			for b.Loop() {
				m.request(driftBenchBody, false)
				m.answer(ans)
			}
		})
		b.Run("handler/"+name, func(b *testing.B) {
			e, err := New(Config{Upstream: up.URL, Kind: KindMLflow, Baseline: base})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			h := e.Handler()
			req := httptest.NewRequest("POST", "/predict", nil)
			req.Header.Set("Content-Type", "application/json")
			w := &driftNopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				req.Body = io.NopCloser(strings.NewReader(string(driftBenchBody)))
				req.ContentLength = int64(len(driftBenchBody))
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != 0 && w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// driftBenchBody is the request bench/exporter.sh's wrk script sends.
var driftBenchBody = []byte(`{"dataframe_split":{"columns":["age","income","tenure"],"data":[[35,5000,3],[42,7200,10]]}}`)

// BenchmarkDriftWideRow: a 10,000-column record (bounded, linear time).
func BenchmarkDriftWideRow(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`[{`)
	for i := range 10000 {
		fmt.Fprintf(&sb, `"c%d":%d,`, i, i)
	}
	sb.WriteString(`"age":35}]`)
	body := []byte(sb.String())
	m := driftMetricsFor(b, driftTestBaseline(b))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m.drift.request(body, false)
	}
}

// driftSeries counts the series whose name starts with model_feature or
// model_prediction_ (model_predictions_total may gain classes, up to its cap).
func driftSeries(s map[string]float64) int {
	n := 0
	for k := range s {
		if strings.HasPrefix(k, "model_feature") || strings.HasPrefix(k, "model_prediction_") {
			n++
		}
	}
	return n
}

type driftNopWriter struct {
	h    http.Header
	code int
}

func (w *driftNopWriter) Header() http.Header         { return w.h }
func (w *driftNopWriter) WriteHeader(code int)        { w.code = code }
func (w *driftNopWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestDriftDemoModelServer: the exporter in front of the real demo model
// server (modelserver, both protocols), with the shipped baseline: every
// example body the server answers 200 is counted (every feature twice), and
// the answered classes are the baseline's classes.
func TestDriftDemoModelServer(t *testing.T) {
	dm := model.Default()
	shipped, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(modelserver.New(modelserver.Config{}))
	defer up.Close()
	for _, kind := range []Kind{KindMLflow, KindTFServing} {
		formats := model.Formats()
		if kind == KindTFServing {
			formats = []string{model.FormatInstances, model.FormatInputs}
		}
		for _, format := range formats {
			t.Run(string(kind)+"/"+format, func(t *testing.T) {
				e, err := New(Config{Upstream: up.URL, Kind: kind, ModelName: dm.Name, Baseline: shipped})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				srv := httptest.NewServer(e.Handler())
				defer srv.Close()
				body, ct, err := model.Example(dm, format)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.Post(srv.URL+"/predict", ct, strings.NewReader(string(body)))
				if err != nil {
					t.Fatal(err)
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, answer)
				}
				got := driftGather(t, e.Registry())
				for _, f := range shipped.Features {
					n := 0.0
					for _, bin := range f.Bins {
						n += got[stack.MetricFeatureBin+"{bin="+bin.Label+",feature="+f.Name+"}"]
					}
					if n != 2 || got[stack.MetricFeatureMissing+"{feature="+f.Name+"}"] != 0 {
						t.Errorf("feature %s: %v rows binned, want 2", f.Name, n)
					}
				}
				classes := 0.0
				for _, bin := range shipped.Prediction.Bins {
					classes += got[MetricPredictions+"{class="+bin.Label+"}"]
				}
				if classes != 2 {
					t.Errorf("answer %s: %v predictions in the baseline's classes, want 2", answer, classes)
				}
			})
		}
	}
}
