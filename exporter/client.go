package exporter

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// upstreamClient is a minimal HTTP/1.1 client for one upstream host. It keeps
// a pool of keep-alive connections and does the whole exchange on the
// caller's goroutine: unlike http.Transport there is no read/write goroutine
// pair per connection and no channel hand-off per request, which is most of
// the proxy's cost when it shares a small machine with its upstream. Request
// bodies are always fully buffered (the proxy needs them anyway), so every
// request carries a Content-Length; responses are parsed by
// http.ReadResponse, which handles Content-Length, chunked and
// close-delimited bodies.
type upstreamClient struct {
	addr    string // host:port to dial
	host    string // Host header value
	tlsConf *tls.Config
	dialer  net.Dialer

	mu      sync.Mutex
	idle    []*pconn
	maxIdle int
	closed  bool
}

// pconn is one pooled upstream connection.
type pconn struct {
	c         net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	scratch   [20]byte // number formatting without escaping to the heap
}

// maxIdleTime is how long a pooled connection may stay unused before it is
// closed instead of reused (as http.Transport's IdleConnTimeout).
const maxIdleTime = 90 * time.Second

// dialError marks a failure to connect (cause "refused", or "timeout" when
// the dial itself timed out).
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect to upstream: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func newUpstreamClient(scheme, hostport string, connectTimeout time.Duration, tlsConf *tls.Config) *upstreamClient {
	c := &upstreamClient{host: hostport, maxIdle: 512}
	c.dialer = net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil { // no port
		host, port = hostport, "80"
		if scheme == "https" {
			port = "443"
		}
	}
	if len(host) > 0 && host[0] == '[' { // bare IPv6 literal without port
		host = host[1 : len(host)-1]
	}
	c.addr = net.JoinHostPort(host, port)
	if scheme == "https" {
		// ALPN offers http/1.1 only: the proxy speaks HTTP/1.1 upstream.
		if tlsConf != nil {
			c.tlsConf = tlsConf.Clone()
		} else {
			c.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if c.tlsConf.ServerName == "" {
			c.tlsConf.ServerName = host
		}
		c.tlsConf.NextProtos = []string{"http/1.1"}
	}
	return c
}

// get returns a pooled connection (reused true) or, when there is none or
// fresh is set, a new one.
func (c *upstreamClient) get(ctx context.Context, deadline time.Time, fresh bool) (*pconn, bool, error) {
	for !fresh {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			break
		}
		pc := c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if time.Since(pc.idleSince) > maxIdleTime {
			pc.c.Close()
			continue
		}
		return pc, true, nil
	}
	pc, err := c.dial(ctx, deadline)
	return pc, false, err
}

func (c *upstreamClient) dial(ctx context.Context, deadline time.Time) (*pconn, error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := c.dialer.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		return nil, &dialError{err}
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if c.tlsConf != nil {
		tconn := tls.Client(conn, c.tlsConf)
		if err := tconn.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, &dialError{fmt.Errorf("TLS handshake: %w", err)}
		}
		conn = tconn
	}
	return &pconn{c: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 16<<10)}, nil
}

// release returns pc to the pool when reusable, else closes it.
func (c *upstreamClient) release(pc *pconn, reusable bool) {
	if reusable {
		c.mu.Lock()
		if !c.closed && len(c.idle) < c.maxIdle {
			pc.idleSince = time.Now()
			c.idle = append(c.idle, pc)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
	pc.c.Close()
}

// closeIdle closes pooled connections and stops pooling new ones.
func (c *upstreamClient) closeIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}

// Static requests handed to http.ReadResponse (it only reads Method) so the
// common methods do not allocate one per exchange.
var methodReqs = func() map[string]*http.Request {
	m := map[string]*http.Request{}
	for _, name := range methodNames[:len(methodNames)-1] {
		m[name] = &http.Request{Method: name}
	}
	return m
}()

// do sends one request and returns the response with its body unread; the
// caller must read the body and then call release(pc, reusable). A reused
// connection that turns out to be closed by the upstream before answering
// (the upstream's keep-alive timeout ran out while it sat in the pool) is
// retried once on a new connection: the upstream did not process it.
func (c *upstreamClient) do(ctx context.Context, method, uri string, hdr http.Header, body []byte, deadline time.Time) (*http.Response, *pconn, error) {
	for attempt := 0; ; attempt++ {
		pc, reused, err := c.get(ctx, deadline, attempt > 0)
		if err != nil {
			return nil, nil, err
		}
		resp, err := c.exchange(pc, method, uri, hdr, body, deadline)
		if err == nil {
			return resp, pc, nil
		}
		pc.c.Close()
		if reused && attempt == 0 && errors.Is(err, errStale) {
			continue
		}
		return nil, nil, err
	}
}

// errStale reports a reused connection the upstream closed while idle.
var errStale = errors.New("upstream closed idle connection")

func (c *upstreamClient) exchange(pc *pconn, method, uri string, hdr http.Header, body []byte, deadline time.Time) (*http.Response, error) {
	if err := pc.c.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	bw := pc.bw
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(c.host)
	bw.WriteString("\r\n")
	for k, vv := range hdr {
		if skipRequestHeader(k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(pc.scratch[:0], int64(len(body)), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
	if err := bw.Flush(); err != nil {
		bw.Reset(pc.c)
		if isTimeout(err) {
			return nil, fmt.Errorf("write request: %w", err)
		}
		return nil, fmt.Errorf("write request: %w: %w", errStale, err)
	}
	if _, err := pc.br.Peek(1); err != nil {
		if isTimeout(err) {
			return nil, fmt.Errorf("read response: %w", err)
		}
		return nil, fmt.Errorf("read response: %w: %w", errStale, err)
	}
	req := methodReqs[method]
	if req == nil {
		req = &http.Request{Method: method}
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return resp, nil
}

// skipRequestHeader reports headers the proxy does not forward: hop-by-hop
// headers, and those it writes itself.
func skipRequestHeader(k string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Connection",
		"Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Authorization", "Expect":
		return true
	}
	return false
}

// skipResponseHeader reports response headers the proxy does not copy back.
func skipResponseHeader(k string) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Connection",
		"Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Authenticate":
		return true
	}
	return false
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// causeOf classifies an upstream error.
func causeOf(err error) string {
	if isTimeout(err) {
		return CauseTimeout
	}
	var de *dialError
	if errors.As(err, &de) {
		return CauseRefused
	}
	return CauseBadResponse
}

// readBody reads r into buf (growing it as needed), at most limit+1 bytes.
// full is true when r hit EOF within limit bytes; otherwise b holds limit+1
// bytes and the rest is unread. sizeHint (a Content-Length, or -1) presizes b.
func readBody(buf []byte, r io.Reader, limit, sizeHint int64) (b []byte, full bool, err error) {
	b = buf[:0]
	if sizeHint > 0 && sizeHint <= limit && int64(cap(b)) < sizeHint+1 {
		b = make([]byte, 0, sizeHint+1)
	}
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
