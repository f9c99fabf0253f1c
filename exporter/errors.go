package exporter

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// MLflow error codes (mlflow/protos/databricks.proto) used in answers the
// exporter writes itself to MLflow clients.
var mlflowCodes = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusMethodNotAllowed:      "BAD_REQUEST",
	http.StatusRequestTimeout:        "DEADLINE_EXCEEDED",
	http.StatusRequestEntityTooLarge: "RESOURCE_EXHAUSTED",
	http.StatusBadGateway:            "TEMPORARILY_UNAVAILABLE",
	http.StatusServiceUnavailable:    "REQUEST_LIMIT_EXCEEDED",
	http.StatusGatewayTimeout:        "DEADLINE_EXCEEDED",
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
