package exporter

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"
)

// serveMetrics writes the registry in Prometheus' text format.
func (e *Exporter) serveMetrics(ctx *fasthttp.RequestCtx) {
	mfs, err := e.m.reg.Gather()
	if err != nil && len(mfs) == 0 {
		ctx.Error("gather metrics: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	ctx.Response.Header.SetContentType(string(format))
	enc := expfmt.NewEncoder(ctx, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			ctx.Error("encode metrics: "+err.Error(), fasthttp.StatusInternalServerError)
			return
		}
	}
}

// Handler returns a net/http handler serving what Run serves (/predict,
// /metrics, /healthz, /readyz and the pass-through routes), for embedding
// the exporter in a net/http server. It adapts each request to the
// fasthttp handler Run uses; a departed client is noticed through the
// request's context, and BodyTimeout is set as the body's read deadline.
// Run and Serve do not go through it.
func (e *Exporter) Handler() http.Handler { return e }

// ServeHTTP implements http.Handler (see Handler).
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(e.cfg.BodyTimeout))
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, nil, nil)
	h := &ctx.Request.Header
	h.DisableNormalizing()
	h.SetMethod(r.Method)
	h.SetRequestURI(r.RequestURI)
	if r.RequestURI == "" {
		h.SetRequestURI(r.URL.RequestURI())
	}
	h.SetHost(r.Host)
	for k, vv := range r.Header {
		for _, v := range vv {
			h.Add(k, v)
		}
	}
	cl := int(r.ContentLength)
	if r.ContentLength < 0 {
		cl = -1
	}
	if r.Body != nil && r.Body != http.NoBody {
		ctx.Request.SetBodyStream(r.Body, cl) // -1: chunked
	}
	e.handleWith(&ctx, r.Context().Err)
	_ = rc.SetReadDeadline(time.Time{})
	if ctx.Hijacked() {
		panic(http.ErrAbortHandler) // the client is gone: no answer (see noResponse)
	}

	resp := &ctx.Response
	wh := w.Header()
	for k, v := range resp.Header.All() {
		switch string(k) {
		case "Content-Length", "Connection":
			continue
		}
		wh.Add(string(k), string(v))
	}
	if resp.ConnectionClose() {
		wh.Set("Connection", "close")
	}
	bs := resp.BodyStream()
	if bs == nil {
		body := resp.Body()
		if r.Method == http.MethodHead {
			if n := resp.Header.ContentLength(); n >= 0 {
				wh.Set("Content-Length", strconv.Itoa(n))
			}
		} else if bodyAllowed(resp.StatusCode()) {
			wh.Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(resp.StatusCode())
		_, _ = w.Write(body)
		return
	}
	s, _ := bs.(*answerStream)
	n := resp.Header.ContentLength()
	if n >= 0 {
		wh.Set("Content-Length", strconv.Itoa(n))
	}
	w.WriteHeader(resp.StatusCode())
	buf := make([]byte, 32<<10)
	var werr error
	for {
		k, err := bs.Read(buf)
		if k > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(e.cfg.Timeout))
			if _, werr = w.Write(buf[:k]); werr != nil {
				break
			}
			if n < 0 {
				if werr = rc.Flush(); werr != nil {
					break
				}
			}
		}
		if err != nil {
			break
		}
	}
	_ = rc.SetWriteDeadline(time.Time{})
	aborted := s != nil && s.rerr != nil && werr == nil
	resp.CloseBodyStream() //nolint:errcheck // closing finishes the request; it never fails
	if aborted {
		// The upstream broke mid-body after the status was sent: abort the
		// response so the client sees a truncated answer, not a clean one.
		panic(http.ErrAbortHandler)
	}
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}
