package baseline

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestParseAnswers(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Answer
	}{
		{"mlflow labels", `{"predictions": [0, 1, 1.0]}`, []Answer{{Label: "0", HasValue: true}, {Label: "1", Value: 1, HasValue: true}, {Label: "1", Value: 1, HasValue: true}}},
		{"strings and bools", `{"predictions": ["yes", true]}`, []Answer{{Label: "yes"}, {Label: "true"}}},
		{"probabilities", `{"predictions": [[0.2, 0.8], [0.9, 0.1]]}`, []Answer{{Label: "1", Confidence: 0.8, HasConfidence: true}, {Label: "0", Confidence: 0.9, HasConfidence: true}}},
		{"single-element lists and outputs", `{"outputs": [[0.25]]}`, []Answer{{Label: "0.25", Value: 0.25, HasValue: true}}},
		{"bare list, objects and null skipped", `[{"a": 1}, null]`, []Answer{{}, {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAnswers([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`{"result": [1]}`, `nope`} {
		if _, err := ParseAnswers([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestPredictMLflow: rows go out as dataframe_split in batches of 500
// (numbers as numbers, missing as null), and probabilities give the class
// mix and the mean confidence.
func TestPredictMLflow(t *testing.T) {
	var batches []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Split struct {
				Columns []string `json:"columns"`
				Data    [][]any  `json:"data"`
			} `json:"dataframe_split"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || !reflect.DeepEqual(req.Split.Columns, []string{"x", "c"}) {
			http.Error(w, `{"error_code": "BAD_REQUEST", "message": "bad"}`, 400)
			return
		}
		batches = append(batches, len(req.Split.Data))
		var out []string
		for _, row := range req.Split.Data {
			if _, ok := row[0].(float64); !ok && row[0] != nil {
				http.Error(w, `{"message": "x not a number"}`, 400)
				return
			}
			if row[0] == nil {
				out = append(out, "[0.6, 0.4]")
			} else {
				out = append(out, "[0.1, 0.9]")
			}
		}
		_, _ = w.Write([]byte(`{"predictions": [` + strings.Join(out, ",") + `]}`))
	}))
	defer srv.Close()
	var csv strings.Builder
	csv.WriteString("x,c\n")
	for i := 0; i < 1200; i++ {
		if i%4 == 0 {
			csv.WriteString(",a\n")
		} else {
			csv.WriteString("1.5,b\n")
		}
	}
	b, err := Compute(strings.NewReader(csv.String()), Options{Predict: PredictMLflow(srv.URL, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(batches, []int{500, 500, 200}) {
		t.Errorf("batches %v", batches)
	}
	p := b.Prediction
	if p.From != "model" || !reflect.DeepEqual(counts(p.Bins), []int{300, 900}) {
		t.Errorf("prediction %+v", p)
	}
	if p.Confidence == nil || p.Confidence.Rows != 1200 || p.Confidence.Mean != 0.825 {
		t.Errorf("confidence %+v, want mean 0.825 over 1200", p.Confidence)
	}
}
