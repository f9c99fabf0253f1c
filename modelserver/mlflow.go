package modelserver

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/stackgen/stackgen/model"
)

// MLflow error codes used in error answers.
const (
	mlflowBadRequest    = "BAD_REQUEST"
	mlflowInternalError = "INTERNAL_ERROR"
)

// mlflowError is the MLflow scoring server's error body.
type mlflowError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

func writeMLflowError(w http.ResponseWriter, code int, errorCode, msg string) {
	b, err := json.Marshal(mlflowError{ErrorCode: errorCode, Message: msg})
	if err != nil {
		b = []byte(`{"error_code":"INTERNAL_ERROR","message":"cannot encode error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// invocations serves POST /invocations, the MLflow scoring protocol. The
// answer is {"predictions":[label,...]}, one class label per row (numbers
// for numeric labels).
func (s *Server) invocations(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeMLflowError(w, http.StatusMethodNotAllowed, mlflowBadRequest, "method "+r.Method+" not allowed; POST a request to /invocations")
		return
	}
	start := time.Now()
	ct := r.Header.Get("Content-Type")
	var parse func(*model.Model, []byte) ([][]float64, error)
	mt := ct
	if ct != model.ContentTypeJSON && ct != model.ContentTypeCSV {
		if parsed, _, err := mime.ParseMediaType(ct); err == nil {
			mt = parsed
		}
	}
	switch mt {
	case model.ContentTypeJSON:
		parse = model.ParseMLflowJSON
	case model.ContentTypeCSV:
		parse = model.ParseCSV
	default:
		s.record(s.name, "predict", StatusInvalidArgument, start)
		writeMLflowError(w, http.StatusUnsupportedMediaType, mlflowBadRequest,
			"This predictor only supports the following content types: Types: ['application/json', 'text/csv']. Got '"+ct+"'.")
		return
	}
	bp, err := s.readBody(r)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			s.record(s.name, "predict", StatusResourceExhausted, start)
			writeMLflowError(w, http.StatusRequestEntityTooLarge, mlflowBadRequest, err.Error())
			return
		}
		s.record(s.name, "predict", StatusInvalidArgument, start)
		writeMLflowError(w, http.StatusBadRequest, mlflowBadRequest, err.Error())
		return
	}
	defer s.putBuf(bp)
	rows, err := parse(s.model, *bp)
	if err != nil {
		s.record(s.name, "predict", StatusInvalidArgument, start)
		writeMLflowError(w, http.StatusBadRequest, mlflowBadRequest, "Invalid input: "+err.Error())
		return
	}
	if err := s.delay(r.Context()); err != nil {
		s.record(s.name, "predict", StatusCancelled, start)
		writeMLflowError(w, http.StatusServiceUnavailable, mlflowInternalError, err.Error())
		return
	}
	if s.injectError() {
		s.record(s.name, "predict", StatusInternal, start)
		writeMLflowError(w, http.StatusInternalServerError, mlflowInternalError, "injected error (error rate "+strconv.FormatFloat(s.cfg.ErrorRate, 'g', -1, 64)+")")
		return
	}
	out := append((*bp)[:0], `{"predictions":[`...)
	for i, row := range rows {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, s.classJSON[s.model.PredictIndex(row)]...)
	}
	out = append(out, "]}"...)
	*bp = out
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	s.record(s.name, "predict", StatusOK, start)
}
