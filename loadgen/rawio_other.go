//go:build !unix

package loadgen

import (
	"fmt"
	"net"
)

// rawIO reads and writes through net.Conn on platforms without raw access.
type rawIO struct {
	conn net.Conn
}

func newRawIO(conn net.Conn) *rawIO { return &rawIO{conn: conn} }

func (r *rawIO) send(req []byte) error {
	if _, err := r.conn.Write(req); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	return nil
}

// Read implements io.Reader.
func (r *rawIO) Read(p []byte) (int, error) { return r.conn.Read(p) }
