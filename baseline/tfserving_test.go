package baseline

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestDetectProtocol(t *testing.T) {
	tests := []struct {
		url     string
		want    Protocol
		wantErr string
	}{
		{"http://h:8501/v1/models/churn:predict", ProtocolTFServing, ""},
		{"http://h:8501/v1/models/churn/versions/3:predict", ProtocolTFServing, ""},
		{"https://h/v1/models/churn:predict?x=1", ProtocolTFServing, ""},
		{"http://h:8000/invocations", ProtocolMLflow, ""},
		{"http://h:9100/predict", ProtocolMLflow, ""},
		{"http://h/", ProtocolMLflow, ""},
		{"http://h/proxy/v1/models/churn:predict", ProtocolMLflow, ""}, // not at the root: say --protocol
		{"http://h:8501/v1/models/churn", "", "not a TF Serving predict path"},
		{"http://h:8501/v1/models/churn:classify", "", "not a TF Serving predict path"},
		{"http://h:8501/v1/models/churn/versions/x:predict", "", "not a TF Serving predict path"},
		{"http://h:8501/v1/models/:predict", "", "not a TF Serving predict path"},
		{"http://h:8501/v1/models", "", "not a TF Serving predict path"},
		{"http://h/v1/modelsx:predict", ProtocolMLflow, ""},
	}
	for _, tc := range tests {
		got, err := DetectProtocol(tc.url)
		if got != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: got %q, %v; want %q, %q", tc.url, got, err, tc.want, tc.wantErr)
		}
	}
}

// fakeTFServing answers {"instances": [[x, c], ...]} with answer(row) per
// row, and records the batch sizes. A request in any other shape gets TF
// Serving's 400 {"error": ...}.
func fakeTFServing(t *testing.T, answer func(row []any) string) (*httptest.Server, func() []int) {
	t.Helper()
	var (
		mu      sync.Mutex
		batches []int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Instances [][]any `json:"instances"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || req.Instances == nil {
			http.Error(w, `{"error": "Missing 'inputs' or 'instances' key"}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		batches = append(batches, len(req.Instances))
		mu.Unlock()
		out := make([]string, len(req.Instances))
		for i, row := range req.Instances {
			if len(row) != 2 {
				http.Error(w, `{"error": "wrong row length"}`, http.StatusBadRequest)
				return
			}
			if _, ok := row[0].(float64); !ok && row[0] != nil {
				http.Error(w, `{"error": "x is not a number"}`, http.StatusBadRequest)
				return
			}
			out[i] = answer(row)
		}
		_, _ = w.Write([]byte(`{"predictions": [` + strings.Join(out, ",") + `]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(batches)
	}
}

// tfCSV has 1200 rows: every 4th has x missing, the others x = 1.5 or 3.
func tfCSV() string {
	var b strings.Builder
	b.WriteString("x,c\n")
	for i := 0; i < 1200; i++ {
		switch {
		case i%4 == 0:
			b.WriteString(",a\n")
		case i%4 == 1:
			b.WriteString("3,b\n")
		default:
			b.WriteString("1.5,b\n")
		}
	}
	return b.String()
}

// TestPredictTFServing: rows go out as instances lists in batches of 500
// (numbers as numbers, missing as null, strings as strings) and each answer
// shape gives its class mix and confidence: 300 rows with x missing, 300
// with x = 3, 600 with x = 1.5.
func TestPredictTFServing(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(row []any) string
		classes  []string
		counts   []int
		confMean float64 // 0: no confidence
	}{
		{"labels", func(row []any) string {
			if row[0] == nil {
				return `"stay"`
			}
			return `"leave"`
		}, []string{"leave", "stay"}, []int{900, 300}, 0},
		{"probability lists", func(row []any) string {
			switch row[0] {
			case nil:
				return "[0.6, 0.3, 0.1]"
			case 3.0:
				return "[0.1, 0.2, 0.7]"
			}
			return "[0.2, 0.8, 0]"
		}, []string{"0", "1", "2"}, []int{300, 600, 300}, (0.6*300 + 0.7*300 + 0.8*600) / 1200},
		{"single probability", func(row []any) string {
			switch row[0] {
			case nil:
				return "[0.25]"
			case 3.0:
				return "[0.5]"
			}
			return "[0.9]"
		}, []string{"0", "1"}, []int{300, 900}, (0.75*300 + 0.5*300 + 0.9*600) / 1200},
		{"bare probability", func(row []any) string {
			if row[0] == nil {
				return "0.125"
			}
			return "1"
		}, []string{"0", "1"}, []int{300, 900}, (0.875*300 + 900) / 1200},
		// Negative control of the two above: 0/1 answers are class labels.
		{"integer labels", func(row []any) string {
			if row[0] == nil {
				return "[0]"
			}
			return "1"
		}, []string{"0", "1"}, []int{300, 900}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, batches := fakeTFServing(t, tc.answer)
			b, err := Compute(strings.NewReader(tfCSV()), Options{Predict: PredictTFServing(srv.URL+"/v1/models/m:predict", nil)})
			if err != nil {
				t.Fatal(err)
			}
			if got := batches(); !reflect.DeepEqual(got, []int{500, 500, 200}) {
				t.Errorf("batches %v", got)
			}
			p := b.Prediction
			var labels []string
			for _, bin := range p.Bins {
				labels = append(labels, bin.Label)
			}
			if p.From != "model" || p.Kind != PredictionClass || !reflect.DeepEqual(labels, tc.classes) || !reflect.DeepEqual(counts(p.Bins), tc.counts) {
				t.Errorf("prediction %+v, want classes %v with %v", p, tc.classes, tc.counts)
			}
			switch {
			case tc.confMean == 0 && p.Confidence != nil:
				t.Errorf("confidence %+v, want none", p.Confidence)
			case tc.confMean != 0 && (p.Confidence == nil || p.Confidence.Rows != 1200 || fmt.Sprintf("%.9f", p.Confidence.Mean) != fmt.Sprintf("%.9f", tc.confMean)):
				t.Errorf("confidence %+v, want mean %.9f over 1200", p.Confidence, tc.confMean)
			}
		})
	}
}

// TestPredictTFServingErrors: TF Serving's {"error": ...} answers, a wrong
// number of predictions and an unreachable server are reported with what
// went wrong and which rows.
func TestPredictTFServingErrors(t *testing.T) {
	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{ "error": "Servable not found for request: Latest(nope)" }`, http.StatusNotFound)
	}))
	defer notFound.Close()
	short, _ := fakeTFServing(t, func([]any) string { return "[0.5, 0.5], [0.5, 0.5]" })
	errorOK := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"error": "model is warming up"}`))
	}))
	defer errorOK.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name, url, want string
	}{
		{"error answer", notFound.URL + "/v1/models/nope:predict", "rows 1-500: " + notFound.URL + "/v1/models/nope:predict answered 404 Not Found: Servable not found for request: Latest(nope)"},
		{"too many predictions", short.URL, "answered 1000 predictions for 500 rows"},
		{"error with 200", errorOK.URL, "answer is an error: model is warming up"},
		{"unreachable", gone.URL + "/v1/models/m:predict", "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(strings.NewReader(tfCSV()), Options{Predict: PredictTFServing(tc.url, nil)})
			if err == nil || !strings.HasPrefix(err.Error(), "predict: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want predict: ... %q", err, tc.want)
			}
		})
	}
}

// TestPredictProtocol: Predict picks the protocol from the URL unless told,
// and the MLflow protocol against a TF Serving server fails as before.
func TestPredictProtocol(t *testing.T) {
	srv, _ := fakeTFServing(t, func([]any) string { return "[0.3, 0.7]" })
	for _, tc := range []struct {
		url     string
		proto   Protocol
		wantErr string
	}{
		{srv.URL + "/v1/models/m:predict", "", ""},
		{srv.URL + "/proxied", ProtocolTFServing, ""},
		{srv.URL + "/v1/models/m:predict", ProtocolMLflow, "Missing 'inputs' or 'instances' key"},
		{srv.URL + "/v1/models/m", "", "not a TF Serving predict path"},
		{srv.URL + "/v1/models/m:predict", "grpc", `unknown protocol "grpc"`},
	} {
		pred, err := Predict(tc.url, tc.proto, nil)
		if err == nil {
			_, err = Compute(strings.NewReader(tfCSV()), Options{Predict: pred})
		}
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s (%q): %v, want %q", tc.url, tc.proto, err, tc.wantErr)
		}
	}
}
