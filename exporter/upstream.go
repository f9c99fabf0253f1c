package exporter

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"
)

// The upstream client is net/http's Transport. It was chosen by measurement
// and by semantics (docs/bench-exporter.md): valyala/fasthttp's HostClient
// cost ~8 µs less CPU per request here, but it cannot cancel an exchange
// when the client goes away (it has no context), which the proxy must do.
// The Transport gives the rest of the contract for free: 1xx replies are
// read and dropped before the final answer, a connection whose answer was
// not read to its end is closed rather than pooled, a non-replayable request
// (POST) is retried only when nothing of it was written, the request's
// context cancels the exchange, and idle connections are closed by a timer.
// One race of the Transport with bytes left after an answer is closed by
// trackedConn below.

// newTransport builds the HTTP/1.1 transport to the upstream.
func newTransport(c *resolved) *http.Transport {
	t := &http.Transport{
		DialContext: dialTracked((&net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second}).DialContext),
		// HTTP/1.1 only: an empty TLSNextProto disables HTTP/2.
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSHandshakeTimeout:    c.Timeout,
		MaxIdleConns:           DefaultMaxIdleConns,
		MaxIdleConnsPerHost:    DefaultMaxIdleConns,
		IdleConnTimeout:        c.IdleConnTimeout,
		DisableCompression:     true, // pass Accept-Encoding and bodies through untouched
		MaxResponseHeaderBytes: 1 << 20,
		WriteBufferSize:        16 << 10,
		ReadBufferSize:         16 << 10,
	}
	if c.base.Scheme == "https" {
		if c.TLSClientConfig != nil {
			t.TLSClientConfig = c.TLSClientConfig.Clone()
		} else {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return t
}

// hopHeaders are not forwarded in either direction (RFC 9110 7.6.1), nor are
// the ones the Transport or server write themselves.
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authorization": true, "Proxy-Authenticate": true,
	"Host": true, "Content-Length": true, "Expect": true,
}

// copyHeader copies src into dst without hop-by-hop headers and without the
// headers src's Connection header names. Values are shared, not copied.
func copyHeader(dst, src http.Header) {
	conn := src["Connection"]
	for k, vv := range src {
		if hopHeaders[k] || (len(conn) > 0 && listedIn(conn, k)) {
			continue
		}
		dst[k] = vv
	}
}

// listedIn reports whether header name k is a token of a Connection header.
func listedIn(conn []string, k string) bool {
	for _, v := range conn {
		for _, tok := range strings.Split(v, ",") {
			if textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(tok)) == k {
				return true
			}
		}
	}
	return false
}

// errUpstreamTimeout is the cancel cause when Config.Timeout ran out.
var errUpstreamTimeout = errors.New("upstream timeout")

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errUpstreamTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// causeOf classifies an upstream error: timeout, refused (no connection:
// dial, DNS or TLS handshake failed) or bad_response.
func causeOf(err error) string {
	if isTimeout(err) {
		return CauseTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return CauseRefused
	}
	var de *net.DNSError
	var re tls.RecordHeaderError
	var ce *tls.CertificateVerificationError
	var ae tls.AlertError
	if errors.As(err, &de) || errors.As(err, &re) || errors.As(err, &ce) || errors.As(err, &ae) ||
		strings.Contains(err.Error(), "tls: ") {
		return CauseRefused
	}
	return CauseBadResponse
}

// publicReason is the client-facing text of an upstream failure: no socket
// addresses or other internals (those go to the log).
func publicReason(err error, cause string, timeout time.Duration) string {
	switch cause {
	case CauseTimeout:
		return "upstream did not answer within " + timeout.String()
	case CauseRefused:
		var ce *tls.CertificateVerificationError
		if errors.As(err, &ce) || strings.Contains(err.Error(), "tls: ") || strings.Contains(err.Error(), "x509: ") {
			return "upstream TLS handshake failed"
		}
		return "upstream refused the connection (not reachable)"
	}
	return "upstream sent no valid answer (connection broken or malformed response)"
}

// readBody reads r into buf, growing it only as bytes arrive (never from a
// declared length), at most limit+1 bytes. full is true when r hit EOF
// within limit bytes; otherwise b holds limit+1 bytes and the rest is
// unread.
func readBody(buf []byte, r io.Reader, limit int64) (b []byte, full bool, err error) {
	b = buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		end := cap(b)
		if int64(end) > limit+1 {
			end = int(limit + 1)
		}
		n, err := r.Read(b[len(b):end])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b, false, nil
		}
		if err == io.EOF {
			return b, true, nil
		}
		if err != nil {
			return b, false, err
		}
	}
}

// streamBody copies src to w with buf, flushing after every read when
// flush is set (streamed answers reach the client as they arrive); idle is
// reset to idleTimeout after every read, and beforeWrite runs before every
// write (it renews the client's write deadline). Bytes
// are also appended to *capture while it stays within captureLimit (then
// capture is set to nil). It returns the write error, then the read error.
func streamBody(w http.ResponseWriter, src io.Reader, buf []byte, flush bool, idle *time.Timer, idleTimeout time.Duration, beforeWrite func(), capture *[]byte, captureLimit int64) (werr, rerr error) {
	rc := http.NewResponseController(w)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			idle.Reset(idleTimeout)
			beforeWrite()
			if _, werr = w.Write(buf[:n]); werr != nil {
				return werr, nil
			}
			if flush {
				if werr = rc.Flush(); werr != nil {
					return werr, nil
				}
			}
			if *capture != nil {
				if int64(len(*capture)+n) > captureLimit {
					*capture = nil
				} else {
					*capture = append(*capture, buf[:n]...)
				}
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// trackedConn is an upstream connection that can tell whether the first
// byte of an answer was read from the socket after the request was sent.
//
// It closes a race in net/http's Transport: when an upstream sends bytes
// after a complete answer (junk, a second answer, a Content-Length shorter
// than the body) in the same segment, they wait in the connection's read
// buffer; the connection goes back to the pool before the Transport peeks at
// them, and a request that takes it at that moment gets those stale bytes
// as its answer: another client's data. An answer to a request cannot start
// before that request was written, so an answer whose first byte was
// already buffered is stale: the connection is closed and the exchange
// fails as bad_response.
type trackedConn struct {
	net.Conn
	wrote atomic.Bool // the current request has started to be written
	fresh atomic.Bool // a socket read returned data after that
}

func (c *trackedConn) Write(p []byte) (int, error) {
	c.wrote.Store(true)
	return c.Conn.Write(p)
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.wrote.Load() {
		c.fresh.Store(true)
	}
	return n, err
}

// exchange follows one request's connection through httptrace hooks.
type exchange struct {
	conn  *trackedConn
	stale atomic.Bool
	trace httptrace.ClientTrace
}

func newExchange() *exchange {
	x := &exchange{}
	x.trace.GotConn = x.gotConn
	x.trace.GotFirstResponseByte = x.gotFirstByte
	return x
}

func (x *exchange) gotConn(info httptrace.GotConnInfo) {
	c := info.Conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if t, ok := c.(*trackedConn); ok {
		t.fresh.Store(false)
		t.wrote.Store(false)
		x.conn = t
	}
}

func (x *exchange) gotFirstByte() {
	if x.conn != nil && !x.conn.fresh.Load() {
		x.stale.Store(true)
		_ = x.conn.Close() // never reused, and the stale bytes go with it
	}
}

// errStaleAnswer reports an answer that was in the buffer before the request
// was sent (see trackedConn).
var errStaleAnswer = errors.New("answer bytes arrived before the request was sent (upstream sent data after a complete answer)")

// dialTracked wraps dial so that every connection is a trackedConn.
func dialTracked(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &trackedConn{Conn: c}, nil
	}
}
