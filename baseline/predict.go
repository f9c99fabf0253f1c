package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PredictBatch is how many rows PredictMLflow sends per request.
const PredictBatch = 500

// maxAnswer bounds one answer body PredictMLflow reads.
const maxAnswer = 64 << 20

// PredictMLflow returns a Predictor that posts the rows to an MLflow scoring
// endpoint (e.g. http://127.0.0.1:8000/invocations) as dataframe_split, in
// batches of PredictBatch. Numeric cells are sent as JSON numbers, missing
// cells as null, other cells as strings. A nil client uses one with a 60 s
// timeout.
func PredictMLflow(url string, client *http.Client) Predictor {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	return func(columns []string, numeric []bool, rows [][]string) ([]Answer, error) {
		return predictBatches(client, url, rows, func(batch [][]string) ([]byte, error) {
			return dataframeSplit(columns, numeric, batch)
		})
	}
}

// predictBatches posts rows to url in batches of PredictBatch, each encoded
// by encode, and returns one Answer per row.
func predictBatches(client *http.Client, url string, rows [][]string, encode func([][]string) ([]byte, error)) ([]Answer, error) {
	var out []Answer
	for start := 0; start < len(rows); start += PredictBatch {
		end := min(start+PredictBatch, len(rows))
		body, err := encode(rows[start:end])
		if err != nil {
			return nil, err
		}
		ans, err := postBatch(client, url, body)
		if err != nil {
			return nil, fmt.Errorf("rows %d-%d: %w", start+1, end, err)
		}
		if len(ans) != end-start {
			return nil, fmt.Errorf("rows %d-%d: %s answered %d predictions for %d rows", start+1, end, url, len(ans), end-start)
		}
		out = append(out, ans...)
	}
	return out, nil
}

func dataframeSplit(columns []string, numeric []bool, rows [][]string) ([]byte, error) {
	return json.Marshal(map[string]any{"dataframe_split": map[string]any{"columns": columns, "data": cells(numeric, rows)}})
}

// cells converts CSV rows to JSON values: numeric cells as numbers, missing
// cells as null, other cells as strings.
func cells(numeric []bool, rows [][]string) [][]any {
	data := make([][]any, len(rows))
	for i, rec := range rows {
		row := make([]any, len(rec))
		for j, v := range rec {
			v = strings.TrimSpace(v)
			switch {
			case missingCells[v]:
				row[j] = nil
			case numeric[j]:
				f, _ := strconv.ParseFloat(v, 64)
				row[j] = f
			default:
				row[j] = v
			}
		}
		data[i] = row
	}
	return data
}

func postBatch(client *http.Client, url string, body []byte) ([]Answer, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Message+e.Error != "" {
			msg = e.Message + e.Error
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, fmt.Errorf("%s answered %s: %s", url, resp.Status, msg)
	}
	return ParseAnswers(data)
}

// ParseAnswers reads an MLflow or TF Serving answer: {"predictions": [...]},
// {"outputs": [...]} or a bare list, one element per row. A scalar is a
// class label (and, if a number, a value); a one-element list counts as its
// element; a longer list of numbers is class probabilities (label: the
// index of the largest, confidence: the largest).
func ParseAnswers(data []byte) ([]Answer, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		var obj struct {
			Predictions []json.RawMessage `json:"predictions"`
			Outputs     []json.RawMessage `json:"outputs"`
			Error       string            `json:"error"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("answer is not {\"predictions\": [...]}: %v", err)
		}
		list = obj.Predictions
		if list == nil {
			list = obj.Outputs
		}
		if list == nil && obj.Error != "" {
			return nil, fmt.Errorf("answer is an error: %s", obj.Error)
		}
		if list == nil {
			return nil, errors.New(`answer has no "predictions" or "outputs" list`)
		}
	}
	out := make([]Answer, len(list))
	for i, raw := range list {
		out[i] = parseAnswer(raw)
	}
	return out, nil
}

func parseAnswer(raw json.RawMessage) Answer {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Answer{}
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return Answer{Label: s}
	case 't', 'f':
		return Answer{Label: string(raw)}
	case '[':
		var probs []float64
		if json.Unmarshal(raw, &probs) != nil {
			var one []json.RawMessage
			if json.Unmarshal(raw, &one) == nil && len(one) == 1 {
				return parseAnswer(one[0])
			}
			return Answer{}
		}
		if len(probs) == 1 {
			return parseAnswer(raw[1 : len(raw)-1])
		}
		if len(probs) == 0 {
			return Answer{}
		}
		top := 0
		for j, p := range probs {
			if p > probs[top] {
				top = j
			}
		}
		return Answer{Label: strconv.Itoa(top), Confidence: probs[top], HasConfidence: true}
	case 'n', '{':
		return Answer{}
	default:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return Answer{}
		}
		return Answer{Label: ClassLabel(string(raw)), Value: f, HasValue: true}
	}
}

// predictionFromAnswers is the prediction mix of a model's answers: a class
// mix, or value bins when every answer is a number and there are more
// distinct ones than bins (a regressor or a score).
func predictionFromAnswers(ans []Answer, bins int) (*Prediction, error) {
	var labels []string
	var values []float64
	allValues := true
	conf, nconf := 0.0, 0
	for _, a := range ans {
		if a.Label != "" {
			labels = append(labels, a.Label)
		}
		if a.HasValue {
			values = append(values, a.Value)
		} else {
			allValues = false
		}
		if a.HasConfidence {
			conf += a.Confidence
			nconf++
		}
	}
	if len(labels) == 0 {
		return nil, errors.New("no answer was a class label, a number or a list of class probabilities")
	}
	var p *Prediction
	sorted := sortedCopy(values)
	if allValues && len(uniq(sorted)) > bins {
		edges, lbl := numericEdges(sorted, bins)
		p = &Prediction{Kind: PredictionValue, Edges: edges, Bins: countNumeric(sorted, edges, lbl)}
	} else {
		p = classMix(labels)
	}
	p.From = "model"
	if nconf > 0 {
		p.Confidence = &Confidence{Mean: sig9(conf / float64(nconf)), Rows: nconf}
	}
	return p, nil
}

// ClassLabel returns a class value as the exporter labels
// model_predictions_total{class}: integral numbers as integers ("1.0" → "1"),
// other numbers in Go's shortest 'g' form, anything else as is.
func ClassLabel(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || !isJSONNumber(v) {
		return v
	}
	if f == math.Trunc(f) && f > -1e15 && f < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return num(f)
}

// isJSONNumber reports whether s is written as a JSON number (the exporter
// sees the model's JSON; "+1", ".5", "0x10" are strings there).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		return false
	}
	if s[i] == '0' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
		return false
	}
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// classMix counts labels into one bin per class, classes in numeric order
// when all are numbers, else in string order. A single class gets an empty
// second bin so the mix has the two bins a baseline needs.
func classMix(labels []string) *Prediction {
	counts := map[string]int{}
	for _, l := range labels {
		counts[l]++
	}
	classes := make([]string, 0, len(counts))
	allNum := true
	for l := range counts {
		classes = append(classes, l)
		if _, err := strconv.ParseFloat(l, 64); err != nil {
			allNum = false
		}
	}
	sort.Slice(classes, func(i, j int) bool {
		if allNum {
			a, _ := strconv.ParseFloat(classes[i], 64)
			b, _ := strconv.ParseFloat(classes[j], 64)
			if a != b {
				return a < b
			}
		}
		return classes[i] < classes[j]
	})
	if len(classes) == 1 {
		classes = append(classes, OtherLabel)
	}
	n := make([]int, len(classes))
	for i, c := range classes {
		n[i] = counts[c]
	}
	return &Prediction{Kind: PredictionClass, Bins: makeBins(classes, n)}
}
