package exporter

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHandlerPanicRecovered: a panic on the request path (here: in the
// upstream dialer) is answered 500 and frees the in-flight slot; the
// server keeps serving (fasthttp itself would let the process die).
func TestHandlerPanicRecovered(t *testing.T) {
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	e.pool.dial = func(context.Context, string) (net.Conn, error) { panic("boom") }
	px := serveExporter(t, e)
	for range 2 {
		resp, b := do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`)
		if resp.StatusCode != 500 || strings.Contains(b, "boom") {
			t.Errorf("panicking path: %d %q, want 500 without the panic text", resp.StatusCode, b)
		}
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricRequests, map[string]string{"route": "/predict", "code": "500"}, 2)
	mustValue(t, mfs, MetricInFlight, nil, 0)
}

// TestClientGoneWhileDialing: a client that leaves while the upstream
// connection is still being made cancels the dial (it would otherwise run
// to Timeout) and is counted as 499 + client_gone.
func TestClientGoneWhileDialing(t *testing.T) {
	e, err := New(Config{Upstream: "http://127.0.0.1:1", Kind: KindMLflow, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cancelled := make(chan time.Time, 1)
	e.pool.dial = func(ctx context.Context, _ string) (net.Conn, error) {
		<-ctx.Done() // a dial that hangs (a black-holed address)
		cancelled <- time.Now()
		return nil, ctx.Err()
	}
	px := serveExporter(t, e)
	left := clientLeaves(t, px.URL+"/predict")
	cancelledWithin(t, cancelled, left, "dial")
	waitMetric(t, px.URL, MetricRequests, map[string]string{"route": "/predict", "code": "499"}, 1)
	mustValue(t, scrape(t, px.URL), MetricUpstreamFailures, map[string]string{"cause": CauseClientGone}, 1)
}

// TestUnreadableRequestErrorShape: requests the server cannot read are
// answered in the protocol's error shape too, not fasthttp's plain text.
func TestUnreadableRequestErrorShape(t *testing.T) {
	_, px := startExporter(t, Config{Upstream: closedURL(t), Kind: KindMLflow})
	tests := []struct {
		name, raw string
		want      int
	}{
		{"garbage", "GARBAGE\r\n\r\n", 400},
		{"huge header", "GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", px.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			_, _ = io.WriteString(c, tt.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("read answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			var e struct {
				ErrorCode string `json:"error_code"`
				Message   string `json:"message"`
			}
			if resp.StatusCode != tt.want || json.Unmarshal(b, &e) != nil || e.ErrorCode == "" || e.Message == "" {
				t.Errorf("%d %q, want %d in MLflow's error shape", resp.StatusCode, b, tt.want)
			}
		})
	}
}

// TestHandlerAdapter: the net/http Handler (for embedding) serves what
// Serve serves: answers and errors, streamed answers event by event, and
// aborts an answer whose upstream broke mid-body.
func TestHandlerAdapter(t *testing.T) {
	gotFirst := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-gotFirst:
			case <-time.After(3 * time.Second):
			}
			_, _ = io.WriteString(w, "data: two\n\n")
		case "/broken":
			w.Header().Set("Content-Length", "1000000")
			_, _ = io.WriteString(w, strings.Repeat("z", 300<<10))
			panic(http.ErrAbortHandler)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"predictions":[1]}`)
		}
	}))
	t.Cleanup(up.Close)
	e, err := New(Config{Upstream: up.URL, Kind: KindMLflow, MaxBody: 100})
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(e.Handler())
	t.Cleanup(px.Close)
	t.Cleanup(e.Close)

	if resp, b := do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`); resp.StatusCode != 200 || b != `{"predictions":[1]}` {
		t.Errorf("predict: %d %q", resp.StatusCode, b)
	}
	if resp, b := do(t, "POST", px.URL+"/predict", "application/json", strings.Repeat("x", 200)); resp.StatusCode != 413 || !strings.Contains(b, `"error_code"`) {
		t.Errorf("too large: %d %q", resp.StatusCode, b)
	}

	resp, err := http.Get(px.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first event %q %v: not passed on before the stream ended", line, err)
	}
	close(gotFirst)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest of stream %q", rest)
	}

	resp, err = http.Get(px.URL + "/broken")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("an answer broken mid-body reached the client as a clean one")
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": CauseBadResponse}, 1)
	mustValue(t, mfs, MetricRequests, map[string]string{"route": "/predict", "code": "413"}, 1)
	mustValue(t, mfs, MetricInFlight, nil, 0)
}
