package exporter

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The upstream client: connections come from a small pool (pool below) and
// each exchange writes the request with fasthttp's Request.Write and reads
// the answer with fasthttp's Response.ReadLimitBody, which consumes 1xx
// informational replies (never taken as final) and parses the framing
// (Content-Length, chunked with trailers, read-to-close). No HTTP parsing
// is written here. What the pool adds is what fasthttp's HostClient does
// not give a proxy:
//
//   - a connection is reused only when its answer was read to its end and
//     nothing is left after it: not in the bufio.Reader (Buffered() == 0)
//     and not on the socket (a non-blocking MSG_PEEK when it is taken from
//     the pool, which also drops connections the upstream closed while
//     idle);
//   - a request is retried (once, on a new connection) only when not one
//     byte of it was accepted by the socket of a reused connection;
//   - the exchange can be cancelled at any time by closing its connection
//     (the client went away, see watch.go);
//   - idle connections are closed by a timer after Config.IdleConnTimeout.

// upConn is one upstream connection with its buffers.
type upConn struct {
	c        net.Conn
	cw       countingConn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleAt   time.Time
	deadline time.Time // of the last exchange; left set while idle
	reused   bool
	peek     *sockPeeker // on the TCP connection (under TLS, if any)
}

// countingConn counts bytes the socket accepted for the current request.
type countingConn struct {
	net.Conn
	n int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n += int64(n)
	return n, err
}

// upstreamBufSize is the read and write buffer of an upstream connection;
// the read buffer also bounds an answer's header block.
const upstreamBufSize = 16 << 10

// pool holds idle upstream connections (most recently used first).
type pool struct {
	cfg  *resolved
	addr string
	tls  *tls.Config
	dial func(ctx context.Context, addr string) (net.Conn, error)

	mu       sync.Mutex
	idle     []*upConn
	cleaning bool
	closed   bool
}

func newPool(c *resolved) *pool {
	p := &pool{cfg: c, addr: c.base.Host}
	if _, _, err := net.SplitHostPort(p.addr); err != nil {
		if c.base.Scheme == "https" {
			p.addr = net.JoinHostPort(c.base.Hostname(), "443")
		} else {
			p.addr = net.JoinHostPort(c.base.Hostname(), "80")
		}
	}
	if c.base.Scheme == "https" {
		if c.TLSClientConfig != nil {
			p.tls = c.TLSClientConfig.Clone()
		} else {
			p.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		p.tls.NextProtos = []string{"http/1.1"}
		if p.tls.ServerName == "" {
			p.tls.ServerName = c.base.Hostname()
		}
	}
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	p.dial = func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
	return p
}

// get returns an idle connection that is still clean, or dials a new one.
func (p *pool) get(deadline time.Time, x *exchange) (*upConn, error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if uc.deadline.Before(time.Now().Add(time.Second)) {
			// A passed deadline would stop the peek, which would then report
			// a quiet socket unseen: clear it (it is left set while idle to
			// save two timer updates per request), also when it is about to
			// pass between this check and the peek.
			_ = uc.c.SetReadDeadline(time.Time{})
		}
		if quiet, _ := uc.peek.state(); quiet {
			uc.reused = true
			return uc, nil
		}
		// Data or EOF on an idle connection: stale bytes or a close.
		_ = uc.c.Close()
	}
	return p.dialConn(deadline, x)
}

// dialConn connects (and shakes hands, for https) by deadline; the
// client's departure (x's watch) cancels it.
func (p *pool) dialConn(deadline time.Time, x *exchange) (*upConn, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if !x.dialing(cancel) {
		return nil, errClientGone
	}
	defer x.dialing(nil)
	c, err := p.dial(ctx, p.addr)
	if err != nil {
		return nil, fmt.Errorf("dial upstream: %w", err)
	}
	uc := &upConn{peek: newSockPeeker(c)}
	if p.tls != nil {
		tc := tls.Client(c, p.tls)
		_ = tc.SetDeadline(deadline)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("upstream TLS handshake: %w", err)
		}
		c = tc
	}
	uc.c = c
	uc.cw.Conn = c
	uc.br = bufio.NewReaderSize(c, upstreamBufSize)
	uc.bw = bufio.NewWriterSize(&uc.cw, upstreamBufSize)
	return uc, nil
}

// put returns a connection whose answer was read to its end.
func (p *pool) put(uc *upConn) {
	if uc.br.Buffered() != 0 {
		// Bytes after the answer: never reused (they are no one's answer).
		_ = uc.c.Close()
		return
	}
	uc.idleAt = time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = uc.c.Close()
		return
	}
	p.idle = append(p.idle, uc)
	start := !p.cleaning
	p.cleaning = true
	p.mu.Unlock()
	if start {
		go p.clean()
	}
}

// clean closes connections idle longer than IdleConnTimeout; it runs while
// the pool holds idle connections.
func (p *pool) clean() {
	every := max(p.cfg.IdleConnTimeout/4, 10*time.Millisecond)
	for {
		time.Sleep(every)
		cutoff := time.Now().Add(-p.cfg.IdleConnTimeout)
		var old []*upConn
		p.mu.Lock()
		// Oldest first: idle is ordered by return time.
		i := 0
		for i < len(p.idle) && p.idle[i].idleAt.Before(cutoff) {
			i++
		}
		if i > 0 {
			old = append(old, p.idle[:i]...)
			n := copy(p.idle, p.idle[i:])
			clear(p.idle[n:])
			p.idle = p.idle[:n]
		}
		done := len(p.idle) == 0
		if done {
			p.cleaning = false
		}
		p.mu.Unlock()
		for _, uc := range old {
			_ = uc.c.Close()
		}
		if done {
			return
		}
	}
}

// closeIdle closes every pooled connection; with final, later puts close
// their connection too.
func (p *pool) closeIdle(final bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if final {
		p.closed = true
	}
	p.mu.Unlock()
	for _, uc := range idle {
		_ = uc.c.Close()
	}
}

// errUnsolicited101 is a 101 answer to a request that asked for no upgrade.
var errUnsolicited101 = errors.New("unsolicited 101 Switching Protocols answer")

// roundTrip sends req on a pooled or new connection and reads the answer's
// header into resp, whose body is left as a stream (resp.BodyStream) on
// uc, which the caller must finish with x.finish. x receives the connection
// so that the exchange can be cancelled by closing it.
func (e *Exporter) roundTrip(x *exchange, req *fasthttp.Request, resp *fasthttp.Response, head bool) error {
	deadline := time.Now().Add(e.cfg.Timeout)
	for attempt := 0; ; attempt++ {
		uc, err := e.pool.get(deadline, x)
		if err != nil {
			return err
		}
		if !x.attach(uc) {
			_ = uc.c.Close()
			return errClientGone
		}
		_ = uc.c.SetDeadline(deadline)
		uc.deadline = deadline
		uc.cw.n = 0
		err = req.Write(uc.bw)
		if err == nil {
			err = uc.bw.Flush()
		}
		if err != nil {
			x.detach(false)
			if uc.reused && uc.cw.n == 0 && attempt == 0 && !x.gone.Load() {
				continue // nothing of it reached the upstream: safe to retry
			}
			return fmt.Errorf("write request: %w", err)
		}
		resp.StreamBody = true
		resp.SkipBody = head
		// An answer without a Content-Type must reach the client without
		// one, not with fasthttp's default text/plain (a 304 would retype a
		// cached JSON answer). Reset clears the flag, so set it each time.
		resp.Header.SetNoDefaultContentType(true)
		if err := resp.ReadLimitBody(uc.br, 0); err != nil {
			x.detach(false)
			return fmt.Errorf("read response: %w", err)
		}
		if resp.StatusCode() == fasthttp.StatusSwitchingProtocols {
			x.detach(false)
			return errUnsolicited101
		}
		x.reusable = !resp.ConnectionClose() && resp.Header.ContentLength() != -2
		return nil
	}
}
