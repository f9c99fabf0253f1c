package exporter

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// hopHeaders are not forwarded in either direction (RFC 9110 7.6.1), nor are
// the ones the client or server write themselves (framing, Host, Expect).
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authorization": true, "Proxy-Authenticate": true,
	"Host": true, "Content-Length": true, "Expect": true,
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// causeOf classifies an upstream error: timeout, refused (no connection:
// dial, DNS or TLS handshake failed) or bad_response.
func causeOf(err error) string {
	if isTimeout(err) {
		return CauseTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return CauseRefused
	}
	var de *net.DNSError
	var re tls.RecordHeaderError
	var ce *tls.CertificateVerificationError
	var ae tls.AlertError
	if errors.As(err, &de) || errors.As(err, &re) || errors.As(err, &ce) || errors.As(err, &ae) ||
		strings.Contains(err.Error(), "tls: ") {
		return CauseRefused
	}
	return CauseBadResponse
}

// publicReason is the client-facing text of an upstream failure: no socket
// addresses or other internals (those go to the log).
func publicReason(err error, cause string, timeout time.Duration) string {
	switch cause {
	case CauseTimeout:
		return "upstream did not answer within " + timeout.String()
	case CauseRefused:
		var ce *tls.CertificateVerificationError
		if errors.As(err, &ce) || strings.Contains(err.Error(), "tls: ") || strings.Contains(err.Error(), "x509: ") {
			return "upstream TLS handshake failed"
		}
		return "upstream refused the connection (not reachable)"
	}
	return "upstream sent no valid answer (connection broken or malformed response)"
}

// readBody reads r into buf, growing it only as bytes arrive (never from a
// declared length), at most limit+1 bytes. full is true when r hit EOF
// within limit bytes; otherwise b holds limit+1 bytes and the rest is
// unread.
func readBody(buf []byte, r io.Reader, limit int64) (b []byte, full bool, err error) {
	b = buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		end := cap(b)
		if int64(end) > limit+1 {
			end = int(limit + 1)
		}
		n, err := r.Read(b[len(b):end])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b, false, nil
		}
		if err == io.EOF {
			return b, true, nil
		}
		if err != nil {
			return b, false, err
		}
	}
}
