package modelserver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stackgen/stackgen/model"
)

// MLflow error codes used in error answers, besides the parsers' BAD_REQUEST
// and INVALID_PARAMETER_VALUE.
const (
	mlflowInternalError = "INTERNAL_ERROR"
	// Answers MLflow itself never gives (it has no body limit or body read
	// deadline), with the closest codes of MLflow's ErrorCode.
	mlflowRequestLimitExceeded = "REQUEST_LIMIT_EXCEEDED"
	mlflowDeadlineExceeded     = "DEADLINE_EXCEEDED"
)

// MLflow's content types and texts.
const (
	contentTypeCSV  = "text/csv"
	contentTypeJSON = "application/json"
	textPlain       = "text/plain; charset=utf-8"
	// mlflowTimeoutText is the body of MLflow's 504 (sic: labelled application/json).
	mlflowTimeoutText = "Request processing time exceeded limit"
)

// writeMLflowError writes MLflow's error body {"error_code","message"} the
// way MlflowException.serialize_as_json does (Python's json.dumps).
func writeMLflowError(w http.ResponseWriter, code int, errorCode, msg string) {
	b := make([]byte, 0, 48+len(msg))
	b = append(b, `{"error_code": `...)
	b = appendPyJSONString(b, errorCode)
	b = append(b, `, "message": `...)
	b = appendPyJSONString(b, msg)
	b = append(b, '}')
	writeBody(w, code, contentTypeJSON, b)
}

// writeBody writes a complete answer with its Content-Length.
func writeBody(w http.ResponseWriter, code int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeDetail writes the answer of FastAPI's default HTTPException handler,
// {"detail":"Not Found"}, which MLflow's scoring server gives for unknown
// paths (404) and methods (405).
func writeDetail(w http.ResponseWriter, code int) {
	b := append([]byte(`{"detail":`), appendPyJSONString(nil, http.StatusText(code))...)
	writeBody(w, code, contentTypeJSON, append(b, '}'))
}

// mlflowParser checks a Content-Type header as MLflow's invocations() does:
// split at ";", parameters split at the first "=" (neither trimmed further),
// only "charset" allowed and only utf-8, then the media type compared
// exactly (so "Application/JSON" is refused). It returns the body parser,
// or the text of MLflow's 415 answer.
func mlflowParser(ct string) (func(*model.Model, []byte) ([][]float64, error), string) {
	parts := strings.Split(ct, ";")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	charset := "utf-8"
	var unexpected []string
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		if k == "charset" {
			charset = v
		} else if !seen[k] {
			seen[k] = true
			unexpected = append(unexpected, k)
		}
	}
	switch {
	case strings.ToLower(charset) != "utf-8":
		return nil, "The scoring server only supports UTF-8"
	case len(unexpected) > 0:
		return nil, "Unrecognized content type parameters: " + strings.Join(unexpected, ", ") + ". " + model.MLflowProtocolChangeInfo
	case parts[0] == contentTypeCSV:
		return model.ParseCSV, ""
	case parts[0] == contentTypeJSON:
		return model.ParseMLflowJSON, ""
	}
	return nil, "This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got '" + ct + "'."
}

// invocations serves POST /invocations, the MLflow scoring protocol. The
// answer is {"predictions": [label, ...]}, one class label per row (numbers
// for numeric labels), written as MLflow's json.dump writes it.
func (s *Server) invocations(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeDetail(w, http.StatusMethodNotAllowed)
		return
	}
	start := time.Now()
	ct := "None" // what MLflow would print for a missing header
	if v, ok := r.Header["Content-Type"]; ok && len(v) > 0 {
		ct = v[0]
	}
	parse, msg := mlflowParser(ct)
	if parse == nil {
		s.record(s.name, "predict", StatusInvalidArgument, start)
		writeBody(w, http.StatusUnsupportedMediaType, textPlain, []byte(msg))
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		// what uvicorn answers above --limit-concurrency
		s.record(s.name, "predict", StatusUnavailable, start)
		writeBody(w, http.StatusServiceUnavailable, textPlain, []byte("Service Unavailable"))
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	bp, err := s.readBody(w, r)
	if err != nil {
		code, label := bodyError(err)
		s.record(s.name, "predict", label, start)
		if code == http.StatusRequestTimeout {
			w.Header().Set("Connection", "close")
		}
		errorCode := model.MLflowBadRequest
		switch code {
		case http.StatusRequestEntityTooLarge:
			errorCode = mlflowRequestLimitExceeded
		case http.StatusRequestTimeout:
			errorCode = mlflowDeadlineExceeded
		}
		writeMLflowError(w, code, errorCode, err.Error())
		return
	}
	defer s.putBuf(bp)
	rows, err := parse(s.model, *bp)
	if err != nil {
		s.record(s.name, "predict", StatusInvalidArgument, start)
		errorCode := model.MLflowBadRequest
		var me *model.MLflowError
		if errors.As(err, &me) {
			errorCode = me.Code
		}
		writeMLflowError(w, http.StatusBadRequest, errorCode, err.Error())
		return
	}
	if err := s.delay(ctx); err != nil {
		if r.Context().Err() == nil { // our deadline, not the client's
			s.record(s.name, "predict", StatusDeadlineExceeded, start)
			writeBody(w, http.StatusGatewayTimeout, contentTypeJSON, []byte(mlflowTimeoutText))
			return
		}
		s.record(s.name, "predict", StatusCancelled, start)
		writeMLflowError(w, http.StatusServiceUnavailable, mlflowInternalError, err.Error())
		return
	}
	if s.injectError() {
		s.record(s.name, "predict", StatusInternal, start)
		writeMLflowError(w, http.StatusInternalServerError, mlflowInternalError, "injected error (error rate "+strconv.FormatFloat(s.cfg.ErrorRate, 'g', -1, 64)+")")
		return
	}
	out := append((*bp)[:0], `{"predictions": [`...)
	for i, row := range rows {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, s.classJSON[s.model.PredictIndex(row)]...)
	}
	out = append(out, "]}"...)
	*bp = out
	writeBody(w, http.StatusOK, contentTypeJSON, out)
	s.record(s.name, "predict", StatusOK, start)
}

// bodyError maps a readBody error to the HTTP status and the status label.
func bodyError(err error) (code int, label string) {
	switch {
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, StatusResourceExhausted
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, StatusDeadlineExceeded
	}
	return http.StatusBadRequest, StatusInvalidArgument
}

// appendPyJSONString appends s as a JSON string the way Python's json.dumps
// writes it by default (ensure_ascii: every non-ASCII character as \uXXXX,
// in surrogate pairs beyond the BMP; "/", "<", ">" and "&" as they are).
func appendPyJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r < 0x20 || r > 0x7e && r < 0x10000: // Python escapes DEL too
			b = u(b, r)
		case r >= 0x10000:
			r -= 0x10000
			b = u(b, 0xd800+(r>>10))
			b = u(b, 0xdc00+(r&0x3ff))
		default:
			b = append(b, byte(r))
		}
	}
	return append(b, '"')
}
