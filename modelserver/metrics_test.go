package modelserver

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// series is one scraped sample: its labels (with __name__) and value.
type series struct {
	labels map[string]string
	value  float64
}

// flatten turns metric families into samples the way Prometheus ingests
// text-format histograms (name_bucket{le}, name_sum, name_count).
func flatten(fams map[string]*dto.MetricFamily) []series {
	var out []series
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			base := map[string]string{}
			for _, lp := range m.GetLabel() {
				base[lp.GetName()] = lp.GetValue()
			}
			add := func(n string, v float64, extra ...string) {
				l := map[string]string{"__name__": n}
				for k, v := range base {
					l[k] = v
				}
				for i := 0; i+1 < len(extra); i += 2 {
					l[extra[i]] = extra[i+1]
				}
				out = append(out, series{l, v})
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				if bs := h.GetBucket(); len(bs) == 0 || !math.IsInf(bs[len(bs)-1].GetUpperBound(), 1) {
					add(name+"_bucket", float64(h.GetSampleCount()), "le", "+Inf")
				}
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				add(name+"_sum", m.GetSummary().GetSampleSum())
				add(name+"_count", float64(m.GetSummary().GetSampleCount()))
			}
		}
	}
	return out
}

// key renders a sample as name{k="v",...} with sorted labels.
func key(l map[string]string) string {
	var pairs []string
	for k, v := range l {
		if k != "__name__" {
			pairs = append(pairs, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(pairs)
	return l["__name__"] + "{" + strings.Join(pairs, ",") + "}"
}

func parseText(t testing.TB, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	// Legacy validation: the names must be valid in the classic Prometheus
	// syntax too, which is what the text format and every Prometheus accept.
	p := expfmt.NewTextParser(pmodel.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

func scrapeFamilies(t testing.TB, h http.Handler, path string) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	return parseText(t, rec.Body)
}

func toMap(ss []series) map[string]float64 {
	m := map[string]float64{}
	for _, s := range ss {
		m[key(s.labels)] = s.value
	}
	return m
}

// scrape returns the TF metrics of h as name{labels} → value.
func scrape(t testing.TB, h http.Handler) map[string]float64 {
	t.Helper()
	return toMap(flatten(scrapeFamilies(t, h, MetricsPath)))
}

func scrapeURL(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return toMap(flatten(parseText(t, resp.Body)))
}

func TestMetricNamesAreValid(t *testing.T) {
	// Names starting with ':' are valid classic Prometheus names
	// ([a-zA-Z_:][a-zA-Z0-9_:]*), so client_golang accepts them under any
	// validation scheme and the text format writes them unquoted.
	for _, n := range []string{RequestCountMetric, RequestLatencyMetric + "_bucket"} {
		if !pmodel.LegacyValidation.IsValidMetricName(n) || !pmodel.UTF8Validation.IsValidMetricName(n) {
			t.Fatalf("%s is not a valid metric name", n)
		}
	}
}

// seed002Queries are the queries of seed 002's dashboard and anomaly rules.
var seed002Queries = []string{
	`:tensorflow:serving:request_count{model_name="diabetes-prediction"}`,
	`sum(:tensorflow:serving:request_count{model_name="diabetes-prediction"})`,
	`sum by (status) (:tensorflow:serving:request_count{model_name="diabetes-prediction"})`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[1m])`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[5m])`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction",status!="OK"}[5m])`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction",status!="OK"}[5m]) / rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[5m])`,
	`(:tensorflow:serving:request_latency_sum{model_name="diabetes-prediction",API="predict",entrypoint="REST"} / :tensorflow:serving:request_latency_count{model_name="diabetes-prediction",API="predict",entrypoint="REST"}) / 1000`,
	`histogram_quantile(0.95, sum by (le) (rate(:tensorflow:serving:request_latency_bucket{model_name="diabetes-prediction",API="predict",entrypoint="REST"}[5m])))`,
	`histogram_quantile(0.99, sum by (le) (rate(:tensorflow:serving:request_latency_bucket{model_name="diabetes-prediction",API="predict",entrypoint="REST"}[5m])))`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[5m]) < 0.01`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[1m]) > (rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[15m]) * 3)`,
}

// checkSelectors asserts that every vector selector of every query selects
// at least one scraped series.
func checkSelectors(t *testing.T, queries []string, ss []series) {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		expr, err := p.ParseExpr(q)
		if err != nil {
			t.Fatalf("parse %s: %v", q, err)
		}
		for _, sel := range parser.ExtractSelectors(expr) {
			found := false
			for _, s := range ss {
				ok := true
				for _, m := range sel {
					if !m.Matches(s.labels[m.Name]) {
						ok = false
						break
					}
				}
				if ok {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("query %s: selector %v selects no series", q, sel)
			}
		}
	}
}

func TestTFMetrics(t *testing.T) {
	const name = "diabetes-prediction"
	h := New(Config{Name: name})

	// Before any request the OK and INVALID_ARGUMENT series exist at 0.
	m := scrape(t, h)
	for _, st := range []string{"OK", "INVALID_ARGUMENT"} {
		k := `:tensorflow:serving:request_count{model_name="` + name + `",status="` + st + `"}`
		if v, ok := m[k]; !ok || v != 0 {
			t.Fatalf("%s = %v, %v before traffic", k, v, ok)
		}
	}

	send := func(path, ct, body string, want int) {
		t.Helper()
		if rec := do(t, h, "POST", path, ct, body); rec.Code != want {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	for range 3 {
		send("/invocations", jsonCT, example(t, "dataframe_split"), 200)
	}
	send("/invocations", csvCT, example(t, "csv"), 200)
	send("/v1/models/"+name+":predict", "", example(t, "instances"), 200)
	send("/v1/models/"+name+":predict", "", example(t, "inputs"), 200)
	send("/invocations", jsonCT, `{"instances":[["x"]]}`, 400)
	send("/invocations", "text/plain", "x", 415)
	send("/v1/models/"+name+"/versions/9:predict", "", example(t, "instances"), 404)
	send("/v1/models/scanner-"+name+":predict", "", example(t, "instances"), 404)
	send("/v1/models/other:predict", "", example(t, "instances"), 404)

	fams := scrapeFamilies(t, h, MetricsPath)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range fams {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(names, []string{RequestCountMetric, RequestLatencyMetric}) {
		t.Fatalf("metric families %v", names)
	}
	if got := fams[RequestCountMetric].GetType(); got != dto.MetricType_COUNTER {
		t.Fatalf("request_count type %v", got)
	}
	if got := fams[RequestLatencyMetric].GetType(); got != dto.MetricType_HISTOGRAM {
		t.Fatalf("request_latency type %v", got)
	}
	for fam, want := range map[string][]string{
		RequestCountMetric:   {"model_name", "status"},
		RequestLatencyMetric: {"API", "entrypoint", "model_name"},
	} {
		for _, mt := range fams[fam].GetMetric() {
			var got []string
			for _, lp := range mt.GetLabel() {
				got = append(got, lp.GetName())
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s labels %v, want %v", fam, got, want)
			}
		}
	}
	// TF Serving's buckets: 10 µs × 1.8^i, 33 of them, plus +Inf.
	for _, mt := range fams[RequestLatencyMetric].GetMetric() {
		b := mt.GetHistogram().GetBucket()
		// (the text parser includes the +Inf bucket)
		if len(b) != 34 || b[0].GetUpperBound() != 10 || b[1].GetUpperBound() != 18 || b[5].GetUpperBound() != 188.957 || !math.IsInf(b[33].GetUpperBound(), 1) {
			t.Fatalf("buckets %v", b)
		}
	}

	ss := flatten(fams)
	m = toMap(ss)
	want := map[string]float64{
		`:tensorflow:serving:request_count{model_name="diabetes-prediction",status="OK"}`:                             6,
		`:tensorflow:serving:request_count{model_name="diabetes-prediction",status="INVALID_ARGUMENT"}`:               2,
		`:tensorflow:serving:request_count{model_name="diabetes-prediction",status="NOT_FOUND"}`:                      1,
		`:tensorflow:serving:request_count{model_name="_unknown_",status="NOT_FOUND"}`:                                2,
		`:tensorflow:serving:request_latency_count{API="predict",entrypoint="REST",model_name="diabetes-prediction"}`: 9,
		`:tensorflow:serving:request_latency_count{API="predict",entrypoint="REST",model_name="_unknown_"}`:           2,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if len(fams[RequestCountMetric].GetMetric()) != 4 {
		t.Errorf("request_count has %d series, want 4 (unknown names folded)", len(fams[RequestCountMetric].GetMetric()))
	}
	checkSelectors(t, seed002Queries, ss)

	// rate() over two scrapes is positive: the counter moves with traffic of either protocol.
	okKey := `:tensorflow:serving:request_count{model_name="diabetes-prediction",status="OK"}`
	before := m[okKey]
	send("/invocations", jsonCT, example(t, "instances"), 200)
	send("/v1/models/"+name+":predict", "", example(t, "instances"), 200)
	if after := scrape(t, h)[okKey]; after != before+2 {
		t.Fatalf("OK count %v → %v, want +2", before, after)
	}
}

// TestExpositionFormats checks the names survive every format Prometheus may
// negotiate: OpenMetrics is not offered (it would rename the counter to
// ..._total), and protobuf keeps the names.
func TestExpositionFormats(t *testing.T) {
	h := New(Config{})
	do(t, h, "POST", "/invocations", jsonCT, example(t, "instances"))

	req := httptest.NewRequest("GET", MetricsPath, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q, want text/plain", ct)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `:tensorflow:serving:request_count{model_name="demo",status="OK"} 1`) || strings.Contains(body, "request_count_total") {
		t.Fatalf("exposition:\n%s", body)
	}

	req = httptest.NewRequest("GET", MetricsPath, nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9,text/plain;version=0.0.4;q=0.5")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	dec := expfmt.NewDecoder(rec.Body, expfmt.ResponseFormat(rec.Header()))
	var got []string
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("decode protobuf: %v", err)
		}
		got = append(got, mf.GetName())
	}
	if !slices.Equal(got, []string{RequestCountMetric, RequestLatencyMetric}) {
		t.Fatalf("protobuf families %v", got)
	}
}

func TestRuntimeMetrics(t *testing.T) {
	h := New(Config{})
	fams := scrapeFamilies(t, h, RuntimeMetricsPath)
	for _, n := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "go_goroutines", "go_threads"} {
		if _, ok := fams[n]; !ok {
			t.Errorf("%s missing from %s", n, RuntimeMetricsPath)
		}
	}
	if _, ok := fams[RequestCountMetric]; ok {
		t.Errorf("%s also on %s: a job scraping both paths would count requests twice", RequestCountMetric, RuntimeMetricsPath)
	}
	// Two servers in one process have independent registries.
	a, b := New(Config{}), New(Config{})
	do(t, a, "POST", "/invocations", jsonCT, example(t, "instances"))
	if v := scrape(t, b)[`:tensorflow:serving:request_count{model_name="demo",status="OK"}`]; v != 0 {
		t.Fatalf("servers share metrics: %v", v)
	}
}
