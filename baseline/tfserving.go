package baseline

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Protocol is the scoring protocol a --predict endpoint speaks.
type Protocol string

// Scoring protocols.
const (
	// ProtocolMLflow posts {"dataframe_split": ...} (PredictMLflow).
	ProtocolMLflow Protocol = "mlflow"
	// ProtocolTFServing posts {"instances": [[...], ...]} (PredictTFServing).
	ProtocolTFServing Protocol = "tfserving"
)

// tfPredictPath matches a TF Serving REST predict path:
// /v1/models/NAME:predict or /v1/models/NAME/versions/N:predict.
var tfPredictPath = regexp.MustCompile(`^/v1/models/[^/:]+(/versions/[0-9]+)?:predict$`)

// DetectProtocol tells the protocol of a scoring URL from its path: TF
// Serving for /v1/models/NAME:predict and /v1/models/NAME/versions/N:predict,
// MLflow for anything else. A path under /v1/models/ that is not a predict
// path is an error (TF Serving answers only :predict with predictions).
func DetectProtocol(rawURL string) (Protocol, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse URL: %w", err)
	}
	p := strings.TrimSuffix(u.Path, "/")
	switch {
	case tfPredictPath.MatchString(p):
		return ProtocolTFServing, nil
	case p == "/v1/models" || strings.HasPrefix(p, "/v1/models/"):
		return "", fmt.Errorf("path %q is under /v1/models but is not a TF Serving predict path (/v1/models/NAME:predict or /v1/models/NAME/versions/N:predict)", u.Path)
	}
	return ProtocolMLflow, nil
}

// PredictTFServing returns a Predictor that posts the rows to a TF Serving
// REST predict endpoint (e.g. http://127.0.0.1:8501/v1/models/NAME:predict)
// as {"instances": [[v1, v2, ...], ...]}, one list per row in the baseline's
// column order, in batches of PredictBatch; cells are encoded as
// PredictMLflow encodes them. Each prediction of the answer
// ({"predictions": [...]} or {"outputs": [...]}) is read as ParseAnswers
// reads it; in addition, when every prediction of the whole run is a single
// number in [0, 1] (a bare number or a one-element list, a sigmoid output)
// and at least one lies strictly between 0 and 1, they are binary
// probabilities: class "1" when p ≥ 0.5, else "0", with confidence
// max(p, 1−p). A nil client uses one with a 60 s timeout.
func PredictTFServing(url string, client *http.Client) Predictor {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	return func(_ []string, numeric []bool, rows [][]string) ([]Answer, error) {
		ans, err := predictBatches(client, url, rows, func(batch [][]string) ([]byte, error) {
			return json.Marshal(map[string]any{"instances": cells(numeric, batch)})
		})
		if err != nil {
			return nil, err
		}
		binaryProbabilities(ans)
		return ans, nil
	}
}

// binaryProbabilities rewrites ans in place as binary class answers when
// every answer is a number in [0, 1] and some is strictly inside.
func binaryProbabilities(ans []Answer) {
	inside := false
	for _, a := range ans {
		if !a.HasValue || a.HasConfidence || a.Value < 0 || a.Value > 1 {
			return
		}
		inside = inside || (a.Value > 0 && a.Value < 1)
	}
	if !inside {
		return
	}
	for i, a := range ans {
		p := a.Value
		if p >= 0.5 {
			ans[i] = Answer{Label: "1", Confidence: p, HasConfidence: true}
		} else {
			ans[i] = Answer{Label: "0", Confidence: 1 - p, HasConfidence: true}
		}
	}
}

// Predict returns the Predictor for url speaking protocol; an empty
// protocol is detected from the URL (DetectProtocol).
func Predict(url string, protocol Protocol, client *http.Client) (Predictor, error) {
	if protocol == "" {
		var err error
		if protocol, err = DetectProtocol(url); err != nil {
			return nil, err
		}
	}
	switch protocol {
	case ProtocolMLflow:
		return PredictMLflow(url, client), nil
	case ProtocolTFServing:
		return PredictTFServing(url, client), nil
	}
	return nil, fmt.Errorf("unknown protocol %q (want %s or %s)", protocol, ProtocolMLflow, ProtocolTFServing)
}
