package exporter

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/valyala/fasthttp"
)

// MLflow error codes (ErrorCode in mlflow/protos/databricks.proto, whose
// comments give the HTTP status each maps to) used in answers the exporter
// writes itself to MLflow clients.
var mlflowCodes = map[int]string{
	http.StatusBadRequest:                  "BAD_REQUEST",
	http.StatusMethodNotAllowed:            "BAD_REQUEST",
	http.StatusRequestTimeout:              "DEADLINE_EXCEEDED",
	http.StatusRequestEntityTooLarge:       "BAD_REQUEST",
	http.StatusRequestHeaderFieldsTooLarge: "BAD_REQUEST",
	http.StatusBadGateway:                  "TEMPORARILY_UNAVAILABLE",
	http.StatusServiceUnavailable:          "TEMPORARILY_UNAVAILABLE", // "maps to 503", retry with backoff
	http.StatusGatewayTimeout:              "DEADLINE_EXCEEDED",       // "maps to 504"
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
func (e *Exporter) writeError(ctx *fasthttp.RequestCtx, code int, cause, msg string) {
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
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.SetStatusCode(code)
	ctx.Response.SetBody(append(b, '\n'))
}

func (e *Exporter) tooLarge(ctx *fasthttp.RequestCtx) int {
	e.m.tooLarge.Inc()
	ctx.SetConnectionClose() // the unread body is not drained
	e.writeError(ctx, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge,
		fmt.Sprintf("request body larger than %d bytes", e.cfg.MaxBody))
	return http.StatusRequestEntityTooLarge
}

func (e *Exporter) overloaded(ctx *fasthttp.RequestCtx) int {
	e.m.overload.Inc()
	ctx.Response.Header.Set("Retry-After", "1")
	ctx.SetConnectionClose() // the body is not read
	e.writeError(ctx, http.StatusServiceUnavailable, ReasonOverloaded,
		fmt.Sprintf("too many requests in flight (max %d); retry later", e.cfg.MaxInFlight))
	return http.StatusServiceUnavailable
}

// clientGone is the status recorded when the client went away before the
// answer was complete (nginx's convention; never sent).
const clientGone = 499

// fail answers a failed upstream exchange: 504 on timeout, else 502; a
// departed client is only counted.
func (e *Exporter) fail(ctx *fasthttp.RequestCtx, x *exchange, err error) int {
	if x.gone.Load() {
		e.m.failure[CauseClientGone].Inc()
		noResponse(ctx)
		return clientGone
	}
	cause := causeOf(err)
	e.m.failure[cause].Inc()
	e.log.printf(e, "upstream %s: %s %s: %v", cause, ctx.Method(), ctx.Path(), err)
	code := http.StatusBadGateway
	if cause == CauseTimeout {
		code = http.StatusGatewayTimeout
	}
	e.writeError(ctx, code, cause, publicReason(err, cause, e.cfg.Timeout))
	return code
}

func writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	b, _ := json.Marshal(v)
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.SetStatusCode(code)
	ctx.Response.SetBody(append(b, '\n'))
}

// noResponse closes the client's connection without an answer: a client
// taken for gone (it may only have half-closed) must not read a made-up
// "200 OK" with an empty body. fasthttp then skips the response and closes
// the connection after the (empty) hijack handler.
func noResponse(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(net.Conn) {})
}
