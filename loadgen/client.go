package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// session sends requests over one worker's connection. A session is used by
// one goroutine; abort may be called from another to interrupt it.
type session interface {
	// do sends the valid (invalid=false) or invalid request and reads the
	// whole response, returning its status code.
	do(invalid bool) (status int, err error)
	// abort interrupts an in-flight request and makes later ones fail fast.
	abort()
	// close releases the session's connection.
	close()
}

// client creates sessions for workers.
type client interface {
	newSession() session
	closeIdle()
}

// request is one prepared request body with its content type.
type request struct {
	body        []byte
	contentType string
}

// newClient picks the client for cfg: the raw HTTP/1.1 client for http://
// targets unless cfg.StdClient is set, net/http otherwise (https, or when
// asked for).
func newClient(ctx context.Context, cfg *Config, u *url.URL, reqs [2]request) (client, error) {
	if u.Scheme == "http" && !cfg.StdClient {
		return newFastClient(ctx, cfg, u, reqs), nil
	}
	return newStdClient(ctx, cfg, u, reqs)
}

// ---- raw HTTP/1.1 client -------------------------------------------------

// fastClient is a minimal HTTP/1.1 keep-alive client: each session owns one
// TCP connection, writes a pre-serialized request with a single write and
// parses the response head in place from a bufio.Reader, discarding the
// body. It speaks just enough HTTP/1.1 for a load generator: Content-Length,
// chunked and read-until-close bodies, 1xx interim responses, Connection:
// close, and a retry of requests that failed on a stale keep-alive
// connection before any response byte arrived.
type fastClient struct {
	ctx     context.Context
	addr    string
	dialer  net.Dialer
	timeout time.Duration
	raw     [2][]byte // serialized valid and invalid requests
	head    bool      // HEAD requests: responses carry no body
}

func newFastClient(ctx context.Context, cfg *Config, u *url.URL, reqs [2]request) *fastClient {
	host := u.Host
	addr := host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	c := &fastClient{
		ctx:     ctx,
		addr:    addr,
		dialer:  net.Dialer{Timeout: dialTimeout(cfg.Timeout), KeepAlive: 30 * time.Second},
		timeout: cfg.Timeout,
		head:    cfg.Method == http.MethodHead,
	}
	for i, r := range reqs {
		c.raw[i] = serializeRequest(cfg.Method, u, cfg.Headers, r)
	}
	return c
}

func dialTimeout(t time.Duration) time.Duration {
	if t <= 0 || t > 10*time.Second {
		return 10 * time.Second
	}
	return t
}

// serializeRequest renders the request bytes once; every send reuses them.
func serializeRequest(method string, u *url.URL, headers http.Header, r request) []byte {
	var b bytes.Buffer
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(u.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(u.Host)
	b.WriteString("\r\nUser-Agent: " + UserAgent + "\r\n")
	if r.contentType != "" && headers.Get("Content-Type") == "" {
		b.WriteString("Content-Type: " + r.contentType + "\r\n")
	}
	for k, vs := range headers {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	if len(r.body) > 0 || (method != http.MethodGet && method != http.MethodHead) {
		b.WriteString("Content-Length: " + strconv.Itoa(len(r.body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(r.body)
	return b.Bytes()
}

func (c *fastClient) newSession() session {
	return &fastSession{c: c}
}

func (c *fastClient) closeIdle() {}

// fastSession is one worker's connection.
type fastSession struct {
	c        *fastClient
	conn     net.Conn
	br       *bufReader
	rio      *rawIO
	reused   bool      // conn has carried a request before
	deadline time.Time // current conn deadline
	cur      atomic.Pointer[net.Conn]
	aborted  atomic.Bool
}

var errAborted = errors.New("aborted")

func (s *fastSession) abort() {
	s.aborted.Store(true)
	if p := s.cur.Load(); p != nil {
		(*p).SetDeadline(time.Unix(1, 0))
	}
}

func (s *fastSession) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
		s.cur.Store(nil)
	}
}

func (s *fastSession) dial() error {
	if s.aborted.Load() {
		return errAborted
	}
	conn, err := s.c.dialer.DialContext(s.c.ctx, "tcp", s.c.addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.c.addr, err)
	}
	s.conn = conn
	s.cur.Store(&conn)
	if s.aborted.Load() { // abort raced with the dial: make sure it sticks
		conn.SetDeadline(time.Unix(1, 0))
		return errAborted
	}
	s.rio = newRawIO(conn)
	if s.br == nil {
		s.br = newBufReader(s.rio, 16<<10)
	} else {
		s.br.Reset(s.rio)
	}
	s.reused = false
	s.deadline = time.Time{}
	return nil
}

func (s *fastSession) do(invalid bool) (int, error) {
	k := 0
	if invalid {
		k = 1
	}
	for attempt := 0; ; attempt++ {
		if s.conn == nil {
			if err := s.dial(); err != nil {
				return 0, err
			}
		}
		wasReused := s.reused
		status, keep, gotBytes, err := s.roundTrip(s.c.raw[k])
		if err == nil {
			s.reused = true
			if !keep {
				s.close()
			}
			return status, nil
		}
		s.close()
		if s.aborted.Load() {
			return 0, errAborted
		}
		// A keep-alive connection the server closed while idle fails on the
		// next request before any response byte: retry once on a fresh one.
		if wasReused && !gotBytes && attempt == 0 && isStaleConnErr(err) {
			continue
		}
		return status, err
	}
}

// roundTrip writes req and reads one complete response.
func (s *fastSession) roundTrip(req []byte) (status int, keep, gotBytes bool, err error) {
	if t := s.c.timeout; t > 0 {
		// Moving a deadline costs a timer update; refresh it only when less
		// than 90% of the timeout is left, so each request gets 0.9–1× timeout.
		now := time.Now()
		if s.deadline.Sub(now) < t-t/10 {
			s.deadline = now.Add(t)
			if err := s.conn.SetDeadline(s.deadline); err != nil {
				return 0, false, false, fmt.Errorf("set deadline: %w", err)
			}
		}
	}
	if err := s.rio.send(req); err != nil {
		return 0, false, false, err
	}
	br := s.br
	for {
		line, err := br.readLine()
		if err != nil {
			return 0, false, len(line) > 0, fmt.Errorf("read status line: %w", err)
		}
		gotBytes = true
		status, http11, perr := parseStatusLine(line)
		if perr != nil {
			return 0, false, true, perr
		}
		h, err := readHeaders(br)
		if err != nil {
			return status, false, true, err
		}
		if status >= 100 && status < 200 && status != 101 {
			continue // interim response; the final one follows
		}
		keep = http11
		if h.connClose {
			keep = false
		} else if h.connKeepAlive {
			keep = true
		}
		noBody := s.c.head || status == 204 || status == 304 || (status >= 100 && status < 200)
		switch {
		case noBody:
		case h.chunked:
			err = discardChunked(br)
		case h.contentLength >= 0:
			err = br.discard(h.contentLength)
		default:
			err = br.discardAll()
			keep = false
		}
		if err != nil {
			return status, false, true, fmt.Errorf("read body: %w", err)
		}
		return status, keep, true, nil
	}
}

// ---- response parsing ----------------------------------------------------

// errProtocol marks a malformed response.
var errProtocol = errors.New("malformed HTTP response")

func parseStatusLine(line []byte) (status int, http11 bool, err error) {
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errProtocol, truncate(line))
	}
	d0, d1, d2 := line[9]-'0', line[10]-'0', line[11]-'0'
	if d0 > 9 || d1 > 9 || d2 > 9 || (len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("%w: status line %q", errProtocol, truncate(line))
	}
	return int(d0)*100 + int(d1)*10 + int(d2), line[7] != '0', nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

type respHeaders struct {
	contentLength int64
	chunked       bool
	connClose     bool
	connKeepAlive bool
}

func readHeaders(br *bufReader) (respHeaders, error) {
	h := respHeaders{contentLength: -1}
	for {
		line, err := br.readLine()
		if err != nil {
			return h, fmt.Errorf("read headers: %w", err)
		}
		if len(line) == 0 {
			return h, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, fmt.Errorf("%w: header line %q", errProtocol, truncate(line))
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return h, fmt.Errorf("%w: Content-Length %q", errProtocol, truncate(value))
			}
			h.contentLength = n
		case equalFold(name, "transfer-encoding"):
			if containsFold(value, "chunked") {
				h.chunked = true
			}
		case equalFold(name, "connection"):
			if containsFold(value, "close") {
				h.connClose = true
			} else if containsFold(value, "keep-alive") {
				h.connKeepAlive = true
			}
		}
	}
}

func discardChunked(br *bufReader) error {
	for {
		line, err := br.readLine()
		if err != nil {
			return fmt.Errorf("chunk size: %w", err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errProtocol, truncate(line))
		}
		if size == 0 {
			for { // trailers up to the empty line
				l, err := br.readLine()
				if err != nil {
					return fmt.Errorf("chunk trailer: %w", err)
				}
				if len(l) == 0 {
					return nil
				}
			}
		}
		if err := br.discard(size); err != nil {
			return err
		}
		if l, err := br.readLine(); err != nil || len(l) != 0 {
			if err == nil {
				err = fmt.Errorf("%w: missing CRLF after chunk", errProtocol)
			}
			return err
		}
	}
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func containsFold(b []byte, lower string) bool {
	for i := 0; i+len(lower) <= len(b); i++ {
		if equalFold(b[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

// ---- net/http client -----------------------------------------------------

// stdClient sends through net/http, for https targets and as a reference.
// Its Transport is tuned for load generation: enough idle connections per
// host for every worker, no compression, no HTTP/2.
type stdClient struct {
	ctx  context.Context
	hc   *http.Client
	tr   *http.Transport
	u    *url.URL
	cfg  *Config
	reqs [2]request
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func newStdClient(ctx context.Context, cfg *Config, u *url.URL, reqs [2]request) (*stdClient, error) {
	conns := cfg.maxWorkers()
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: dialTimeout(cfg.Timeout), KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: cfg.Insecure}, //nolint:gosec // opt-in
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &stdClient{
		ctx:  ctx,
		hc:   &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: noRedirect},
		tr:   tr,
		u:    u,
		cfg:  cfg,
		reqs: reqs,
	}, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (c *stdClient) closeIdle() { c.tr.CloseIdleConnections() }

func (c *stdClient) newSession() session {
	s := &stdSession{c: c}
	for i, r := range c.reqs {
		body := r.body
		req, _ := http.NewRequestWithContext(c.ctx, c.cfg.Method, c.u.String(), nil)
		for k, vs := range c.cfg.Headers {
			req.Header[k] = vs
		}
		req.Header.Set("User-Agent", UserAgent)
		if r.contentType != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		s.reqs[i] = req
		s.readers[i] = bytes.NewReader(body)
		s.bodies[i] = body
	}
	return s
}

// stdSession reuses its two *http.Request values and body readers: a request
// may be reused once the previous response body is closed.
type stdSession struct {
	c       *stdClient
	reqs    [2]*http.Request
	readers [2]*bytes.Reader
	bodies  [2][]byte
}

func (s *stdSession) do(invalid bool) (int, error) {
	k := 0
	if invalid {
		k = 1
	}
	req := s.reqs[k]
	if len(s.bodies[k]) > 0 {
		s.readers[k].Reset(s.bodies[k])
		req.Body = io.NopCloser(s.readers[k])
	}
	resp, err := s.c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	bp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, *bp)
	copyBufs.Put(bp)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, nil
}

func (s *stdSession) abort() {} // the run context cancels in-flight requests
func (s *stdSession) close() {}
