//go:build !linux

package exporter

import "net"

// sockPeeker is a no-op outside Linux: idle upstream connections are
// assumed clean (the bufio.Reader check still applies) and departed
// clients are noticed only when writing their answer fails.
type sockPeeker struct{}

func newSockPeeker(net.Conn) *sockPeeker { return nil }

func (p *sockPeeker) state() (quiet, data bool) { return true, false }
