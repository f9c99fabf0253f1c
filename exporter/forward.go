package exporter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxPooledBuf is the largest buffer kept in the pools.
const maxPooledBuf = 1 << 20

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// reqBuf holds a request body. The Transport may still be writing (and
// closes the body) after RoundTrip returned, so the buffer goes back to the
// pool only when the handler and every body reader are done with it.
type reqBuf struct {
	b    []byte
	refs atomic.Int32
}

var reqBufPool = sync.Pool{New: func() any { return &reqBuf{b: make([]byte, 0, 8<<10)} }}

func getReqBuf() *reqBuf {
	rb := reqBufPool.Get().(*reqBuf)
	rb.refs.Store(1)
	return rb
}

func (rb *reqBuf) release() {
	if rb.refs.Add(-1) == 0 && cap(rb.b) <= maxPooledBuf {
		rb.b = rb.b[:0]
		reqBufPool.Put(rb)
	}
}

// body returns a new reader over the buffer; closing it drops its reference.
func (rb *reqBuf) body() (io.ReadCloser, error) {
	rb.refs.Add(1)
	bb := &bufBody{rb: rb}
	bb.Reset(rb.b)
	return bb, nil
}

type bufBody struct {
	bytes.Reader
	rb     *reqBuf
	closed atomic.Bool
}

func (b *bufBody) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		b.rb.release()
	}
	return nil
}

// emptyUA keeps the Transport from adding its own User-Agent.
var emptyUA = []string{""}

// passLimit is the largest non-inference answer buffered before it is sent
// (so that a broken upstream still gets a clean 502); larger ones stream.
const passLimit = 256 << 10

// forward sends r (with uri as its request target) to the upstream and
// copies the answer back. predict marks inference calls, whose rows and
// predictions are counted. It returns the status recorded and whether the
// response must be aborted.
func (e *Exporter) forward(w http.ResponseWriter, r *http.Request, uri string, predict bool) (int, bool) {
	if r.ContentLength > e.cfg.MaxBody {
		return e.tooLarge(w), false
	}
	// The body has BodyTimeout to arrive, and the buffer grows only with
	// bytes actually read.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(e.cfg.BodyTimeout))
	rb := getReqBuf()
	defer rb.release()
	var full bool
	var err error
	rb.b, full, err = readBody(rb.b, r.Body, e.cfg.MaxBody)
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		w.Header().Set("Connection", "close")
		if isTimeout(err) {
			e.m.slowBody.Inc()
			e.writeError(w, http.StatusRequestTimeout, ReasonBodyTimeout,
				fmt.Sprintf("request body not received within %s", e.cfg.BodyTimeout))
			return http.StatusRequestTimeout, false
		}
		e.writeError(w, http.StatusBadRequest, "", "incomplete request body")
		return http.StatusBadRequest, false
	}
	if !full {
		return e.tooLarge(w), false
	}
	if predict {
		e.accountRequest(rb.b, r.Header)
	}

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	timer := time.AfterFunc(e.cfg.Timeout, func() { cancel(errUpstreamTimeout) })
	defer timer.Stop()
	x := newExchange()
	out := e.outRequest(httptrace.WithClientTrace(ctx, &x.trace), r, uri, rb)

	start := time.Now()
	resp, err := e.rt.RoundTrip(out)
	if err != nil {
		return e.fail(w, r, ctx, err), false
	}
	defer resp.Body.Close() // unread bytes: the Transport closes the connection
	if x.stale.Load() {
		return e.fail(w, r, ctx, errStaleAnswer), false
	}
	if resp.StatusCode < 200 {
		// 1xx are consumed by the Transport; a 101 was not asked for.
		return e.fail(w, r, ctx, fmt.Errorf("unsolicited %d response", resp.StatusCode)), false
	}

	h := w.Header()
	copyHeader(h, resp.Header)
	ct := resp.Header["Content-Type"]
	stream := resp.ContentLength < 0 || (len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream"))
	parse := predict && resp.StatusCode/100 == 2 && resp.Header["Content-Encoding"] == nil && isJSONish(ct)
	limit := int64(passLimit)
	if predict {
		limit = e.respLimit
	}

	respBP := bufPool.Get().(*[]byte)
	buf := *respBP
	defer func() { putBuf(respBP, buf) }()

	if !stream && resp.ContentLength <= limit {
		// Known, bounded length: read it all first, so a broken upstream
		// still gets a clean error status.
		var ferr error
		buf, _, ferr = readBody(buf, resp.Body, limit)
		if ferr != nil {
			return e.fail(w, r, ctx, fmt.Errorf("read response body: %w", ferr)), false
		}
		e.m.upDur.Observe(time.Since(start).Seconds())
		if r.Method == http.MethodHead {
			h["Content-Length"] = contentLength(int(resp.ContentLength))
		} else if bodyAllowed(resp.StatusCode) {
			h["Content-Length"] = contentLength(len(buf))
		}
		w.WriteHeader(resp.StatusCode)
		if len(buf) > smallWrite {
			// A client that does not read must not hold its slot forever.
			_ = rc.SetWriteDeadline(time.Now().Add(e.cfg.Timeout))
			defer rc.SetWriteDeadline(time.Time{})
		}
		if len(buf) > 0 {
			_, _ = w.Write(buf)
		}
		if parse {
			e.accountAnswer(buf)
		}
		return resp.StatusCode, false
	}

	// Streamed: unknown length (chunked, server-sent events) or larger than
	// the buffer. Each read is passed on at once, flushed when the length is
	// unknown; Timeout then bounds the wait for each next read.
	if resp.ContentLength >= 0 {
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	}
	w.WriteHeader(resp.StatusCode)
	wd := e.writeDeadline(rc)
	defer wd.Stop()
	flush := resp.ContentLength < 0
	if flush {
		_ = rc.Flush()
	}
	var capture []byte
	if parse && resp.ContentLength < 0 {
		capture = make([]byte, 0, 4<<10)
	}
	buf = buf[:cap(buf)]
	werr, rerr := streamBody(w, resp.Body, buf, flush, timer, e.cfg.Timeout, wd.renew, &capture, e.respLimit)
	buf = buf[:0]
	e.m.upDur.Observe(time.Since(start).Seconds())
	switch {
	case r.Context().Err() != nil || werr != nil:
		e.m.failure[CauseClientGone].Inc()
		return clientGone, false
	case rerr != nil:
		cause := causeOf(rerr)
		if context.Cause(ctx) == errUpstreamTimeout {
			cause = CauseTimeout
		}
		e.m.failure[cause].Inc()
		e.log.printf(e, "upstream %s while streaming %s: %v", cause, uri, rerr)
		return resp.StatusCode, true
	}
	if capture != nil {
		e.accountAnswer(capture)
	}
	return resp.StatusCode, false
}

// smallWrite is what fits in net/http's response buffer: writing it never
// blocks on the client.
const smallWrite = 4 << 10

// writeDeadline keeps a write deadline on the client connection while an
// answer streams: renew (called by streamBody before every write) sets it
// Timeout from now, Stop clears it for the next request on the connection.
type writeDeadline struct {
	rc      *http.ResponseController
	timeout time.Duration
}

func (e *Exporter) writeDeadline(rc *http.ResponseController) writeDeadline {
	return writeDeadline{rc: rc, timeout: e.cfg.Timeout}
}

func (d writeDeadline) renew() { _ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) }
func (d writeDeadline) Stop()  { _ = d.rc.SetWriteDeadline(time.Time{}) }

// outRequest builds the upstream request: same method, the given target,
// the client's end-to-end headers, the buffered body.
func (e *Exporter) outRequest(ctx context.Context, r *http.Request, uri string, rb *reqBuf) *http.Request {
	base := e.cfg.base
	u := &url.URL{Scheme: base.Scheme, Host: base.Host}
	path, query, hasQuery := strings.Cut(uri, "?")
	if strings.HasPrefix(path, "//") {
		// Opaque "//..." would be sent in absolute form.
		u.Path, _ = url.PathUnescape(path)
		u.RawPath = path
	} else {
		u.Opaque = path
	}
	u.RawQuery = query
	u.ForceQuery = hasQuery && query == ""
	out := &http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(r.Header)+1),
		Host:       base.Host,
	}
	out = out.WithContext(ctx)
	copyHeader(out.Header, r.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = emptyUA
	}
	// The Transport would retry a written request carrying an idempotency
	// key after a broken connection; the proxy retries only requests of
	// which nothing was written. Header names are case-insensitive on the
	// wire, but the Transport looks up the canonical key only.
	for _, k := range [...]string{"Idempotency-Key", "X-Idempotency-Key"} {
		if v, ok := out.Header[k]; ok {
			delete(out.Header, k)
			out.Header[strings.ToLower(k)] = v
		}
	}
	if len(rb.b) > 0 {
		out.ContentLength = int64(len(rb.b))
		out.Body, _ = rb.body()
		out.GetBody = rb.body // a retry (only when nothing was written) re-reads it
	}
	return out
}

// accountRequest counts what an inference request body carries (rows, and
// whatever else metrics.request observes).
func (e *Exporter) accountRequest(body []byte, h http.Header) {
	e.m.request(body, isCSV(h))
}

// accountAnswer counts what an inference answer carries (predictions).
func (e *Exporter) accountAnswer(body []byte) {
	e.m.answer(body)
}

// isJSONish reports answers parsed for predictions: JSON, or no or a plain
// text type (servers that do not label their JSON); never event streams.
func isJSONish(ct []string) bool {
	if len(ct) == 0 {
		return true
	}
	c := ct[0]
	return strings.Contains(c, "json") || strings.HasPrefix(c, "text/plain")
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// smallLengths holds shared, read-only Content-Length header values for
// small bodies, saving two allocations per response.
var smallLengths = func() [][]string {
	t := make([][]string, 4096)
	for i := range t {
		t[i] = []string{strconv.Itoa(i)}
	}
	return t
}()

func contentLength(n int) []string {
	if n >= 0 && n < len(smallLengths) {
		return smallLengths[n]
	}
	return []string{strconv.Itoa(n)}
}

func isCSV(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 || !strings.Contains(strings.ToLower(ct[0]), "csv") {
		return false
	}
	if strings.HasPrefix(ct[0], "text/csv") {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct[0])
	return err == nil && (mt == "text/csv" || mt == "application/csv")
}
