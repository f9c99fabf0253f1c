package exporter

import (
	"reflect"
	"testing"
)

func TestCountRows(t *testing.T) {
	tests := []struct {
		name string
		body string
		csv  bool
		want int
	}{
		{"dataframe_split", `{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4],[5,6]]}}`, false, 3},
		{"dataframe_split data first", ` { "dataframe_split" : { "data" : [ [1] ] , "columns":["a"]} } `, false, 1},
		{"dataframe_split empty", `{"dataframe_split":{"columns":["a"],"data":[]}}`, false, 0},
		{"dataframe_records", `{"dataframe_records":[{"a":1},{"a":"x]}"}]}`, false, 2},
		{"instances", `{"instances":[[1,2],[3,4]]}`, false, 2},
		{"instances after other key", `{"params":{"k":[1,2,3]},"instances":[{"x":[1,2]}]}`, false, 1},
		{"inputs list", `{"inputs":[1,2,3,4]}`, false, 4},
		{"inputs columnar", `{"inputs":{"x":[1,2,3],"y":[4,5,6]}}`, false, 3},
		{"inputs scalar", `{"inputs":5}`, false, 1},
		{"bare list", `[{"a":1},{"a":2}]`, false, 2},
		{"strings with brackets", `{"instances":["a,b]","[c"]}`, false, 2},
		{"escaped quote", `{"instances":["a\"]",1]}`, false, 2},
		{"unknown keys", `{"foo":[1,2]}`, false, -1},
		{"not json", `hello`, false, -1},
		{"truncated", `{"instances":[1,2`, false, -1},
		{"empty", ``, false, -1},
		{"csv", "a,b\n1,2\n3,4\n", true, 2},
		{"csv no trailing newline and blank lines", "a,b\r\n1,2\r\n\r\n3,4", true, 2},
		{"csv header only", "a,b\n", true, 0},
		{"csv empty", "", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := countRows([]byte(tt.body), tt.csv); got != tt.want {
				t.Errorf("countRows(%q) = %d, want %d", tt.body, got, tt.want)
			}
		})
	}
}

func TestPredictionLabels(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"mlflow ints", `{"predictions": [0, 1, 1]}`, []string{"0", "1", "1"}},
		{"bare list of strings", `["yes","no"]`, []string{"yes", "no"}},
		{"floats normalised", `{"predictions":[1.0, 0.5, -2e0, 1e21]}`, []string{"1", "0.5", "-2", "1e+21"}},
		{"tfserving single element rows", `{"predictions": [[0.25], [1]]}`, []string{"0.25", "1"}},
		{"outputs", `{"outputs": ["a"]}`, []string{"a"}},
		{"booleans", `[true,false]`, []string{"true", "false"}},
		{"escaped string", `["a\"b","\u00e9"]`, []string{`a"b`, "é"}},
		{"objects and probability rows skipped", `{"predictions":[{"label":1},[0.1,0.9],null,"x"]}`, []string{"x"}},
		{"other keys first", `{"model":"m","predictions":["c"]}`, []string{"c"}},
		{"no predictions", `{"error":"boom"}`, nil},
		{"garbage", `<html>`, nil},
		{"leading zero int", `[007]`, []string{"7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			eachPrediction([]byte(tt.body), func(raw []byte, str, esc bool) {
				got = append(got, classLabel(raw, str, esc))
			})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("labels of %s = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestRouteOf(t *testing.T) {
	tests := map[string]string{
		"/predict":                         "/predict",
		"/invocations":                     "/invocations",
		"/ping":                            "/ping",
		"/health":                          "/health",
		"/version":                         "/version",
		"/metrics":                         "/metrics",
		"/healthz":                         "/healthz",
		"/readyz":                          "/readyz",
		"/":                                "/",
		"/v1/models":                       "/v1/models",
		"/v1/models/iris":                  "/v1/models/:name",
		"/v1/models/iris:predict":          "/v1/models/:name:predict",
		"/v1/models/iris:classify":         "/v1/models/:name:classify",
		"/v1/models/iris/metadata":         "/v1/models/:name/metadata",
		"/v1/models/iris/versions/3":       "/v1/models/:name/versions/:version",
		"/v1/models/a/versions/3:regress":  "/v1/models/:name/versions/:version:regress",
		"/v1/models/a/labels/prod:predict": "/v1/models/:name/labels/:label:predict",
		"/v1/models/a:explode":             RouteOther,
		"/v1/models/:predict":              RouteOther,
		"/v1/models/a/versions/:predict":   RouteOther,
		"/monitoring/prometheus/metrics":   "/monitoring/prometheus/metrics",
		"/my/predict":                      "/my/predict",
		"/wp-admin.php":                    RouteOther,
		"/predict/":                        RouteOther,
	}
	names := routeNames("/my/predict")
	for path, want := range tests {
		if got := names[routeOf(path, "/my/predict")]; got != want {
			t.Errorf("route of %q = %q, want %q", path, got, want)
		}
	}
}

func TestZeroAllocMetricsPath(t *testing.T) {
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	answer := []byte(`{"predictions": [0, 1, "yes", 2.5]}`)
	run := func() {
		route := routeOf("/v1/models/x:predict", "")
		e.m.inFlight.Inc()
		e.m.rows.Observe(float64(countRows(benchBody, false)))
		eachPrediction(answer, e.m.classes.inc)
		e.m.upDur.Observe(0.001)
		e.m.observe(route, methodOf("POST"), 200, 0.002)
		e.m.inFlight.Dec()
	}
	run() // resolve label children and classes once
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Errorf("metrics path allocates %.1f times per request, want 0", n)
	}
}

// TestClassLabelsInvalidUTF8: a prediction that is not valid UTF-8 is
// counted under a repaired label; it used to panic in WithLabelValues
// (found by FuzzDrift).
func TestClassLabelsInvalidUTF8(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"bare token", "[0\xc2]", "0\uFFFD"},
		{"string", "{\"predictions\":[\"a\xffb\"]}", "a\uFFFDb"},
		{"valid control", `["ok"]`, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(&resolved{Config: Config{MaxClasses: 50, Buckets: DefaultBuckets}}, "")
			m.answer([]byte(tt.body))
			if got := driftGather(t, m.reg)[MetricPredictions+"{class="+tt.want+"}"]; got != 1 {
				t.Errorf("model_predictions_total{class=%q} = %v, want 1", tt.want, got)
			}
		})
	}
}
