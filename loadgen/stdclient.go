package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// stdClient sends through net/http, for https targets and as a reference.
// Its Transport is tuned for load generation: enough idle connections per
// host for every worker, no compression, no HTTP/2.
type stdClient struct {
	ctx  context.Context
	hc   *http.Client
	tr   *http.Transport
	u    *url.URL
	cfg  *Config
	reqs [2]request
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func newStdClient(ctx context.Context, cfg *Config, u *url.URL, reqs [2]request) (*stdClient, error) {
	conns := cfg.maxWorkers()
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: dialTimeout(cfg.Timeout), KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: cfg.Insecure}, //nolint:gosec // opt-in
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &stdClient{
		ctx:  ctx,
		hc:   &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: noRedirect},
		tr:   tr,
		u:    u,
		cfg:  cfg,
		reqs: reqs,
	}, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (c *stdClient) closeIdle() { c.tr.CloseIdleConnections() }

func (c *stdClient) newSession() session {
	s := &stdSession{c: c}
	for i, r := range c.reqs {
		body := r.body
		req, _ := http.NewRequestWithContext(c.ctx, c.cfg.Method, c.u.String(), nil)
		for k, vs := range c.cfg.Headers {
			req.Header[k] = vs
		}
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", UserAgent)
		}
		if r.contentType != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(s.bodies[i])), nil }
		s.reqs[i] = req
		s.readers[i] = bytes.NewReader(body)
		s.bodies[i] = body
	}
	return s
}

// stdSession reuses its two *http.Request values and body readers: a request
// may be reused once the previous response body is closed.
type stdSession struct {
	c       *stdClient
	reqs    [2]*http.Request
	readers [2]*bytes.Reader
	bodies  [2][]byte
}

func (s *stdSession) do(invalid bool) (int, error) {
	k := 0
	if invalid {
		k = 1
	}
	req := s.reqs[k]
	if len(s.bodies[k]) > 0 {
		s.readers[k].Reset(s.bodies[k])
		req.Body = io.NopCloser(s.readers[k])
	}
	resp, err := s.c.hc.Do(req)
	if err != nil {
		err = s.c.explainTLS(err)
		if errorKind(err) == KindOther {
			// net/http reports malformed responses as plain errors.
			err = fmt.Errorf("%w: %w", errProtocol, err)
		}
		return 0, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// net/http hands back the upgraded connection as the body: reading
		// it would wait for the server to close it.
		resp.Body.Close()
		return 0, errUpgrade
	}
	bp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, *bp)
	copyBufs.Put(bp)
	resp.Body.Close()
	if err != nil {
		if errorKind(err) == KindOther {
			err = fmt.Errorf("%w: %w", errProtocol, err) // e.g. malformed chunked encoding
		}
		return 0, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, nil
}

func (s *stdSession) use(body []byte) {
	s.bodies[0] = body
	s.reqs[0].ContentLength = int64(len(body))
}

func (s *stdSession) abort() {} // the run context cancels in-flight requests
func (s *stdSession) close() {}

// errTLS marks a failed TLS handshake that crypto/tls reports without a
// typed error (net/http replaces the record header error of a plain-HTTP
// server by a message).
var errTLS = errors.New("TLS handshake failed")

// explainTLS adds why a TLS handshake failed and what to do about it.
func (c *stdClient) explainTLS(err error) error {
	var cve *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &cve) && !c.cfg.Insecure:
		return fmt.Errorf("%w: the server's certificate is not trusted here; "+
			"for a test server with a self-signed certificate pass --insecure to skip verification", err)
	case errors.As(err, &rec), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%w: %w: the server does not speak TLS; if it serves plain HTTP, use an http:// URL", err, errTLS)
	}
	return err
}
