package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// bufReader reads HTTP response heads in place and discards bodies.
type bufReader struct {
	r *bufio.Reader
}

func newBufReader(rd io.Reader, size int) *bufReader {
	return &bufReader{r: bufio.NewReaderSize(rd, size)}
}

// Reset makes the reader read from rd, dropping buffered data.
func (b *bufReader) Reset(rd io.Reader) { b.r.Reset(rd) }

// readLine returns the next line without its CRLF (or LF). The slice points
// into the buffer and is valid until the next read.
func (b *bufReader) readLine() ([]byte, error) {
	line, err := b.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return line, fmt.Errorf("%w: header line longer than %d bytes", errProtocol, b.r.Size())
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return line, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// discard skips n body bytes.
func (b *bufReader) discard(n int64) error {
	for n > 0 {
		chunk := n
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		d, err := b.r.Discard(int(chunk))
		n -= int64(d)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// discardAll skips everything up to EOF (a body delimited by connection close).
func (b *bufReader) discardAll() error {
	_, err := io.Copy(io.Discard, b.r)
	return err
}
