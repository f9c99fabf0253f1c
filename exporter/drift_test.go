package exporter

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/stack"
)

// testBaseline has two numeric features and a categorical one; its columns
// hold one more (unprofiled) column, so positional rows map by
// [age income city extra].
func driftTestBaseline(t testing.TB) *baseline.Baseline {
	t.Helper()
	b := &baseline.Baseline{
		Format:  baseline.Format,
		Rows:    1000,
		Columns: []string{"age", "income", "city", "extra"},
		Features: []baseline.Feature{
			{Name: "age", Kind: baseline.KindNumeric, Edges: []float64{30, 40, 50}, Min: 18, Max: 90,
				Bins: []baseline.Bin{{Label: "<30", Ratio: .25}, {Label: "30-40", Ratio: .25}, {Label: "40-50", Ratio: .25}, {Label: ">=50", Ratio: .25}}},
			{Name: "income", Kind: baseline.KindNumeric, Edges: []float64{1000}, Min: 0, Max: 100000,
				Bins: []baseline.Bin{{Label: "low", Ratio: .4}, {Label: "high", Ratio: .6}}},
			{Name: "city", Kind: baseline.KindCategorical, Categories: []string{"paris", "berlin", "1", "true"},
				Bins: []baseline.Bin{{Label: "paris", Ratio: .5}, {Label: "berlin", Ratio: .2}, {Label: "1", Ratio: .1}, {Label: "true", Ratio: .1}, {Label: "other", Ratio: .1}}},
		},
		Prediction: &baseline.Prediction{Kind: baseline.PredictionClass, From: "target",
			Bins:       []baseline.Bin{{Label: "no", Ratio: .7}, {Label: "yes", Ratio: .3}},
			Confidence: &baseline.Confidence{Mean: 0.83, Rows: 1000}},
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	return b
}

func driftMetricsFor(t testing.TB, b *baseline.Baseline) *metrics {
	t.Helper()
	rc, err := Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow, Baseline: b}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	return newMetrics(rc, "")
}

// series gathers reg as "name{label=value,...}" → value (counters, gauges;
// histograms as name_count and name_sum).
func driftGather(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[mf.GetName()+"_count{"+strings.Join(ls, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum{"+strings.Join(ls, ",")+"}"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// featureCounts returns the non-zero feature counters in short form:
// "age=30-40" (bin), "age:missing", "age:oor".
func driftFeatureCounts(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for k, v := range driftGather(t, reg) {
		if v == 0 {
			continue
		}
		name, labels, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
		lv := map[string]string{}
		for _, p := range strings.Split(labels, ",") {
			if a, b, ok := strings.Cut(p, "="); ok {
				lv[a] = b
			}
		}
		switch name {
		case stack.MetricFeatureBin:
			out[lv["feature"]+"="+lv["bin"]] = v
		case stack.MetricFeatureMissing:
			out[lv["feature"]+":missing"] = v
		case stack.MetricFeatureOutOfRange:
			out[lv["feature"]+":oor"] = v
		}
	}
	return out
}

type driftCounts = map[string]float64

func TestDriftRequestFormats(t *testing.T) {
	tests := []struct {
		name string
		body string
		csv  bool
		want driftCounts
	}{
		{"dataframe_split by column names, unknown column skipped",
			`{"dataframe_split":{"columns":["city","age","zzz","income"],"index":[0,1],"data":[["paris",35,1,500],["x",29.9,2,2000]]}}`, false,
			driftCounts{"city=paris": 1, "city=other": 1, "age=30-40": 1, "age=<30": 1, "income=low": 1, "income=high": 1}},
		{"dataframe_split data before columns",
			`{"dataframe_split":{"data":[[35]],"columns":["age"]}}`, false,
			driftCounts{"age=30-40": 1, "income:missing": 1, "city:missing": 1}},
		{"dataframe_split without columns is positional",
			`{"dataframe_split":{"data":[[35,500,"berlin"]]}}`, false,
			driftCounts{"age=30-40": 1, "income=low": 1, "city=berlin": 1}},
		{"dataframe_records, edges are lower-inclusive, numeric strings parse",
			`{"dataframe_records":[{"age":30,"city":"paris"},{"income":"1000","age":"abc"}]}`, false,
			driftCounts{"age=30-40": 1, "city=paris": 1, "income:missing": 1, "income=high": 1, "age:oor": 1, "city:missing": 1}},
		{"instances lists positional, extra values ignored, out of range still binned",
			`{"instances":[[50,100000,1],[17,100001,true,"ignored","more"]]}`, false,
			driftCounts{"age=>=50": 1, "income=high": 2, "city=1": 1, "age=<30": 1, "age:oor": 1, "income:oor": 1, "city=true": 1}},
		{"instances objects: null and NaN are missing, 1.0 is not category 1",
			`{"instances":[{"age":null,"income":NaN,"city":1.0}]}`, false,
			driftCounts{"age:missing": 1, "income:missing": 1, "city=other": 1}},
		{"inputs columnar, shorter and absent columns are missing",
			`{"inputs":{"age":[35,45],"city":["paris"]}}`, false,
			driftCounts{"age=30-40": 1, "age=40-50": 1, "city=paris": 1, "city:missing": 1, "income:missing": 2}},
		{"inputs columnar scalar is one row",
			`{"inputs":{"age":35,"income":[2000]}}`, false,
			driftCounts{"age=30-40": 1, "income=high": 1, "city:missing": 1}},
		{"inputs row list (TF Serving row format)",
			`{"signature_name":"serving_default","inputs":[[35,500,"paris"]]}`, false,
			driftCounts{"age=30-40": 1, "income=low": 1, "city=paris": 1}},
		{"TF Serving instances with one named input tensor are positional",
			`{"instances":[{"dense_input":[35,500,"paris"]},{"dense_input":[61]}]}`, false,
			driftCounts{"age=30-40": 1, "income=low": 1, "city=paris": 1, "age=>=50": 1, "income:missing": 1, "city:missing": 1}},
		{"TF Serving columnar inputs with one named input tensor are rows",
			`{"inputs":{"dense_input":[[35,500,"paris"],[45]]}}`, false,
			driftCounts{"age=30-40": 1, "income=low": 1, "city=paris": 1, "age=40-50": 1, "income:missing": 1, "city:missing": 1}},
		{"one named feature with a list is not a tensor",
			`{"instances":[{"age":[35,45]}]}`, false,
			driftCounts{"age:oor": 1, "income:missing": 1, "city:missing": 1}},
		{"two unknown keys are not a tensor",
			`{"instances":[{"dense_input":[35],"mask":[1]}]}`, false,
			driftCounts{"age:missing": 1, "income:missing": 1, "city:missing": 1}},
		{"bare list of rows",
			`[[35]]`, false,
			driftCounts{"age=30-40": 1, "income:missing": 1, "city:missing": 1}},
		{"scalar rows are the first column",
			`{"instances":[35,45]}`, false,
			driftCounts{"age=30-40": 1, "age=40-50": 1, "income:missing": 2, "city:missing": 2}},
		{"repeated key counts once",
			`[{"age":35,"age":60}]`, false,
			driftCounts{"age=30-40": 1, "income:missing": 1, "city:missing": 1}},
		{"lists and objects as values are out of range, never binned",
			`[{"age":[1,2],"city":{"a":1},"income":[[5]]}]`, false,
			driftCounts{"age:oor": 1, "city:oor": 1, "income:oor": 1}},
		{"one-element lists are their element (TF Serving shape [batch, 1])",
			`{"inputs":{"age":[[35],[null]],"city":[["paris"],[]]}}`, false,
			driftCounts{"age=30-40": 1, "age:missing": 1, "city=paris": 1, "city:oor": 1, "income:missing": 2}},
		{"escaped key and escaped numeric string",
			`[{"\u0061ge":"3\u0035","city":"par\u0069s"}]`, false,
			driftCounts{"age=30-40": 1, "city=paris": 1, "income:missing": 1}},
		{"booleans in a numeric feature are out of range",
			`[[true,false,false]]`, false,
			driftCounts{"age:oor": 1, "income:oor": 1, "city=other": 1}},
		{"infinities are binned and out of range",
			`[[Infinity,-Infinity]]`, false,
			driftCounts{"age=>=50": 1, "age:oor": 1, "income=low": 1, "income:oor": 1, "city:missing": 1}},
		{"unknown columns only: every feature missing",
			`[{"foo":1,"bar":[1,2]}]`, false,
			driftCounts{"age:missing": 1, "income:missing": 1, "city:missing": 1}},
		{"empty row", `{"instances":[[]]}`, false,
			driftCounts{"age:missing": 1, "income:missing": 1, "city:missing": 1}},
		{"no rows", `{"instances":[]}`, false, driftCounts{}},
		{"csv with header, NA, empty and quoted comma",
			"city,age,income\nparis,35,500\n\"ber,lin\",NA,\n", true,
			driftCounts{"city=paris": 1, "age=30-40": 1, "income=low": 1, "city=other": 1, "age:missing": 1, "income:missing": 1}},
		{"csv quoted newline, escaped quote, CRLF, blank lines, short row",
			"age,city\r\n41,\"a\"\"b\nc\"\r\n\r\n45\r\n", true,
			driftCounts{"age=40-50": 2, "city=other": 1, "city:missing": 1, "income:missing": 2}},
		{"csv non-numeric in numeric feature", "age\nold\n", true,
			driftCounts{"age:oor": 1, "income:missing": 1, "city:missing": 1}},
		{"csv header only", "age,city\n", true, driftCounts{}},
		// Malformed bodies count nothing.
		{"truncated", `{"instances":[[35,1`, false, driftCounts{}},
		{"trailing garbage", `{"instances":[[35]]} x`, false, driftCounts{}},
		{"bad separator in row", `{"instances":[[35 1]]}`, false, driftCounts{}},
		{"bad record", `[{"age":35 "city":"x"}]`, false, driftCounts{}},
		{"unknown format", `{"foo":[[35]]}`, false, driftCounts{}},
		{"not json", `age=35`, false, driftCounts{}},
		{"csv unterminated quote", "age,city\n35,\"paris\n", true, driftCounts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := driftMetricsFor(t, driftTestBaseline(t))
			m.request([]byte(tt.body), tt.csv)
			if got := driftFeatureCounts(t, m.reg); !maps.Equal(got, tt.want) {
				t.Errorf("counts of %q\n got %v\nwant %v", tt.body, got, tt.want)
			}
		})
	}
}

// TestDriftFreshSeries: a fresh exporter serves every bin of every feature
// at 0, the baseline shares, and the baseline classes at 0.
func TestDriftFreshSeries(t *testing.T) {
	b := driftTestBaseline(t)
	got := driftGather(t, driftMetricsFor(t, b).reg)
	want := map[string]float64{
		stack.MetricPredictionConfidenceBaseline + "{}":              0.83,
		stack.MetricPredictionBaselineRatio + "{class=no}":           0.7,
		stack.MetricPredictionBaselineRatio + "{class=yes}":          0.3,
		MetricPredictions + "{class=no}":                             0,
		MetricPredictions + "{class=yes}":                            0,
		stack.MetricPredictionConfidence + "_count{}":                0,
		stack.MetricFeatureBaselineRatio + "{bin=30-40,feature=age}": 0.25,
	}
	for _, f := range b.Features {
		want[stack.MetricFeatureMissing+"{feature="+f.Name+"}"] = 0
		want[stack.MetricFeatureOutOfRange+"{feature="+f.Name+"}"] = 0
		for _, bin := range f.Bins {
			want[stack.MetricFeatureBin+"{bin="+bin.Label+",feature="+f.Name+"}"] = 0
			want[stack.MetricFeatureBaselineRatio+"{bin="+bin.Label+",feature="+f.Name+"}"] = bin.Ratio
		}
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// Negative control: without a baseline none of them exist.
	off := driftGather(t, newMetrics(&resolved{Config: Config{MaxClasses: 50, Buckets: DefaultBuckets}}, "").reg)
	for k := range off {
		if strings.HasPrefix(k, "model_feature") || strings.HasPrefix(k, "model_prediction_") {
			t.Errorf("drift off serves %s", k)
		}
	}
}

// TestDriftCardinalityBounded: garbage values and columns never add series.
func TestDriftCardinalityBounded(t *testing.T) {
	m := driftMetricsFor(t, driftTestBaseline(t))
	before := len(driftGather(t, m.reg))
	for i := range 500 {
		m.request(fmt.Appendf(nil, `[{"city":"c%d","age":"x%d","col%d":%d}]`, i, i, i, i), false)
		m.request(fmt.Appendf(nil, "city,age,c%d\nv%d,y%d,1\n", i, i, i), true)
	}
	s := driftGather(t, m.reg)
	if len(s) != before {
		t.Errorf("%d series after garbage, %d before", len(s), before)
	}
	if got := driftFeatureCounts(t, m.reg); got["city=other"] != 1000 || got["age:oor"] != 1000 {
		t.Errorf("garbage not counted as other / out of range: %v", got)
	}
}

// TestDriftWideRow: a 10,000-column row is counted by its baseline columns
// only, in every shape.
func TestDriftWideRow(t *testing.T) {
	var obj, list, csvHead, csvRow strings.Builder
	obj.WriteString(`[{`)
	list.WriteString(`[[35,500,"paris"`)
	for i := range 10000 {
		fmt.Fprintf(&obj, `"c%d":%d,`, i, i)
		fmt.Fprintf(&list, `,%d`, i)
		fmt.Fprintf(&csvHead, "c%d,", i)
		fmt.Fprintf(&csvRow, "%d,", i)
	}
	obj.WriteString(`"age":35}]`)
	list.WriteString(`]]`)
	want := driftCounts{"age=30-40": 1, "income:missing": 1, "city:missing": 1}
	for name, body := range map[string]struct {
		b   string
		csv bool
		w   driftCounts
	}{
		"object": {obj.String(), false, want},
		"list":   {list.String(), false, driftCounts{"age=30-40": 1, "income=low": 1, "city=paris": 1}},
		"csv":    {csvHead.String() + "age\n" + csvRow.String() + "35\n", true, want},
	} {
		t.Run(name, func(t *testing.T) {
			m := driftMetricsFor(t, driftTestBaseline(t))
			m.request([]byte(body.b), body.csv)
			if got := driftFeatureCounts(t, m.reg); !maps.Equal(got, body.w) {
				t.Errorf("got %v, want %v", got, body.w)
			}
		})
	}
}

func TestDriftAnswer(t *testing.T) {
	value := driftTestBaseline(t)
	value.Prediction = &baseline.Prediction{Kind: baseline.PredictionValue, From: "target", Edges: []float64{1, 2},
		Bins: []baseline.Bin{{Label: "a", Ratio: .3}, {Label: "b", Ratio: .3}, {Label: "c", Ratio: .4}}}
	padded := driftTestBaseline(t)
	padded.Prediction.Bins = []baseline.Bin{{Label: "1", Ratio: 1}, {Label: "other", Ratio: 0}}
	sigmoid := driftTestBaseline(t)
	sigmoid.Prediction = &baseline.Prediction{Kind: baseline.PredictionClass, From: "model",
		Bins: []baseline.Bin{{Label: "0", Ratio: .7}, {Label: "1", Ratio: .3}}, Confidence: &baseline.Confidence{Mean: .8, Rows: 100}}
	labels01 := driftTestBaseline(t) // the same classes without a confidence: labels, not probabilities
	labels01.Prediction = &baseline.Prediction{Kind: baseline.PredictionClass, From: "target",
		Bins: []baseline.Bin{{Label: "0", Ratio: .7}, {Label: "1", Ratio: .3}}}
	tests := []struct {
		name string
		b    *baseline.Baseline
		body string
		want map[string]float64 // series that must have these values (-1: must not exist)
	}{
		{"sigmoid baseline: [p] and bare p are class p >= 0.5 with confidence max(p, 1-p)", sigmoid,
			`{"predictions":[[0.25],[0.9],0.5,[1]]}`,
			map[string]float64{"model_prediction_confidence_count{}": 4, "model_prediction_confidence_sum{}": 0.75 + 0.9 + 0.5 + 1,
				MetricPredictions + "{class=0}": 1, MetricPredictions + "{class=1}": 3,
				MetricPredictions + "{class=0.25}": -1, MetricPredictions + "{class=0.9}": -1}},
		{"0/1 labels without a confidence stay labels; probabilities are classes of their own", labels01,
			`{"predictions":[[0.25],1,0]}`,
			map[string]float64{"model_prediction_confidence_count{}": 0,
				MetricPredictions + "{class=0}": 1, MetricPredictions + "{class=1}": 1, MetricPredictions + "{class=0.25}": 1}},
		{"probability rows: confidence and argmax class by the baseline's classes", driftTestBaseline(t),
			`{"predictions":[[0.2,0.8],[0.9,0.1]]}`,
			map[string]float64{"model_prediction_confidence_count{}": 2, "model_prediction_confidence_sum{}": 1.7,
				MetricPredictions + "{class=yes}": 1, MetricPredictions + "{class=no}": 1}},
		{"probability objects: class is the key", driftTestBaseline(t),
			`[{"no":0.35,"yes":0.65}]`,
			map[string]float64{"model_prediction_confidence_count{}": 1, "model_prediction_confidence_sum{}": 0.65,
				MetricPredictions + "{class=yes}": 1}},
		{"three probabilities with a two-class baseline: positional class", driftTestBaseline(t),
			`{"outputs":[[0.1,0.3,0.6]]}`,
			map[string]float64{"model_prediction_confidence_count{}": 1, MetricPredictions + "{class=2}": 1}},
		{"padded baseline mix (one class and other): index labels", padded,
			`{"predictions":[[0.2,0.8]]}`,
			map[string]float64{"model_prediction_confidence_count{}": 1, MetricPredictions + "{class=1}": 1, MetricPredictions + "{class=other}": 0}},
		{"logits are not probabilities", driftTestBaseline(t),
			`{"predictions":[[2.5,-1.0]]}`,
			map[string]float64{"model_prediction_confidence_count{}": 0, MetricPredictions + "{class=yes}": 0}},
		{"classes are counted as before", driftTestBaseline(t),
			`{"predictions":["yes","yes"]}`,
			map[string]float64{"model_prediction_confidence_count{}": 0, MetricPredictions + "{class=yes}": 2}},
		{"value baseline: numbers and [x] observed, others not", value,
			`{"predictions":[0.5,[1.5],"x",null,[1,2,3],2.5]}`,
			map[string]float64{"model_prediction_value_count{}": 3, "model_prediction_value_sum{}": 4.5}},
		{"malformed answer adds nothing", value,
			`{"predictions":[0.5,1.5`,
			map[string]float64{"model_prediction_value_count{}": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := driftMetricsFor(t, tt.b)
			m.answer([]byte(tt.body))
			got := driftGather(t, m.reg)
			for k, v := range tt.want {
				g, ok := got[k]
				if v < 0 { // must not exist
					if ok {
						t.Errorf("%s = %v exists, want no such series", k, g)
					}
					continue
				}
				if !ok || g < v-1e-9 || g > v+1e-9 {
					t.Errorf("%s = %v (present %v), want %v; have %v", k, g, ok, v, slices.Sorted(maps.Keys(got)))
				}
			}
		})
	}
}

func TestDriftConfigRejectsInvalidBaseline(t *testing.T) {
	b := driftTestBaseline(t)
	b.Features[0].Bins = b.Features[0].Bins[:2]
	_, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow, Baseline: b})
	if err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Fatalf("invalid baseline accepted: %v", err)
	}
}
