package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// MLflow error codes (ErrorCode in mlflow/protos/databricks.proto, whose
// comments give the HTTP status each maps to) used in answers the exporter
// writes itself to MLflow clients.
var mlflowCodes = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusMethodNotAllowed:      "BAD_REQUEST",
	http.StatusRequestTimeout:        "DEADLINE_EXCEEDED",
	http.StatusRequestEntityTooLarge: "BAD_REQUEST",
	http.StatusBadGateway:            "TEMPORARILY_UNAVAILABLE",
	http.StatusServiceUnavailable:    "TEMPORARILY_UNAVAILABLE", // "maps to 503", retry with backoff
	http.StatusGatewayTimeout:        "DEADLINE_EXCEEDED",       // "maps to 504"
}

// protoError is an error answer in the upstream protocol's own shape, so a
// client written for the model server parses it: MLflow
// {"error_code": "...", "message": "..."}, TF Serving (and custom)
// {"error": "..."}. Cause (the failure cause or rejection reason, "" for
// none) is an extra field for operators.
type protoError struct {
	ErrorCode string `json:"error_code,omitempty"`
	Message   string `json:"message,omitempty"`
	Error     string `json:"error,omitempty"`
	Cause     string `json:"cause,omitempty"`
}

// writeError answers code with msg in the protocol's error shape. msg must
// not carry internal addresses.
func (e *Exporter) writeError(w http.ResponseWriter, code int, cause, msg string) {
	pe := protoError{Cause: cause}
	if e.cfg.Kind == KindMLflow {
		pe.ErrorCode = mlflowCodes[code]
		if pe.ErrorCode == "" {
			pe.ErrorCode = "INTERNAL_ERROR"
		}
		pe.Message = msg
	} else {
		pe.Error = msg
	}
	b, _ := json.Marshal(pe)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func (e *Exporter) tooLarge(w http.ResponseWriter) int {
	e.m.tooLarge.Inc()
	w.Header().Set("Connection", "close") // the unread body is not drained
	e.writeError(w, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge,
		fmt.Sprintf("request body larger than %d bytes", e.cfg.MaxBody))
	return http.StatusRequestEntityTooLarge
}

func (e *Exporter) overloaded(w http.ResponseWriter) int {
	e.m.overload.Inc()
	h := w.Header()
	h.Set("Retry-After", "1")
	h.Set("Connection", "close") // the body is not read
	e.writeError(w, http.StatusServiceUnavailable, ReasonOverloaded,
		fmt.Sprintf("too many requests in flight (max %d); retry later", e.cfg.MaxInFlight))
	return http.StatusServiceUnavailable
}

// clientGone is the status recorded when the client went away before the
// answer was complete (nginx's convention; never sent).
const clientGone = 499

// fail answers a failed upstream exchange: 504 on timeout, else 502; a
// departed client is only counted.
func (e *Exporter) fail(w http.ResponseWriter, r *http.Request, ctx context.Context, err error) int {
	if r.Context().Err() != nil {
		e.m.failure[CauseClientGone].Inc()
		return clientGone
	}
	cause := causeOf(err)
	if context.Cause(ctx) == errUpstreamTimeout {
		cause = CauseTimeout
	}
	e.m.failure[cause].Inc()
	e.log.printf(e, "upstream %s: %s %s: %v", cause, r.Method, r.URL.Path, err)
	code := http.StatusBadGateway
	if cause == CauseTimeout {
		code = http.StatusGatewayTimeout
	}
	e.writeError(w, code, cause, publicReason(err, cause, e.cfg.Timeout))
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
