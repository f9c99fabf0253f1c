package loadgen

// HTTP/1.1 conformance of both clients against raw-TCP scripted servers:
// every framing a server may use, interim (1xx) replies, 101, malformed and
// truncated responses, leftover bytes and resets. Each failing case has a
// succeeding neighbour that differs only in the fault (the negative control).

import (
	"bufio"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer serves each accepted connection with handle and returns its URL
// and a counter of accepted connections.
func rawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/predict", &conns
}

// readRequest reads one whole request with net/http's parser.
func readRequest(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	_, err = io.Copy(io.Discard, req.Body)
	req.Body.Close()
	return req, err == nil
}

// replyAll answers every request on the connection with response; with
// reuse false it closes the connection after the first.
func replyAll(response string, reuse bool) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			if _, ok := readRequest(br); !ok {
				return
			}
			if _, err := io.WriteString(c, response); err != nil || !reuse {
				return
			}
		}
	}
}

// holdOpen answers the first request with response and then keeps the
// connection open, silent, until the client closes it.
func holdOpen(response string) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		if _, ok := readRequest(br); !ok {
			return
		}
		io.WriteString(c, response)
		io.Copy(io.Discard, c)
	}
}

const ok2 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestResponseFraming: every way a server may frame a successful response
// is read completely, and the connection is reused exactly when it may be.
func TestResponseFraming(t *testing.T) {
	bigHeader := "X-Big: " + strings.Repeat("a", 8<<10) + "\r\n"
	cases := []struct {
		name     string
		response string
		reuse    bool // the connection stays open for the next request
		status   int
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true, 200},
		{"lowercase headers", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nhi", true, 200},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", true, 200},
		{"chunked with trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T, X-U\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", true, 200},
		{"empty 204", "HTTP/1.1 204 No Content\r\n\r\n", true, 204},
		{"100 continue first", "HTTP/1.1 100 Continue\r\n\r\n" + ok2, true, 200},
		{"103 early hints first", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + ok2, true, 200},
		{"several 1xx", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok2, true, 200},
		{"connection close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", false, 200},
		{"close-delimited http/1.0", "HTTP/1.0 200 OK\r\n\r\nbody until close", false, 200},
		{"close-delimited http/1.1", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close", false, 200},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", true, 200},
		{"no status text", "HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n", true, 500},
		{"8 KiB header", "HTTP/1.1 200 OK\r\n" + bigHeader + "Content-Length: 2\r\n\r\nok", true, 200},
		{"1 MiB body", "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + strings.Repeat("x", 1<<20), true, 200},
		{"3 MiB body, then streamed", "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\n\r\n" + strings.Repeat("x", 3<<20), true, 200},
		{"3 MiB chunked body, then streamed", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n300000\r\n" + strings.Repeat("x", 3<<20) + "\r\n0\r\n\r\n", true, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				url, conns := rawServer(t, replyAll(tc.response, tc.reuse))
				cfg := baseConfig(url)
				cfg.Requests, cfg.Concurrency, cfg.StdClient = 20, 1, std
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if res.Requests != 20 || res.StatusCount(tc.status) != 20 || len(res.TransportErrors) != 0 {
					t.Fatalf("requests=%d status=%v transport=%v %v, want 20 × %d", res.Requests, res.StatusCodes, res.TransportErrors, res.ErrorSamples, tc.status)
				}
				switch got := conns.Load(); {
				case !tc.reuse && got != 20:
					t.Errorf("%d connections, want 20 (one per request)", got)
				case tc.reuse && !std && got != 1:
					t.Errorf("%d connections, want 1", got)
				case tc.reuse && std && got > 2:
					// net/http returns a connection to its idle pool from its
					// read loop goroutine, after the body's EOF: the next
					// request may rarely race it and dial.
					t.Errorf("%d connections, want 1 (2 at most)", got)
				}
			})
		})
	}
}

// TestProtocolErrors: replies that are not a valid final response count as
// errors of the right kind, never as successes and never as a hang; the
// broken connection is not reused.
func TestProtocolErrors(t *testing.T) {
	const n = 6
	reset := func(c net.Conn, br *bufio.Reader) {
		readRequest(br)
		c.(*net.TCPConn).SetLinger(0) // close with RST
	}
	cases := []struct {
		name   string
		handle func(net.Conn, *bufio.Reader)
		kind   string
	}{
		{"101 then silence", holdOpen("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), KindProtocol},
		{"100 then 101", holdOpen("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"), KindProtocol},
		{"conflicting content-length", replyAll("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", true), KindProtocol},
		{"content-length list", replyAll("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!", true), KindProtocol},
		{"negative content-length", replyAll("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", true), KindProtocol},
		{"bad chunk size", replyAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", true), KindProtocol},
		{"not http", replyAll("NOT HTTP AT ALL\r\n\r\n", true), KindProtocol},
		{"header without colon", replyAll("HTTP/1.1 200 OK\r\nBroken header\r\nContent-Length: 2\r\n\r\nok", true), KindProtocol},
		{"short body", replyAll("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false), KindClosed},
		{"short chunked body", replyAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", false), KindClosed},
		{"close before reply", replyAll("", false), KindClosed},
		{"reset", reset, KindReset},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				url, conns := rawServer(t, tc.handle)
				cfg := baseConfig(url)
				cfg.Requests, cfg.Concurrency, cfg.StdClient = n, 1, std
				cfg.Timeout = 10 * time.Second
				start := time.Now()
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if el := time.Since(start); el > 5*time.Second {
					t.Errorf("took %s: a reply that is not final must not hang the worker", el)
				}
				if res.Requests != n || res.Successes != 0 || res.TransportErrors[tc.kind] != n {
					t.Fatalf("requests=%d successes=%d status=%v transport=%v, want %d × %s", res.Requests, res.Successes, res.StatusCodes, res.TransportErrors, n, tc.kind)
				}
				if res.ErrorSamples[tc.kind] == "" {
					t.Errorf("no sample message for %s: %v", tc.kind, res.ErrorSamples)
				}
				if conns.Load() != n {
					t.Errorf("%d connections for %d failed requests: a broken connection was reused", conns.Load(), n)
				}
			})
		})
	}
	t.Run("101 sample names the upgrade", func(t *testing.T) {
		url, _ := rawServer(t, holdOpen("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"))
		cfg := baseConfig(url)
		cfg.Requests = 1
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if msg := res.ErrorSamples[KindProtocol]; !strings.Contains(msg, "101 Switching Protocols") {
			t.Errorf("sample %q does not name the 101", msg)
		}
	})
}

// TestBodyOverBufferLimit: a body larger than the buffer limit fails that
// one request (fast client); the worker streams later ones, which succeed.
func TestBodyOverBufferLimit(t *testing.T) {
	defer func(old int) { maxBufferedBody = old }(maxBufferedBody)
	maxBufferedBody = 64 << 10
	big := "HTTP/1.1 200 OK\r\nContent-Length: 131072\r\n\r\n" + strings.Repeat("x", 128<<10)
	url, _ := rawServer(t, replyAll(big, true))
	cfg := baseConfig(url)
	cfg.Requests, cfg.Concurrency = 10, 1
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCount(200) != 9 || res.TransportErrors[KindProtocol] != 1 {
		t.Fatalf("status=%v transport=%v, want 9 × 200 and 1 protocol error", res.StatusCodes, res.TransportErrors)
	}
	if msg := res.ErrorSamples[KindProtocol]; !strings.Contains(msg, "response body over") {
		t.Errorf("sample %q does not say the body was too large", msg)
	}
}

// TestLeftoverBytes: bytes after a complete response, even ones that look
// like a response, are never counted as the answer to the next request (no
// response desync): fasthttp drops what it buffered past the response,
// net/http drops the connection.
func TestLeftoverBytes(t *testing.T) {
	const n = 10
	leftovers := []string{
		"HTTP/1.1 299 Leftover\r\nContent-Length: 0\r\n\r\n",
		"LEFTOVER GARBAGE\r\n\r\n",
	}
	log.SetOutput(io.Discard) // net/http logs each unsolicited response
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	for _, extra := range leftovers {
		clients(t, func(t *testing.T, std bool) {
			url, _ := rawServer(t, replyAll(ok2+extra, true))
			cfg := baseConfig(url)
			cfg.Requests, cfg.Concurrency, cfg.StdClient = n, 1, std
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			// fasthttp (the default client for http://) drops the leftovers:
			// never a desync, every request counts 200. net/http's Transport
			// (https://, --http-client std) may hand the pooled connection to
			// the next request before its read loop has seen the leftover
			// bytes (a race in the Transport itself, the one the exporter
			// once guarded against by hand): that request then fails as a
			// protocol error or, rarely, counts the leftover "299" as its
			// answer (seen once in CI under -race). docs/bench-load.md says so.
			okN, protoN := res.StatusCount(200), res.TransportErrors[KindProtocol]
			desync := res.StatusCount(299)
			if !std && (len(res.StatusCodes) > 1 || okN != n || len(res.TransportErrors) > 0) {
				t.Fatalf("status=%v transport=%v: want %d × 200 and nothing else", res.StatusCodes, res.TransportErrors, n)
			}
			if std && (okN+protoN+desync != n || len(res.TransportErrors) > 1 || okN == 0) {
				t.Fatalf("status=%v transport=%v: want %d answers: 200s, protocol errors and (net/http's race) the leftover's 299, nothing else", res.StatusCodes, res.TransportErrors, n)
			}
			if desync > 0 {
				t.Logf("net/http counted the leftover as an answer %d time(s) of %d", desync, n)
			}
		})
	}
}

// TestStaleKeepAlive: a server that closes idle keep-alive connections
// without saying so produces no errors: a request that fails on a reused
// connection before any response byte is retried once on a fresh one.
//
// fasthttp only: net/http resends a POST only when it can tell nothing was
// written, so under a close race it may count one connection_closed.
func TestStaleKeepAlive(t *testing.T) {
	t.Run("retry", func(t *testing.T) {
		var served atomic.Int64
		url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			if _, ok := readRequest(br); ok {
				served.Add(1)
				io.WriteString(c, ok2) // and close, as an idle timeout would
			}
		})
		cfg := baseConfig(url)
		cfg.Requests, cfg.Concurrency, cfg.Rate = 10, 1, 50 // idle gaps between requests
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Successes != 10 || res.Errors != 0 {
			t.Errorf("successes=%d errors=%d transport=%v, want 10/0", res.Successes, res.Errors, res.TransportErrors)
		}
		if served.Load() != 10 {
			t.Errorf("server answered %d requests, want 10", served.Load())
		}
	})
	// Negative control: a failure after response bytes arrived is not retried.
	clients(t, func(t *testing.T, std bool) {
		var served atomic.Int64
		url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
			for {
				if _, ok := readRequest(br); !ok {
					return
				}
				if served.Add(1)%2 == 0 {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") // truncated
					return
				}
				io.WriteString(c, ok2)
			}
		})
		cfg := baseConfig(url)
		cfg.Requests, cfg.Concurrency, cfg.StdClient = 10, 1, std
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if served.Load() != 10 || res.Successes != 5 || res.TransportErrors[KindClosed] != 5 {
			t.Errorf("served=%d successes=%d transport=%v, want 10 served, 5 successes, 5 closed", served.Load(), res.Successes, res.TransportErrors)
		}
	})
}

// TestRequestHeaders: the request carries the method, body, content type,
// user agent and extra headers as configured.
func TestRequestHeaders(t *testing.T) {
	cases := []struct {
		name    string
		headers http.Header
		wantCT  string
		wantUA  string
	}{
		{"default content type", http.Header{"X-Api-Key": {"k1"}}, "application/json", UserAgent},
		{"header overrides content type", http.Header{"Content-Type": {"text/csv"}, "X-Api-Key": {"k1"}}, "text/csv", UserAgent},
		{"header overrides user agent", http.Header{"User-Agent": {"probe/1"}, "X-Api-Key": {"k1"}}, "application/json", "probe/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				got := make(chan *http.Request, 1)
				url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					req.Header.Set("X-Body", string(b))
					got <- req
					io.WriteString(c, ok2)
				})
				cfg := baseConfig(url + "?q=1")
				cfg.Requests, cfg.StdClient, cfg.Headers = 1, std, tc.headers
				if _, err := Run(context.Background(), cfg); err != nil {
					t.Fatal(err)
				}
				req := <-got
				checks := [][2]string{
					{req.Method, "POST"},
					{req.URL.RequestURI(), "/predict?q=1"},
					{req.Header.Get("Content-Type"), tc.wantCT},
					{req.Header.Get("User-Agent"), tc.wantUA},
					{req.Header.Get("X-Api-Key"), "k1"},
					{req.Header.Get("X-Body"), string(validBody)},
				}
				for _, c := range checks {
					if c[0] != c[1] {
						t.Errorf("got %q, want %q", c[0], c[1])
					}
				}
				for _, h := range []string{"Content-Type", "User-Agent"} {
					if n := len(req.Header.Values(h)); n != 1 {
						t.Errorf("%d %s headers, want 1", n, h)
					}
				}
				if req.ContentLength != int64(len(validBody)) || req.Host == "" {
					t.Errorf("Content-Length %d, Host %q", req.ContentLength, req.Host)
				}
			})
		})
	}
}

// TestTLSErrors: an https target whose certificate is not trusted fails with
// the reason and the --insecure hint; with Insecure the same target works.
func TestTLSErrors(t *testing.T) {
	var c counter
	tlsSrv := httptest.NewUnstartedServer(c.handler(nil))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // "bad certificate" handshake errors
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(c.handler(nil))
	defer plain.Close()
	cases := []struct {
		name     string
		url      string
		insecure bool
		want     string // in the tls error sample; "" for success
	}{
		{"untrusted certificate", tlsSrv.URL, false, "pass --insecure"},
		{"insecure control", tlsSrv.URL, true, ""},
		{"https to a plain server", "https://" + strings.TrimPrefix(plain.URL, "http://"), false, "http://"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(tc.url)
			cfg.Requests, cfg.Insecure = 3, tc.insecure
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if res.Successes != 3 {
					t.Fatalf("successes=%d transport=%v %v, want 3", res.Successes, res.TransportErrors, res.ErrorSamples)
				}
				return
			}
			if res.TransportErrors[KindTLS] != 3 {
				t.Fatalf("transport=%v, want 3 × tls", res.TransportErrors)
			}
			if msg := res.ErrorSamples[KindTLS]; !strings.Contains(msg, tc.want) {
				t.Errorf("sample %q does not contain %q", msg, tc.want)
			}
		})
	}
}
