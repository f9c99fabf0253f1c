package report

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// fakeProm is a Prometheus HTTP API with fixed data: every query gets a
// wave derived from its text (one or two series), except queries naming
// an "empty" metric, which return nothing ("No data").
type fakeProm struct {
	empty []string // substrings of queries that return no series
	// firingFrom..firingTo is when high_error_ratio fired (ALERTS).
	firingFrom, firingTo time.Time
	// fail are substrings of queries answered with HTTP 500.
	fail []string
	// instant are instant queries' fixed answers, by query.
	instant map[string][]fakeSample
}

// fakeSample is one series of an instant query's answer.
type fakeSample struct {
	labels map[string]string
	value  string
}

// windowRE is the firing history's query: ALERTS over a window before
// each step.
var windowRE = regexp.MustCompile(`^max_over_time\(ALERTS\[(\d+)s\]\)$`)

func (f *fakeProm) isEmpty(q string) bool {
	for _, e := range f.empty {
		if strings.Contains(q, e) {
			return true
		}
	}
	return false
}

func wave(q string, t float64, k int) float64 {
	h := fnv.New32a()
	h.Write([]byte(q))
	base := float64(h.Sum32()%1000)/1000 + 0.05
	return base*(1+float64(k)) + 0.3*base*math.Sin(t/300+float64(k))
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	type series struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values,omitempty"`
		Value  *[2]any           `json:"value,omitempty"`
	}
	ok := func(data any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}
	for _, bad := range f.fail {
		if strings.Contains(q, bad) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"internal","error":"fake failure"}`))
			return
		}
	}
	switch r.URL.Path {
	case "/api/v1/query_range":
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		res := []series{}
		if wm := windowRE.FindStringSubmatch(q); q == "ALERTS" || wm != nil {
			// ALERTS at each step, or over the window (t-w, t] before it
			// (the rule is evaluated often enough to see any firing).
			win := 0.0
			if wm != nil {
				win, _ = strconv.ParseFloat(wm[1], 64)
			}
			s := series{Metric: map[string]string{"__name__": "ALERTS", "alertname": "high_error_ratio", "alertstate": "firing", "model": "demo", "severity": "critical"}}
			if wm != nil {
				delete(s.Metric, "__name__")
			}
			from, to := float64(f.firingFrom.Unix()), float64(f.firingTo.Unix())
			for t := start; t <= end; t += step {
				if (win == 0 && t >= from && t <= to) || (win > 0 && from <= t && to > t-win) {
					s.Values = append(s.Values, [2]any{t, "1"})
				}
			}
			if len(s.Values) > 0 {
				res = append(res, s)
			}
		} else if !f.isEmpty(q) {
			n := 1
			if strings.Contains(q, "by (") || strings.Contains(q, "by(") && !strings.Contains(q, "by(le)") {
				n = 2
			}
			for k := 0; k < n; k++ {
				s := series{Metric: map[string]string{"instance": fmt.Sprintf("exporter-%d:8000", k), "code": strconv.Itoa(200 + 300*k), "route": "/predict", "model": "demo", "class": strconv.Itoa(k), "cause": "timeout", "status": "OK"}}
				for t := start; t <= end; t += step {
					s.Values = append(s.Values, [2]any{t, strconv.FormatFloat(wave(q, t, k), 'g', -1, 64)})
				}
				res = append(res, s)
			}
		}
		ok(map[string]any{"resultType": "matrix", "result": res})
	case "/api/v1/query":
		ts, _ := strconv.ParseFloat(r.Form.Get("time"), 64)
		res := []series{}
		firing := ts >= float64(f.firingFrom.Unix()) && ts <= float64(f.firingTo.Unix())
		if fixed, ok := f.instant[q]; ok {
			for _, smp := range fixed {
				v := [2]any{ts, smp.value}
				res = append(res, series{Metric: smp.labels, Value: &v})
			}
		} else if q == "ALERTS" || q == "ALERTS_FOR_STATE" {
			if firing {
				v := [2]any{ts, "1"}
				if q == "ALERTS_FOR_STATE" {
					v[1] = strconv.FormatInt(f.firingFrom.Unix(), 10)
				}
				res = append(res, series{Metric: map[string]string{"__name__": q, "alertname": "high_error_ratio", "alertstate": "firing", "model": "demo"}, Value: &v})
			}
		} else if strings.Contains(q, "by (bin)") && !f.isEmpty(q) {
			// a bar chart's share per bin: three bins, out of order
			for _, k := range []int{2, 0, 10} {
				v := [2]any{ts, strconv.FormatFloat(wave(q, ts, k%3)/3, 'g', -1, 64)}
				res = append(res, series{Metric: map[string]string{"bin": strconv.Itoa(k)}, Value: &v})
			}
		} else if !f.isEmpty(q) {
			v := [2]any{ts, strconv.FormatFloat(wave(q, ts, 0), 'g', -1, 64)}
			res = append(res, series{Metric: map[string]string{"model": "demo"}, Value: &v})
		}
		ok(map[string]any{"resultType": "vector", "result": res})
	case "/api/v1/targets":
		ok(map[string]any{"activeTargets": []map[string]any{
			{"labels": map[string]string{"job": "ml_model_exporter", "instance": "exporter-demo:8000"}, "scrapeUrl": "http://exporter-demo:8000/metrics", "health": "up", "lastError": ""},
			{"labels": map[string]string{"job": "model_server", "instance": "model-demo:8080"}, "scrapeUrl": "http://model-demo:8080/metrics", "health": "down", "lastError": "connection refused"},
		}, "droppedTargets": []any{}})
	case "/api/v1/rules":
		ok(map[string]any{"groups": []map[string]any{{
			"name": "stackgen", "file": "alerts.yml", "interval": 5,
			"rules": []map[string]any{{
				"type": "alerting", "name": "high_error_ratio", "query": "x > 0.2", "duration": 0, "health": "ok",
				"labels": map[string]string{}, "annotations": map[string]string{},
				"alerts": []map[string]any{{"labels": map[string]string{"alertname": "high_error_ratio", "model": "demo"},
					"annotations": map[string]string{}, "state": "firing", "activeAt": "2000-01-01T00:00:00Z", "value": "5.0e-01"}}, // the rules API's "now": not used for the state
			}},
		}}})
	default:
		http.Error(w, `{"status":"error","errorType":"not_found","error":"no such endpoint"}`, http.StatusNotFound)
	}
}

func fakeAPI(t testing.TB, f *fakeProm) v1.API {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}
