package exporter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitMetric polls /metrics until name{labels} == want or a second passed.
func waitMetric(t *testing.T, base, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		v, _ := value(scrape(t, base), name, labels)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s%v = %v, want %v", name, labels, v, want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClientGone: a client that leaves cancels the upstream exchange (the
// upstream sees its connection closed at once) and is counted as 499 +
// client_gone, not as the upstream's later 200.
func TestClientGone(t *testing.T) {
	closed := make(chan time.Time, 1)
	up := newRawUpstream(t, func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		u.readReq(br)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := br.ReadByte() // blocks until the proxy closes the connection
		if err == io.EOF {
			closed <- time.Now()
		}
	})
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, Timeout: 10 * time.Second})
	left := clientLeaves(t, px.URL+"/predict")
	cancelledWithin(t, closed, left, "upstream exchange")
	waitMetric(t, px.URL, MetricRequests, map[string]string{"route": "/predict", "code": "499"}, 1)
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": CauseClientGone}, 1)
	mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": CauseTimeout}, 0)
	if v, _ := value(mfs, MetricRequests, map[string]string{"route": "/predict", "code": "200"}); v != 0 {
		t.Errorf("departed client counted as 200")
	}
}

// clientLeaves posts a prediction to url with a client that gives up after
// 200 ms, and returns when it left.
func clientLeaves(t *testing.T, url string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(`{"instances":[1]}`))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request did not time out on the client side")
	}
	return time.Now()
}

// cancelledWithin fails unless what (the upstream exchange, the dial)
// reports its cancellation on ch within 1 s of the client leaving.
func cancelledWithin(t *testing.T, ch <-chan time.Time, left time.Time, what string) {
	t.Helper()
	select {
	case at := <-ch:
		if d := at.Sub(left); d > time.Second {
			t.Errorf("%s cancelled %v after the client left", what, d)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("%s not cancelled when the client left", what)
	}
}

// slowConn opens a connection that sends headers declaring cl bytes and one
// byte of body.
func slowConn(t testing.TB, addr string, cl int) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", cl)
	return c
}

func TestSlowBodyAndOverload(t *testing.T) {
	up, s := recordingUpstream(t, `{"predictions":[1]}`)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, BodyTimeout: 500 * time.Millisecond, MaxInFlight: 2})
	addr := strings.TrimPrefix(px.URL, "http://")

	// Two slow bodies take both slots ...
	c1, c2 := slowConn(t, addr, 100), slowConn(t, addr, 100)
	defer c1.Close()
	defer c2.Close()
	time.Sleep(100 * time.Millisecond)
	// ... so a third request is refused on arrival, before its body is read
	// (it would get 200 if it waited for a slot).
	resp, b := do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the cap: %d Retry-After=%q (%s), want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	var e struct {
		ErrorCode string `json:"error_code"`
		Cause     string `json:"cause"`
	}
	if json.Unmarshal([]byte(b), &e); e.ErrorCode != "TEMPORARILY_UNAVAILABLE" || e.Cause != ReasonOverloaded {
		t.Errorf("503 body %s", b)
	}
	// Monitoring routes are not behind the cap.
	if resp, _ := do(t, "GET", px.URL+"/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz under the cap: %d", resp.StatusCode)
	}
	// The slow bodies get 408 after BodyTimeout.
	for _, c := range []net.Conn{c1, c2} {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow body: %v", err)
		}
		if resp.StatusCode != 408 {
			t.Errorf("slow body: %d, want 408", resp.StatusCode)
		}
	}
	if m, _, _, _ := s.get(); m != "" {
		t.Errorf("a request reached the upstream (%s)", m)
	}
	// Slots are free again.
	if resp, _ := do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`); resp.StatusCode != 200 {
		t.Errorf("after the slow clients: %d", resp.StatusCode)
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricRejected, map[string]string{"reason": ReasonOverloaded}, 1)
	mustValue(t, mfs, MetricRejected, map[string]string{"reason": ReasonBodyTimeout}, 2)
	mustValue(t, mfs, MetricRequests, map[string]string{"route": "/predict", "code": "503"}, 1)
	mustValue(t, mfs, MetricRequests, map[string]string{"route": "/predict", "code": "408"}, 2)
	mustValue(t, mfs, MetricInFlight, nil, 0)
}

func TestTFServingErrorShape(t *testing.T) {
	_, px := startExporter(t, Config{Upstream: closedURL(t), Kind: KindTFServing, ModelName: "m"})
	resp, b := do(t, "POST", px.URL+"/predict", "application/json", `{"instances":[1]}`)
	var e map[string]string
	if err := json.Unmarshal([]byte(b), &e); err != nil || resp.StatusCode != 502 || e["error"] == "" || e["error_code"] != "" {
		t.Errorf("TF Serving error: %d %s, want 502 {\"error\": ...}", resp.StatusCode, b)
	}
	if strings.Contains(b, "127.0.0.1") {
		t.Errorf("address in %s", b)
	}
}

// TestStreamedAnswer: an event stream reaches the client event by event
// (the upstream holds the second event until the client saw the first), and
// a chunked JSON answer within max_body still has its predictions counted.
func TestStreamedAnswer(t *testing.T) {
	gotFirst := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/invocations" && r.Header.Get("Accept") == "text/event-stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-gotFirst:
			case <-time.After(3 * time.Second):
			}
			_, _ = io.WriteString(w, "data: two\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"predictions":[`)
		w.(http.Flusher).Flush() // chunked
		_, _ = io.WriteString(w, `"a","b"]}`)
	}))
	t.Cleanup(up.Close)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow})

	req, _ := http.NewRequest("POST", px.URL+"/predict", strings.NewReader(`{"inputs":[1]}`))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	start := time.Now()
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" || time.Since(start) > 2*time.Second {
		t.Fatalf("first event %q %v after %v: not passed on before the stream ended", line, err, time.Since(start))
	}
	close(gotFirst)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest of stream %q", rest)
	}
	resp, b := do(t, "POST", px.URL+"/predict", "application/json", `{"inputs":[1,2]}`)
	if resp.StatusCode != 200 || b != `{"predictions":["a","b"]}` {
		t.Errorf("chunked JSON: %d %q", resp.StatusCode, b)
	}
	mfs := scrape(t, px.URL)
	mustValue(t, mfs, MetricPredictions, map[string]string{"class": "a"}, 1)
	if _, ok := value(mfs, MetricPredictions, map[string]string{"class": "data: one"}); ok {
		t.Error("event stream parsed for predictions")
	}
}

// TestIdleUpstreamConnsClosed: pooled upstream connections are closed by
// their idle timeout, not only when reused. The negative control keeps a
// long timeout and sees them still open.
func TestIdleUpstreamConnsClosed(t *testing.T) {
	for _, tc := range []struct {
		idle     time.Duration
		wantOpen bool
	}{{200 * time.Millisecond, false}, {time.Minute, true}} {
		t.Run(tc.idle.String(), func(t *testing.T) {
			var open atomic.Int64
			up := newRawUpstream(t, func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
				open.Add(1)
				defer open.Add(-1)
				loop(func(b string) string { time.Sleep(20 * time.Millisecond); return answer(echo(b)) })(u, c, br)
			})
			e, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, IdleConnTimeout: tc.idle})
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					do(t, "POST", px.URL+"/predict", "application/json", fmt.Sprint(i))
				}()
			}
			wg.Wait()
			if open.Load() == 0 {
				t.Fatal("no pooled connection after the burst")
			}
			time.Sleep(700 * time.Millisecond)
			if got := open.Load() > 0; got != tc.wantOpen {
				t.Errorf("idle timeout %v: %d upstream connections open after 700ms", tc.idle, open.Load())
			}
			e.Close()
		})
	}
}

// TestCrossTalk: many concurrent clients each send an id and must get their
// own id back, with an upstream that sends 1xx replies, junk after answers
// and closes connections at random. Only clean 502s are tolerated (a closed
// connection may take an already written request with it).
func TestCrossTalk(t *testing.T) {
	var sent1xx, closes, junk atomic.Int64
	up := newRawUpstream(t, func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		for {
			_, body, ok := u.readReq(br)
			if !ok {
				return
			}
			var sb strings.Builder
			switch r.IntN(4) {
			case 0:
				sent1xx.Add(1)
				sb.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
			case 1:
				sent1xx.Add(1)
				sb.WriteString("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")
			}
			sb.WriteString(answer(echo(body)))
			if r.IntN(8) == 0 {
				junk.Add(1)
				sb.WriteString(answer(echo(`"someone else"`)))
			}
			if _, err := io.WriteString(c, sb.String()); err != nil {
				return
			}
			if r.IntN(5) == 0 {
				closes.Add(1)
				return
			}
		}
	})
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow})
	const clients, each = 32, 40
	var ok, bad502, wrong atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer cl.CloseIdleConnections()
			for i := range each {
				id := fmt.Sprint(c*1000 + i)
				resp, err := cl.Post(px.URL+"/predict", "application/json", strings.NewReader(id))
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200 && string(b) == echo(id):
					ok.Add(1)
				case resp.StatusCode == 502 && strings.Contains(string(b), CauseBadResponse):
					bad502.Add(1)
				default:
					wrong.Add(1)
					t.Errorf("client %d sent %s, got %d %q", c, id, resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d right answers, %d clean 502s, %d wrong; upstream sent 1xx %d times, junk %d times, closed %d connections",
		ok.Load(), bad502.Load(), wrong.Load(), sent1xx.Load(), junk.Load(), closes.Load())
	// Negative control: the hazards really happened.
	if sent1xx.Load() == 0 || closes.Load() == 0 || junk.Load() == 0 {
		t.Error("the upstream did not exercise 1xx, junk and closes")
	}
	if ok.Load() < clients*each*8/10 {
		t.Errorf("only %d of %d requests answered", ok.Load(), clients*each)
	}
}

// TestNonReadingClient: a client that sends a request and never reads the
// (large) answer does not hold its in-flight slot beyond the write deadline.
func TestNonReadingClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"content-length", false}, {"chunked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			big := strings.Repeat("x", 8<<20)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				}
				_, _ = io.WriteString(w, big)
			}))
			t.Cleanup(up.Close)
			_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, Timeout: 300 * time.Millisecond})
			c, err := net.Dial("tcp", strings.TrimPrefix(px.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
			fmt.Fprintf(c, "GET /download HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(200 * time.Millisecond)
			if v, _ := value(scrape(t, px.URL), MetricInFlight, nil); v != 1 {
				t.Fatalf("in flight %v while the answer is blocked, want 1", v)
			}
			waitMetric(t, px.URL, MetricInFlight, nil, 0)
		})
	}
}
