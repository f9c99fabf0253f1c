package exporter

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawExchange sends raw on a new connection to addr, half-closes the
// connection when halfClose, and returns everything the exporter answered
// until it closed the connection (or 5 s passed).
func rawExchange(t *testing.T, addr, raw string, halfClose bool) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	return string(got)
}

// TestHalfClosedClientGetsNoFalseAnswer: a client that half-closes after its
// request is taken for gone (as nginx does); it must not read a made-up
// "200 OK" with an empty body, and the request counts as 499.
func TestHalfClosedClientGetsNoFalseAnswer(t *testing.T) {
	up := newRawUpstream(t, func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		u.readReq(br)
		time.Sleep(500 * time.Millisecond)
		_, _ = io.WriteString(c, answer(`{"predictions":[1]}`))
	})
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, Timeout: 5 * time.Second})
	body := `{"instances":[1]}`
	got := rawExchange(t, px.Listener.Addr().String(),
		"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body, true)
	if strings.HasPrefix(got, "HTTP/1.1 200") && !strings.Contains(got, "predictions") {
		t.Fatalf("a departed client was sent a made-up empty answer:\n%s", got)
	}
	waitMetric(t, px.URL, MetricRequests, map[string]string{"route": "/predict", "code": "499"}, 1)
}

// TestHTTP10ClientGetsNoChunkedBody: an answer of unknown length reaches an
// HTTP/1.0 client with its length, never chunk-encoded (RFC 9112 6.1); an
// HTTP/1.1 client still gets it streamed.
func TestHTTP10ClientGetsNoChunkedBody(t *testing.T) {
	up := newRawUpstream(t, loop(func(string) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	}))
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, Timeout: 5 * time.Second})
	addr := px.Listener.Addr().String()
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		got := rawExchange(t, addr, "GET /version "+proto+"\r\nHost: x\r\nConnection: close\r\n\r\n", false)
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
		if err != nil {
			t.Fatalf("%s: unreadable answer %q: %v", proto, got, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "hello world" {
			t.Errorf("%s: body %q, want %q", proto, b, "hello world")
		}
		chunked := strings.Contains(strings.ToLower(got), "transfer-encoding: chunked")
		if proto == "HTTP/1.0" && (chunked || resp.ContentLength != 11) {
			t.Errorf("HTTP/1.0 client got a chunked or unframed answer:\n%s", got)
		}
		if proto == "HTTP/1.1" && !chunked {
			t.Errorf("HTTP/1.1 client: answer of unknown length not streamed:\n%s", got)
		}
	}
}

// TestNoDefaultContentType: an answer without a Content-Type reaches the
// client without one (a 304 must not retype a cached answer).
func TestNoDefaultContentType(t *testing.T) {
	up := newRawUpstream(t, loop(func(string) string {
		return "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"
	}))
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, Timeout: 5 * time.Second})
	got := rawExchange(t, px.Listener.Addr().String(), "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false)
	if !strings.HasPrefix(got, "HTTP/1.1 304") || !strings.Contains(strings.ToLower(got), `etag: "v1"`) {
		t.Fatalf("answer %q, want the upstream's 304 with its ETag", got)
	}
	if strings.Contains(strings.ToLower(got), "content-type") {
		t.Errorf("a Content-Type was added to an answer without one:\n%s", got)
	}
}

// TestStreamedHeadersFlushedAtOnce: the status and headers of a streamed
// answer reach the client when the upstream sends them, not with the first
// chunk.
func TestStreamedHeadersFlushedAtOnce(t *testing.T) {
	up := newRawUpstream(t, func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		u.readReq(br)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		time.Sleep(1500 * time.Millisecond)
		_, _ = io.WriteString(c, "7\r\ndata: 1\r\n0\r\n\r\n")
	})
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, Timeout: 5 * time.Second})
	c, err := net.Dial("tcp", px.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _ = io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("first byte of a streamed answer after %v: the headers waited for the first chunk", d)
	}
}
