//go:build !unix

package loadgen

import "net"

// rawIO reads and writes through net.Conn on platforms without raw access.
type rawIO struct {
	conn net.Conn
}

func newRawIO(conn net.Conn) *rawIO { return &rawIO{conn: conn} }

func (r *rawIO) write(b []byte) (int, error) { return r.conn.Write(b) }

// Read implements io.Reader.
func (r *rawIO) Read(p []byte) (int, error) { return r.conn.Read(p) }
