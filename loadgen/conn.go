package loadgen

import (
	"net"
	"sync/atomic"
	"time"
)

// conn is the net.Conn a fastSession hands fasthttp. It keeps the per-request
// deadline without timer churn, records what the current request saw (for
// the stale keep-alive retry and error classification) and, on unix, sends
// the request from inside the response read (rawIO: one write and one read
// system call per request).
type conn struct {
	net.Conn
	rio      *rawIO
	timeout  time.Duration
	deadline time.Time
	aborted  *atomic.Bool

	reading  bool  // a Read happened since the last Write: the next Write starts a request
	requests int   // requests started on this connection
	readN    int   // response bytes read for the current request
	lastErr  error // the current request's last read or write error
}

func newConn(nc net.Conn, timeout time.Duration, aborted *atomic.Bool) *conn {
	return &conn{Conn: nc, rio: newRawIO(nc), timeout: timeout, aborted: aborted, reading: true}
}

// Write implements net.Conn. The first Write of a request moves the deadline
// when less than 90% of the timeout is left (moving it costs a timer update;
// each request gets 0.9–1× the timeout).
func (c *conn) Write(b []byte) (int, error) {
	if c.reading {
		c.reading = false
		c.requests++
		c.readN = 0
		c.lastErr = nil
		if t := c.timeout; t > 0 {
			now := time.Now()
			if c.deadline.Sub(now) < t-t/10 {
				c.deadline = now.Add(t)
				if err := c.Conn.SetDeadline(c.deadline); err != nil {
					c.lastErr = err
					return 0, err
				}
			}
		}
		if c.aborted.Load() { // abort may have raced with the deadline move
			c.Conn.SetDeadline(time.Unix(1, 0))
			return 0, errAborted
		}
	}
	n, err := c.rio.write(b)
	if err != nil {
		c.lastErr = err
	}
	return n, err
}

// Read implements net.Conn.
func (c *conn) Read(b []byte) (int, error) {
	c.reading = true
	n, err := c.rio.Read(b)
	c.readN += n
	if err != nil {
		c.lastErr = err
	}
	return n, err
}

// SetDeadline, SetReadDeadline and SetWriteDeadline are no-ops: the conn
// owns the deadline (see Write). fasthttp runs without timeouts of its own,
// but clears the deadlines of a new connection after the request is written,
// which would drop the first request's timeout.
func (c *conn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline is a no-op; see SetDeadline.
func (c *conn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline is a no-op; see SetDeadline.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }
