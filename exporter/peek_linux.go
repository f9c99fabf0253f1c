package exporter

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// sockPeeker looks at a socket without consuming anything: a non-blocking
// recv with MSG_PEEK. Its callback is made once, so a peek allocates nothing.
type sockPeeker struct {
	raw syscall.RawConn
	buf [1]byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func newSockPeeker(c net.Conn) *sockPeeker {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &sockPeeker{raw: raw}
	p.fn = p.peek
	return p
}

func (p *sockPeeker) peek(fd uintptr) bool {
	p.n, _, p.err = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return true
}

// state reports what the socket holds: nothing (quiet: the peer is there
// and sent nothing), data, or a close (EOF or an error such as a reset).
func (p *sockPeeker) state() (quiet, data bool) {
	if p == nil {
		return true, false
	}
	if err := p.raw.Read(p.fn); err != nil {
		// A passed read deadline says nothing about the peer.
		return errors.Is(err, os.ErrDeadlineExceeded), false
	}
	switch {
	case p.err == nil && p.n > 0:
		return false, true
	case p.err == nil: // n == 0: EOF
		return false, false
	case errors.Is(p.err, syscall.EAGAIN) || errors.Is(p.err, syscall.EWOULDBLOCK) || errors.Is(p.err, syscall.EINTR):
		return true, false
	}
	return false, false
}
