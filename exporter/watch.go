package exporter

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Departed clients. fasthttp's server has no request context that ends when
// the client disconnects, so once a request has waited on the upstream for
// watchAfter, a timer looks at the client's socket (a non-blocking
// MSG_PEEK, peek_linux.go) and keeps looking, less and less often, until
// the exchange ends. A client that closed or reset its connection cancels
// the upstream exchange: its connection is closed, and the request is
// counted as code 499 with upstream_failures_total{cause="client_gone"}.
// Fast requests (the common case) never start a check. Requests served
// through Handler (net/http) are watched through their context instead.

const (
	watchAfter = 10 * time.Millisecond
	watchMax   = 200 * time.Millisecond
)

// errClientGone ends an exchange whose client went away.
var errClientGone = errors.New("client went away")

// exchange is one forwarded request's upstream side: its connection (so it
// can be cancelled) and the watch on its client. Exchanges are pooled.
type exchange struct {
	e        *Exporter
	mu       sync.Mutex
	uc       *upConn
	reusable bool
	gone     atomic.Bool

	watching   bool
	every      time.Duration
	timer      *time.Timer
	clientConn net.Conn     // fasthttp server: the client's connection
	client     *sockPeeker  // its socket, made on the first check
	ctxErr     func() error // net/http adapter: the request's context
	cancelDial func()       // set while a new upstream connection is dialed

	// Per-request buffers and messages, kept with the pooled exchange.
	uri  []byte
	body []byte
	buf  []byte
	req  fasthttp.Request
	resp fasthttp.Response
}

var exchangePool sync.Pool

func (e *Exporter) getExchange() *exchange {
	x, _ := exchangePool.Get().(*exchange)
	if x == nil {
		x = &exchange{}
		x.timer = time.AfterFunc(time.Hour, x.check)
		x.timer.Stop()
	}
	x.e = e
	x.reusable = false
	x.gone.Store(false)
	return x
}

func (x *exchange) release() {
	x.mu.Lock()
	x.watching = false
	x.clientConn, x.client, x.ctxErr = nil, nil, nil
	x.mu.Unlock()
	x.timer.Stop()
	x.detach(false)
	x.e = nil
	if cap(x.body) > maxPooledBuf || cap(x.buf) > maxPooledBuf {
		return // let the big buffers go
	}
	x.req.Reset()
	x.resp.Reset()
	exchangePool.Put(x)
}

// watch starts watching the client: through its socket, or through ctxErr
// when set.
func (x *exchange) watch(client net.Conn, ctxErr func() error) {
	x.mu.Lock()
	x.watching = true
	x.clientConn = client
	x.ctxErr = ctxErr
	x.every = watchAfter
	x.mu.Unlock()
	x.timer.Reset(watchAfter)
}

// check runs on the timer: it cancels the exchange when the client left.
func (x *exchange) check() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.watching {
		return
	}
	left := false
	if x.ctxErr != nil {
		left = x.ctxErr() != nil
	} else {
		if x.client == nil {
			// The body is in and the server does not read while the
			// handler runs: drop the body's read deadline, which would
			// stop the peek once passed.
			_ = x.clientConn.SetReadDeadline(time.Time{})
			x.client = newSockPeeker(x.clientConn)
		}
		// Data (a pipelined request) means the client is still there.
		quiet, data := x.client.state()
		left = !quiet && !data
	}
	if left {
		x.gone.Store(true)
		x.watching = false
		if x.uc != nil {
			_ = x.uc.c.Close() // cancels the exchange
		}
		if x.cancelDial != nil {
			x.cancelDial()
		}
		return
	}
	x.every = min(2*x.every, watchMax)
	x.timer.Reset(x.every)
}

// conn is the exchange's upstream connection, or nil.
func (x *exchange) conn() *upConn {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.uc
}

// dialing records the cancel function of a dial in progress (nil when it
// ended); false when the client already left.
func (x *exchange) dialing(cancel func()) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if cancel != nil && x.gone.Load() {
		return false
	}
	x.cancelDial = cancel
	return true
}

// attach records the connection of the exchange; false when the client
// already left.
func (x *exchange) attach(uc *upConn) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.gone.Load() {
		return false
	}
	x.uc = uc
	return true
}

// detach ends the use of the connection: back to the pool when reuse is
// set (the answer was read to its end) and the exchange was not cancelled,
// else closed.
func (x *exchange) detach(reuse bool) {
	x.mu.Lock()
	uc := x.uc
	x.uc = nil
	x.mu.Unlock()
	if uc == nil {
		return
	}
	if reuse && x.reusable && !x.gone.Load() {
		x.e.pool.put(uc)
		return
	}
	_ = uc.c.Close()
}
