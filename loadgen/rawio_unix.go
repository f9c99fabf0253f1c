//go:build unix

package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// rawIO reads a connection through its syscall.RawConn so that sending a
// request and waiting for its response cost one write and one read system
// call: the write happens inside the read callback, after the poller was
// armed, and the callback then yields to the poller instead of issuing a
// read that would only return EAGAIN (net.Conn.Read always tries it first).
type rawIO struct {
	rc      syscall.RawConn
	conn    net.Conn
	pending []byte // request bytes to write before the next read
	buf     []byte // backing store of pending

	fn   func(fd uintptr) bool // r.callback, bound once
	p    []byte                // the current Read's buffer
	n    int                   // and its result
	rerr error
}

func newRawIO(conn net.Conn) *rawIO {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return &rawIO{conn: conn}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return &rawIO{conn: conn}
	}
	r := &rawIO{rc: rc, conn: conn}
	r.fn = r.callback
	return r
}

// write queues b (copied: the caller may reuse it) to be written by the next
// Read, or writes it now when the connection has no raw access.
func (r *rawIO) write(b []byte) (int, error) {
	if r.rc == nil {
		return r.conn.Write(b)
	}
	r.buf = append(r.buf, b...)
	r.pending = r.buf
	return len(b), nil
}

// Read implements io.Reader.
func (r *rawIO) Read(p []byte) (int, error) {
	if r.rc == nil {
		return r.conn.Read(p)
	}
	r.p, r.n, r.rerr = p, 0, nil
	err := r.rc.Read(r.fn)
	n, rerr := r.n, r.rerr
	r.p = nil
	if err != nil {
		return 0, err
	}
	if r.pending != nil { // partial write: the socket buffer is full
		rest := r.pending
		r.pending, r.buf = nil, r.buf[:0]
		if rerr != nil {
			return 0, fmt.Errorf("write request: %w", rerr)
		}
		if _, err := r.conn.Write(rest); err != nil {
			return 0, fmt.Errorf("write request: %w", err)
		}
		return r.Read(p)
	}
	if rerr != nil {
		if n < 0 {
			n = 0
		}
		return n, fmt.Errorf("read: %w", rerr)
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// callback is the syscall.RawConn.Read function: it writes the pending
// request, then reads into r.p. It is bound once (r.fn) so that a Read
// allocates no closure.
func (r *rawIO) callback(fd uintptr) bool {
	if r.pending != nil {
		w, err := writeAll(int(fd), r.pending)
		r.pending = r.pending[w:]
		if err != nil || len(r.pending) > 0 {
			r.rerr = err
			return true // finish (or fail) the write outside the poller
		}
		r.pending, r.buf = nil, r.buf[:0]
		return false // the response cannot be there yet: wait for it
	}
	for {
		r.n, r.rerr = syscall.Read(int(fd), r.p)
		if r.rerr == syscall.EINTR {
			continue
		}
		break
	}
	return r.rerr != syscall.EAGAIN
}

// writeAll writes b to fd until done or EAGAIN.
func writeAll(fd int, b []byte) (int, error) {
	w := 0
	for w < len(b) {
		n, err := syscall.Write(fd, b[w:])
		if n > 0 {
			w += n
		}
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			if errors.Is(err, syscall.EAGAIN) {
				return w, nil
			}
			return w, err
		}
	}
	return w, nil
}
