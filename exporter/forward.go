package exporter

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// maxPooledBuf is the largest buffer kept with a pooled exchange.
const maxPooledBuf = 1 << 20

// passLimit is the largest non-inference answer buffered before it is sent
// (so that a broken upstream still gets a clean 502); larger ones stream.
const passLimit = 256 << 10

// forward sends the request (with x.uri as its target) to the upstream and
// copies the answer back. predict marks inference calls, whose rows and
// predictions are counted. It returns the status recorded and whether the
// answer streams (the stream then finishes the request and releases x).
func (e *Exporter) forward(ctx *fasthttp.RequestCtx, x *exchange, predict bool, ctxErr func() error, d done) (int, bool) {
	if int64(ctx.Request.Header.ContentLength()) > e.cfg.MaxBody {
		x.release()
		return e.tooLarge(ctx), false
	}
	// The body has BodyTimeout to arrive (the server's read deadline, set
	// when the header was read), and the buffer grows only with bytes
	// actually read.
	var full bool
	var err error
	if bs := ctx.RequestBodyStream(); bs != nil {
		x.body, full, err = readBody(x.body, bs, e.cfg.MaxBody)
	} else {
		x.body, full, err = readBody(x.body, bytes.NewReader(ctx.Request.Body()), e.cfg.MaxBody)
	}
	if err != nil {
		x.release()
		ctx.SetConnectionClose()
		if isTimeout(err) {
			e.m.slowBody.Inc()
			e.writeError(ctx, fasthttp.StatusRequestTimeout, ReasonBodyTimeout,
				fmt.Sprintf("request body not received within %s", e.cfg.BodyTimeout))
			return fasthttp.StatusRequestTimeout, false
		}
		e.writeError(ctx, fasthttp.StatusBadRequest, "", "incomplete request body")
		return fasthttp.StatusBadRequest, false
	}
	if !full {
		x.release()
		return e.tooLarge(ctx), false
	}
	if predict {
		e.m.request(x.body, isCSV(ctx.Request.Header.ContentType()))
	}

	out, resp := &x.req, &x.resp
	e.outRequest(ctx, out, x)
	x.watch(ctx.Conn(), ctxErr)
	start := time.Now()
	head := ctx.IsHead()
	if err := e.roundTrip(x, out, resp, head); err != nil {
		code := e.fail(ctx, x, err)
		x.release()
		return code, false
	}

	code := resp.StatusCode()
	ctx.Response.Header.SetNoDefaultContentType(true) // the upstream's type, or none
	copyResponseHeader(&ctx.Response.Header, &resp.Header)
	ctx.Response.SetStatusCode(code)
	cl := resp.Header.ContentLength()
	ct := resp.Header.ContentType()
	parse := predict && code/100 == 2 && len(resp.Header.ContentEncoding()) == 0 && isJSONish(ct)
	bs := resp.BodyStream()
	if bs == nil { // HEAD, 204, 304: no body
		e.m.upDur.Observe(time.Since(start).Seconds())
		if head && cl >= 0 {
			ctx.Response.Header.SetContentLength(cl)
		}
		x.detach(true)
		x.release()
		return code, false
	}
	limit := int64(passLimit)
	if predict {
		limit = e.respLimit
	}
	stream := cl < 0 || bytes.HasPrefix(ct, textEventStream)
	// fasthttp chunk-encodes every streamed body of unknown length, which an
	// HTTP/1.0 client cannot read (RFC 9112 6.1): such a client gets the
	// answer buffered, up to limit, with its length.
	http10 := cl < 0 && !ctx.Request.Header.IsHTTP11()
	if http10 || (!stream && int64(cl) <= limit) {
		// Known, bounded length: read it all first, so a broken upstream
		// still gets a clean error status.
		var full bool
		var ferr error
		x.buf, full, ferr = readBody(x.buf, bs, limit)
		_ = resp.CloseBodyStream()
		if ferr == nil && !full {
			ferr = fmt.Errorf("answer of unknown length over %d bytes for an HTTP/1.0 client", limit)
		}
		if ferr != nil {
			code := e.fail(ctx, x, fmt.Errorf("read response body: %w", ferr))
			x.release()
			return code, false
		}
		x.detach(true)
		e.m.upDur.Observe(time.Since(start).Seconds())
		ctx.Response.SetBody(x.buf)
		if parse {
			e.m.answer(x.buf)
		}
		x.release()
		return code, false
	}

	// Streamed: unknown length (chunked, server-sent events) or larger than
	// the buffer. Each read is passed on at once (fasthttp flushes every
	// chunk of an unknown-length body); Timeout bounds the wait for each
	// next read and each write to the client.
	s := &answerStream{e: e, x: x, src: bs, d: d, code: code, start: start, serverConn: ctxErr == nil, ctx: ctx}
	if parse && cl < 0 {
		s.capture = x.buf[:0]
		s.capturing = true
	}
	// The status and headers go out at once, not with the first chunk (an
	// LLM server may think for seconds before its first token).
	ctx.Response.ImmediateHeaderFlush = true
	ctx.Response.SetBodyStream(s, cl)
	return code, true
}

var textEventStream = []byte("text/event-stream")

// answerStream passes a streamed answer to the client. fasthttp's server
// reads it while writing the response and closes it at the end (with the
// write error, if any); closing finishes the request.
type answerStream struct {
	e          *Exporter
	x          *exchange
	ctx        *fasthttp.RequestCtx
	src        io.Reader
	d          done
	code       int
	start      time.Time
	serverConn bool

	capture   []byte
	capturing bool
	eof       bool
	rerr      error
	closed    bool
}

func (s *answerStream) Read(p []byte) (int, error) {
	if s.rerr != nil {
		return 0, s.rerr
	}
	uc := s.x.conn()
	if uc != nil {
		_ = uc.c.SetReadDeadline(time.Now().Add(s.e.cfg.Timeout))
	}
	n, err := s.src.Read(p)
	if n > 0 {
		if s.serverConn {
			// A client that does not read must not hold its slot forever.
			_ = s.ctx.Conn().SetWriteDeadline(time.Now().Add(s.e.cfg.Timeout))
		}
		if s.capturing {
			if int64(len(s.capture)+n) > s.e.respLimit {
				s.capturing, s.capture = false, nil
			} else {
				s.capture = append(s.capture, p[:n]...)
			}
		}
	}
	if err == io.EOF {
		s.eof = true
	} else if err != nil {
		s.rerr = err
	}
	return n, err
}

// Close is called by fasthttp after the body was written (or failed).
func (s *answerStream) Close() error { return s.CloseWithError(nil) }

// CloseWithError finishes the request: werr is the error that stopped the
// write to the client, if any.
func (s *answerStream) CloseWithError(werr error) error {
	if s.closed {
		return nil
	}
	s.closed = true
	e, x := s.e, s.x
	code := s.code
	// fasthttp calls this from its body writer, which swallows a panic: the
	// slot and the request's accounting are released whatever happens.
	defer func() {
		if cap(s.capture) <= maxPooledBuf && s.capture != nil {
			x.buf = s.capture[:0]
		}
		x.release()
		e.finish(s.d, code)
	}()
	_ = s.x.resp.CloseBodyStream()
	e.m.upDur.Observe(time.Since(s.start).Seconds())
	switch {
	case s.eof:
		x.detach(true)
		if s.capturing {
			e.answerSafely(s.capture)
		}
	case s.rerr != nil && !x.gone.Load():
		x.detach(false)
		cause := causeOf(s.rerr)
		e.m.failure[cause].Inc()
		e.log.printf(e, "upstream %s while streaming %s: %v", cause, x.uri, s.rerr)
	default: // the client went away (write failed, or the watch saw it)
		x.detach(false)
		e.m.failure[CauseClientGone].Inc()
		code = clientGone
	}
	return nil
}

// answerSafely counts a streamed answer's predictions; a panic in the
// counting is logged, never passed to fasthttp's body writer.
func (e *Exporter) answerSafely(body []byte) {
	defer func() {
		if r := recover(); r != nil {
			e.log.printf(e, "panic counting a streamed answer: %v", r)
		}
	}()
	e.m.answer(body)
}

// outRequest builds the upstream request in out: same method, x.uri as the
// target, the client's end-to-end headers, the buffered body.
func (e *Exporter) outRequest(ctx *fasthttp.RequestCtx, out *fasthttp.Request, x *exchange) {
	out.Reset()
	out.Header.DisableNormalizing()
	out.Header.SetNoDefaultContentType(true)
	out.Header.SetMethodBytes(ctx.Method())
	out.Header.SetRequestURIBytes(x.uri)
	in := &ctx.Request.Header
	conn := in.Peek(fasthttp.HeaderConnection)
	for k, v := range in.All() {
		if hopHeaders[b2s(k)] || (len(conn) > 0 && listedIn(conn, k)) {
			continue
		}
		out.Header.AddBytesKV(k, v)
	}
	out.Header.SetHost(e.cfg.base.Host)
	out.SetBodyRaw(x.body)
}

// copyResponseHeader copies the upstream's end-to-end headers.
func copyResponseHeader(dst, src *fasthttp.ResponseHeader) {
	conn := src.Peek(fasthttp.HeaderConnection)
	for k, v := range src.All() {
		if hopHeaders[b2s(k)] || (len(conn) > 0 && listedIn(conn, k)) {
			continue
		}
		dst.AddBytesKV(k, v)
	}
}

// isJSONish reports answers parsed for predictions: JSON, or no or a plain
// text type (servers that do not label their JSON); never event streams.
func isJSONish(ct []byte) bool {
	if len(ct) == 0 {
		return true
	}
	return bytes.Contains(ct, []byte("json")) || bytes.HasPrefix(ct, []byte("text/plain"))
}

func isCSV(ct []byte) bool {
	if !containsFold(ct, "csv") {
		return false
	}
	if bytes.HasPrefix(ct, []byte("text/csv")) {
		return true
	}
	mt, _, err := mime.ParseMediaType(string(ct))
	return err == nil && (mt == "text/csv" || mt == "application/csv")
}

// containsFold reports whether b contains the lower-case ASCII word w in
// any case, without allocating.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		if strings.EqualFold(b2s(b[i:i+len(w)]), w) {
			return true
		}
	}
	return false
}

// listedIn reports whether header name k is a token of a Connection header
// value (other than the usual close and keep-alive).
func listedIn(conn, k []byte) bool {
	for len(conn) > 0 {
		tok := conn
		if i := bytes.IndexByte(conn, ','); i >= 0 {
			tok, conn = conn[:i], conn[i+1:]
		} else {
			conn = nil
		}
		if bytes.EqualFold(bytes.TrimSpace(tok), k) {
			return true
		}
	}
	return false
}
