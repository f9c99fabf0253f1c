package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// session sends requests over one worker's connection. A session is used by
// one goroutine; abort may be called from another to interrupt it.
type session interface {
	// do sends the valid (invalid=false) or invalid request and reads the
	// whole response, returning its status code.
	do(invalid bool) (status int, err error)
	// use makes body the valid request's body from the next do on (the
	// slice is sent as is, not copied).
	use(body []byte)
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

// newClient picks the client for cfg: fasthttp for http:// targets unless
// cfg.StdClient is set, net/http otherwise (https, or when asked for).
//
// Why fasthttp for http:// (docs/bench-load.md, alternating rounds against
// the same upstream on a shared 2-core machine): net/http reaches ~0.5×
// wrk's rate at ~3× its CPU per request; fasthttp reaches 0.82–0.96× wrk's
// rate (median of 7–9 rounds per run), 0.94–0.95× the rate of the
// hand-written HTTP/1.1 client it replaced, which was not worth keeping a
// private HTTP parser for.
func newClient(ctx context.Context, cfg *Config, u *url.URL, reqs [2]request) (client, error) {
	if u.Scheme == "http" && !cfg.StdClient {
		return newFastClient(ctx, cfg, u, reqs), nil
	}
	return newStdClient(ctx, cfg, u, reqs)
}

func dialTimeout(t time.Duration) time.Duration {
	if t <= 0 || t > 10*time.Second {
		return 10 * time.Second
	}
	return t
}

// errProtocol marks a malformed or unexpected response.
var errProtocol = errors.New("malformed HTTP response")

// errUpgrade is the answer to a 101 Switching Protocols reply: the load
// generator never asks for an upgrade, so a 101 is not a final response it
// can count as a success, and the connection no longer speaks HTTP/1.1.
var errUpgrade = fmt.Errorf("%w: 101 Switching Protocols to a request that asked for no upgrade", errProtocol)

var errAborted = errors.New("aborted")

// ---- fasthttp client ------------------------------------------------------

// Response bodies are buffered in each session's reused fasthttp.Response:
// no allocation per request. Streaming every body to io.Discard would bound
// memory for any size but cost ~13% more CPU per request (4 allocations,
// docs/bench-load.md), so a session switches to streaming only after its
// first body larger than streamAbove; a body larger than maxBufferedBody
// while still buffering fails that request instead of being held.
var (
	streamAbove     = 1 << 20
	maxBufferedBody = 64 << 20
)

// fastClient sends through fasthttp. Each session owns a fasthttp.HostClient
// limited to one connection, so a worker keeps its own keep-alive connection
// (as wrk does), no pool lock is shared between workers, and a connection
// that answered 101 can be closed without touching the others.
type fastClient struct {
	ctx  context.Context
	cfg  *Config
	u    *url.URL
	addr string
	reqs [2]request
}

func newFastClient(ctx context.Context, cfg *Config, u *url.URL, reqs [2]request) *fastClient {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &fastClient{ctx: ctx, cfg: cfg, u: u, addr: addr, reqs: reqs}
}

func (c *fastClient) closeIdle() {}

// fastSession is one worker's HostClient and its two prepared requests.
type fastSession struct {
	c       *fastClient
	hc      *fasthttp.HostClient
	reqs    [2]*fasthttp.Request
	resp    *fasthttp.Response
	cur     atomic.Pointer[conn] // the connection of the current request
	aborted atomic.Bool
}

func (c *fastClient) newSession() session {
	s := &fastSession{c: c, resp: &fasthttp.Response{}}
	dialer := net.Dialer{Timeout: dialTimeout(c.cfg.Timeout), KeepAlive: 30 * time.Second}
	s.hc = &fasthttp.HostClient{
		Addr:     c.addr,
		Name:     UserAgent,
		MaxConns: 1,
		// Response heads up to 16 KiB (fasthttp's default is 4 KiB; net/http's 1 MiB).
		ReadBufferSize:                16 << 10,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		// Bodies are read into the session's reused buffer (no allocation
		// per request); see do for the streaming fallback.
		MaxResponseBodySize: maxBufferedBody,
		RetryIfErr:          s.retryIfErr,
		Dial: func(addr string) (net.Conn, error) {
			if s.aborted.Load() {
				return nil, errAborted
			}
			nc, err := dialer.DialContext(c.ctx, "tcp", addr)
			if err != nil {
				return nil, err // *net.OpError: "dial tcp ADDR: connect: ..."
			}
			cn := newConn(nc, c.cfg.Timeout, &s.aborted)
			s.cur.Store(cn)
			if s.aborted.Load() { // abort raced with the dial: make sure it sticks
				cn.Conn.SetDeadline(time.Unix(1, 0))
			}
			return cn, nil
		},
	}
	for i, r := range c.reqs {
		req := &fasthttp.Request{}
		req.SetRequestURI(c.u.String())
		req.Header.SetMethod(c.cfg.Method)
		req.Header.SetNoDefaultContentType(true)
		if r.contentType != "" && c.cfg.Headers.Get("Content-Type") == "" {
			req.Header.SetContentType(r.contentType)
		}
		for k, vs := range c.cfg.Headers {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		if c.cfg.Headers.Get("User-Agent") == "" {
			req.Header.SetUserAgent(UserAgent)
		}
		if len(r.body) > 0 || (c.cfg.Method != http.MethodGet && c.cfg.Method != http.MethodHead) {
			req.SetBodyRaw(r.body)
		}
		s.reqs[i] = req
	}
	return s
}

// retryIfErr retries once a request that failed on a reused keep-alive
// connection before any response byte arrived: the server closed the
// connection while it was idle, and the request never reached it. fasthttp
// alone retries only idempotent methods; the load generator's POSTs are safe
// to resend in exactly this case.
func (s *fastSession) retryIfErr(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	cn := s.cur.Load()
	if attempts != 1 || cn == nil || s.aborted.Load() || cn.requests < 2 || cn.readN > 0 {
		return false, false
	}
	return true, isStaleConnErr(err) || isStaleConnErr(cn.lastErr) || errors.Is(err, fasthttp.ErrConnectionClosed)
}

func (s *fastSession) do(invalid bool) (int, error) {
	if s.aborted.Load() {
		return 0, errAborted
	}
	k := 0
	if invalid {
		k = 1
	}
	resp := s.resp
	if err := s.hc.Do(s.reqs[k], resp); err != nil {
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			resp.StreamBody = true // later responses are streamed
			return 0, fmt.Errorf("%w: response body over %d MiB, not buffered; "+
				"this worker streams the following ones", errProtocol, maxBufferedBody>>20)
		}
		return 0, s.wrap(err)
	}
	if !resp.StreamBody && len(resp.Body()) > streamAbove {
		// A large body: stream this worker's next responses to io.Discard
		// instead of holding a buffer that size per worker.
		resp.StreamBody = true
		resp.ResetBody()
	}
	status := resp.StatusCode()
	if status == fasthttp.StatusSwitchingProtocols {
		s.hc.CloseIdleConnections()
		return 0, errUpgrade
	}
	if body := resp.BodyStream(); body != nil {
		_, err := io.Copy(io.Discard, body)
		if cerr := resp.CloseBodyStream(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("read body: %w", s.wrap(err))
		}
	}
	return status, nil
}

// wrap adds what the connection saw to a fasthttp error, so errorKind can
// tell a reset from a close and a timeout from a protocol error (fasthttp
// reports any failure on the first response byte as a closed connection).
func (s *fastSession) wrap(err error) error {
	if s.aborted.Load() {
		return errAborted
	}
	if cn := s.cur.Load(); cn != nil && cn.lastErr != nil && !errors.Is(err, cn.lastErr) {
		err = fmt.Errorf("%w (connection: %w)", err, cn.lastErr)
	}
	if errors.Is(err, fasthttp.ErrConnectionClosed) {
		err = fmt.Errorf("%w: %w", err, io.EOF)
	}
	if errorKind(err) == KindOther {
		// Everything else fasthttp reports while reading a response is a
		// malformed response: bad status line, invalid or duplicate
		// Content-Length, a broken chunk, an oversized header.
		err = fmt.Errorf("%w: %w", errProtocol, err)
	}
	return err
}

func (s *fastSession) use(body []byte) { s.reqs[0].SetBodyRaw(body) }

func (s *fastSession) abort() {
	s.aborted.Store(true)
	if cn := s.cur.Load(); cn != nil {
		cn.Conn.SetDeadline(time.Unix(1, 0))
	}
}

func (s *fastSession) close() { s.hc.CloseIdleConnections() }
