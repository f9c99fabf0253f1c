package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	validBody   = []byte(`{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]}}`)
	invalidBody = []byte(`{"not":"a prediction request"`)
)

// counter is a test server that counts requests by body.
type counter struct {
	total, valid, invalid atomic.Int64
}

func (c *counter) handler(status func(n int64, valid bool) int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := c.total.Add(1)
		ok := bytes.Equal(b, validBody)
		if ok {
			c.valid.Add(1)
		} else {
			c.invalid.Add(1)
		}
		code := http.StatusOK
		if status != nil {
			code = status(n, ok)
		} else if !ok {
			code = http.StatusBadRequest
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"predictions":[0,1],"n":%d}`, n)
	}
}

func baseConfig(url string) Config {
	return Config{
		URL:         url,
		Body:        validBody,
		ContentType: "application/json",
		InvalidBody: invalidBody,
		Timeout:     10 * time.Second,
	}
}

func clients(t *testing.T, f func(t *testing.T, std bool)) {
	for _, std := range []bool{false, true} {
		name := "fast"
		if std {
			name = "std"
		}
		t.Run(name, func(t *testing.T) { f(t, std) })
	}
}

func TestRequestCount(t *testing.T) {
	cases := []struct {
		name string
		n    int64
		c    int
		rate float64
	}{
		{"single", 1, 1, 0},
		{"fewer than workers", 3, 16, 0},
		{"closed c1", 50, 1, 0},
		{"closed c8", 537, 8, 0},
		{"open", 40, 4, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				var c counter
				srv := httptest.NewServer(c.handler(nil))
				defer srv.Close()
				cfg := baseConfig(srv.URL + "/predict?x=1")
				cfg.Requests, cfg.Concurrency, cfg.Rate, cfg.StdClient = tc.n, tc.c, tc.rate, std
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.total.Load(); got != tc.n {
					t.Errorf("server saw %d requests, want %d", got, tc.n)
				}
				if res.Requests != tc.n || res.Successes != tc.n || res.Errors != 0 {
					t.Errorf("result requests=%d successes=%d errors=%d, want %d/%d/0", res.Requests, res.Successes, res.Errors, tc.n, tc.n)
				}
				if res.StatusCount(200) != tc.n {
					t.Errorf("status 200 count %d, want %d", res.StatusCount(200), tc.n)
				}
				if res.Histogram().TotalCount() != tc.n {
					t.Errorf("histogram holds %d values, want %d", res.Histogram().TotalCount(), tc.n)
				}
			})
		})
	}
}

func TestDurationBound(t *testing.T) {
	cases := []struct {
		name  string
		delay time.Duration
		rate  float64
	}{
		{"fast server closed", 0, 0},
		{"slow server closed", 2 * time.Second, 0}, // in-flight requests are aborted at the deadline
		{"slow server open", 2 * time.Second, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					if tc.delay > 0 {
						select {
						case <-time.After(tc.delay):
						case <-r.Context().Done():
						}
					}
					w.Write([]byte("ok"))
				}))
				defer srv.Close()
				cfg := baseConfig(srv.URL)
				cfg.Duration, cfg.Concurrency, cfg.Rate, cfg.StdClient = 300*time.Millisecond, 4, tc.rate, std
				start := time.Now()
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if el := time.Since(start); el > 1500*time.Millisecond {
					t.Errorf("run took %s, want about 300ms", el)
				}
				if res.DurationS > 0.5 {
					t.Errorf("reported duration %.3fs, want ≤ 0.3s", res.DurationS)
				}
				if tc.delay == 0 && res.Requests == 0 {
					t.Error("no request completed against a fast server")
				}
				if tc.delay > 0 && (res.Requests != 0 || res.Errors != 0) {
					t.Errorf("aborted requests were counted: %d requests, %d errors", res.Requests, res.Errors)
				}
			})
		})
	}
}

func TestOpenLoopRate(t *testing.T) {
	cases := []struct {
		rate float64
		dur  time.Duration
	}{
		{50, time.Second},
		{400, time.Second},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(int(tc.rate)), func(t *testing.T) {
			var c counter
			srv := httptest.NewServer(c.handler(nil))
			defer srv.Close()
			cfg := baseConfig(srv.URL)
			cfg.Rate, cfg.Duration, cfg.Concurrency = tc.rate, tc.dur, 2
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.rate * tc.dur.Seconds()
			// Generous: a starved 2-core machine running the race detector
			// may lag behind, but an open loop must never exceed its schedule.
			if got := float64(c.total.Load()); got < 0.4*want || got > want+1 {
				t.Errorf("server saw %v requests, want about %v", got, want)
			}
			if res.Mode != "open" || res.Scheduled < int64(0.9*want) || res.Scheduled > int64(want)+1 {
				t.Errorf("mode %s scheduled %d, want open and about %v", res.Mode, res.Scheduled, want)
			}
		})
	}
}

func TestErrorRatioMix(t *testing.T) {
	cases := []struct {
		ratio float64
		n     int64
		want  int64
	}{
		{0, 200, 0},
		{0.1, 200, 20},
		{0.25, 400, 100},
		{0.5, 301, 150},
		{1, 50, 50},
	}
	for _, tc := range cases {
		t.Run(strconv.FormatFloat(tc.ratio, 'f', -1, 64), func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				var c counter
				srv := httptest.NewServer(c.handler(nil))
				defer srv.Close()
				cfg := baseConfig(srv.URL)
				cfg.ErrorRatio, cfg.Requests, cfg.Concurrency, cfg.StdClient = tc.ratio, tc.n, 4, std
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.invalid.Load(); got != tc.want {
					t.Errorf("server saw %d invalid payloads, want %d", got, tc.want)
				}
				if c.valid.Load() != tc.n-tc.want {
					t.Errorf("server saw %d valid payloads, want %d", c.valid.Load(), tc.n-tc.want)
				}
				if res.Invalid != tc.want || res.Errors != tc.want || res.StatusCount(400) != tc.want {
					t.Errorf("result invalid=%d errors=%d 400s=%d, want %d", res.Invalid, res.Errors, res.StatusCount(400), tc.want)
				}
			})
		})
	}
}

func TestStatusCodeAccounting(t *testing.T) {
	codes := []int{200, 201, 204, 301, 404, 429, 500, 503}
	clients(t, func(t *testing.T, std bool) {
		var c counter
		srv := httptest.NewServer(c.handler(func(n int64, _ bool) int { return codes[(n-1)%int64(len(codes))] }))
		defer srv.Close()
		cfg := baseConfig(srv.URL)
		n := int64(len(codes) * 25)
		cfg.Requests, cfg.Concurrency, cfg.StdClient = n, 3, std
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range codes {
			if got := res.StatusCount(code); got != 25 {
				t.Errorf("status %d counted %d times, want 25", code, got)
			}
		}
		if res.Errors != 4*25 || res.Successes != 4*25 || res.Requests != n {
			t.Errorf("errors=%d successes=%d requests=%d, want 100/100/%d", res.Errors, res.Successes, res.Requests, n)
		}
		if len(res.TransportErrors) != 0 {
			t.Errorf("unexpected transport errors %v", res.TransportErrors)
		}
	})
}

func TestTransportErrors(t *testing.T) {
	// A closed port: every request is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangup.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	garbage, _ := rawServer(t, replyAll("NOT HTTP AT ALL\r\n\r\n", false))

	cases := []struct {
		name, url, kind string
		timeout         time.Duration
		stdOnly         bool
	}{
		{"refused", refused, KindRefused, 0, false},
		{"hangup", hangup.URL, KindClosed, 0, false},
		{"timeout", slow.URL, KindTimeout, 200 * time.Millisecond, false},
		{"garbage", garbage, KindProtocol, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				cfg := baseConfig(tc.url)
				cfg.Requests, cfg.Concurrency, cfg.StdClient = 6, 2, std
				if tc.timeout > 0 {
					cfg.Timeout = tc.timeout
				}
				res, err := Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if res.Requests != 6 || res.Errors != 6 || res.Successes != 0 {
					t.Fatalf("requests=%d errors=%d successes=%d, want 6/6/0", res.Requests, res.Errors, res.Successes)
				}
				want := tc.kind
				if res.TransportErrors[want] != 6 {
					t.Errorf("transport errors %v, want 6 × %s", res.TransportErrors, want)
				}
			})
		})
	}
}

func TestJSONShape(t *testing.T) {
	var c counter
	srv := httptest.NewServer(c.handler(nil))
	defer srv.Close()
	for _, rate := range []float64{0, 200} {
		cfg := baseConfig(srv.URL)
		cfg.Requests, cfg.Rate, cfg.ErrorRatio = 40, rate, 0.25
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := res.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
			t.Errorf("JSON output is not one line: %q", buf.String())
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("not one JSON object: %v\n%s", err, buf.String())
		}
		for _, k := range []string{"requests", "errors", "rps", "latency_ms", "status_codes", "duration_s", "transport_errors", "mode"} {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON lacks %q: %s", k, buf.String())
			}
		}
		lat, _ := m["latency_ms"].(map[string]any)
		for _, k := range []string{"p50", "p90", "p95", "p99", "max"} {
			if v, ok := lat[k].(float64); !ok || v <= 0 {
				t.Errorf("latency_ms.%s = %v, want a positive number", k, lat[k])
			}
		}
		if m["requests"].(float64) != 40 || m["errors"].(float64) != 10 {
			t.Errorf("requests=%v errors=%v, want 40/10", m["requests"], m["errors"])
		}
		if sc := m["status_codes"].(map[string]any); sc["200"].(float64) != 30 || sc["400"].(float64) != 10 {
			t.Errorf("status_codes %v, want 200:30 400:10", sc)
		}
		var text bytes.Buffer
		if err := res.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"Requests:", "Errors:", "p99", "200×30", "400×10"} {
			if !bytes.Contains(text.Bytes(), []byte(s)) {
				t.Errorf("text summary lacks %q:\n%s", s, text.String())
			}
		}
	}
}

// TestCoordinatedOmission: a server that stalls once for 500 ms. With one
// worker at 100 req/s the ~50 requests due during the stall queue behind it;
// measured from their intended send times they must show the queueing
// (closed-loop style measurement would report one slow request and 99 fast).
func TestCoordinatedOmission(t *testing.T) {
	const stall = 500 * time.Millisecond
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 10 {
			time.Sleep(stall)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	cfg := baseConfig(srv.URL)
	cfg.Rate, cfg.Requests, cfg.Concurrency, cfg.MaxWorkers = 100, 100, 1, 1
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Histogram()
	if res.Requests != 100 {
		t.Fatalf("%d requests, want 100", res.Requests)
	}
	var slow int64 // requests slower than 100 ms from their intended time
	for _, b := range h.Distribution() {
		if b.From >= int64(100*time.Millisecond/time.Microsecond) {
			slow += b.Count
		}
	}
	if slow < 25 {
		t.Errorf("%d requests over 100 ms; queued requests must include the stall (want ≥ 25)", slow)
	}
	if res.Latency.Max < float64(stall/time.Millisecond)*0.95 {
		t.Errorf("max latency %.1f ms, want ≥ the %s stall", res.Latency.Max, stall)
	}
	// Half the requests were due during the stall, waiting 0–500 ms: p90 ≈ 400 ms.
	if res.Latency.P90 < 200 {
		t.Errorf("p90 %.1f ms: the stall's queue is missing from the percentiles", res.Latency.P90)
	}
	// Service time (from the actual send) is the uncorrected view: one slow request.
	if res.ServiceTime == nil || res.ServiceTime.P90 > 100 {
		t.Errorf("service time %+v: want p90 well under the stall", res.ServiceTime)
	}
}

// TestOpenLoopGrowsWorkers: a slow server must not lower the offered rate;
// workers grow (bounded) to keep the schedule.
func TestOpenLoopGrowsWorkers(t *testing.T) {
	var c atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c.Add(1)
		time.Sleep(100 * time.Millisecond)
	}))
	defer srv.Close()
	cfg := baseConfig(srv.URL)
	cfg.Rate, cfg.Requests, cfg.Concurrency, cfg.MaxWorkers = 200, 100, 1, 64
	start := time.Now()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// With one worker this would take 10 s; the schedule says 0.5 s.
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s: the open loop did not keep its rate against a slow server", el)
	}
	if res.Workers <= 1 || res.Workers > 64 {
		t.Errorf("ended with %d workers, want 2..64", res.Workers)
	}
	if res.Successes != 100 {
		t.Errorf("%d successes, want 100", res.Successes)
	}
}

func TestInterrupt(t *testing.T) {
	var c counter
	srv := httptest.NewServer(c.handler(nil))
	defer srv.Close()
	for _, rate := range []float64{0, 100} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		cfg := baseConfig(srv.URL)
		cfg.Rate, cfg.Concurrency = rate, 2
		var calls atomic.Int64
		cfg.Progress, cfg.ProgressInterval = func(Progress) { calls.Add(1) }, 50*time.Millisecond
		start := time.Now()
		res, err := Run(ctx, cfg) // no count or duration: runs until ctx ends
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("interrupt took %s", time.Since(start))
		}
		if !res.Interrupted || res.Requests == 0 {
			t.Errorf("interrupted=%v requests=%d, want true and > 0", res.Interrupted, res.Requests)
		}
		if calls.Load() == 0 {
			t.Error("progress callback never called")
		}
	}
}

// TestConfigErrors: bad configurations fail before any connection is made,
// with a message naming the problem; the valid row is the negative control.
func TestConfigErrors(t *testing.T) {
	var c counter
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(c.handler(nil))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		name string
		mod  func(*Config)
		want string // in the error; "" for the valid control
	}{
		{"valid control", func(c *Config) { c.Headers = http.Header{"X-A": {"a b; c=d"}} }, ""},
		{"no url", func(c *Config) { c.URL = "" }, "no target URL"},
		{"bad scheme", func(c *Config) { c.URL = "ftp://x" }, "scheme must be http or https"},
		{"no scheme", func(c *Config) { c.URL = hostPort + "/predict" }, "has no scheme: write http://" + hostPort + "/predict"},
		{"no scheme localhost", func(c *Config) { c.URL = "localhost:8000" }, "write http://localhost:8000"},
		{"header value with CRLF", func(c *Config) { c.Headers = http.Header{"X-A": {"a\r\nX-Injected: 1"}} }, "X-A: value"},
		{"header value with LF", func(c *Config) { c.Headers = http.Header{"X-A": {"a\nb"}} }, "contains CR, LF"},
		{"header value with CR", func(c *Config) { c.Headers = http.Header{"X-A": {"a\rb"}} }, "contains CR, LF"},
		{"header name with space", func(c *Config) { c.Headers = http.Header{"X A": {"a"}} }, "not a valid HTTP token"},
		{"header name with CRLF", func(c *Config) { c.Headers = http.Header{"X\r\nA": {"a"}} }, "not a valid HTTP token"},
		{"bad method", func(c *Config) { c.Method = "GET /x" }, "method"},
		{"no host", func(c *Config) { c.URL = "http://" }, "no host"},
		{"ratio", func(c *Config) { c.ErrorRatio = 1.5 }, "error ratio"},
		{"ratio without invalid body", func(c *Config) { c.ErrorRatio = 0.5; c.InvalidBody = nil }, "invalid payload"},
		{"shape without rate", func(c *Config) { c.Shape = ShapeSpike; c.Duration = time.Second }, "rate"},
		{"shape without duration", func(c *Config) { c.Shape = ShapeRamp; c.Rate = 10 }, "duration"},
		{"unknown shape", func(c *Config) { c.Shape = "square"; c.Rate = 10 }, "square"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate"},
		{"unbounded", func(c *Config) { c.Requests = 0 }, "unbounded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients(t, func(t *testing.T, std bool) {
				before := c.total.Load()
				conns.Store(0)
				cfg := baseConfig(srv.URL + "/predict")
				cfg.Requests, cfg.StdClient = 1, std
				tc.mod(&cfg)
				res, err := Run(context.Background(), cfg)
				if tc.want == "" {
					if err != nil || res.Successes != 1 || c.total.Load() != before+1 {
						t.Fatalf("valid config: err=%v result=%+v", err, res)
					}
					return
				}
				if err == nil {
					t.Fatalf("want an error containing %q", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not contain %q", err, tc.want)
				}
				if conns.Load() != 0 || c.total.Load() != before {
					t.Errorf("%d connections, %d requests made despite the error", conns.Load(), c.total.Load()-before)
				}
			})
		})
	}
}

func TestInvalidAt(t *testing.T) {
	for _, r := range []float64{0, 0.01, 0.1, 1.0 / 3, 0.5, 0.9, 1} {
		var n int64
		for i := range int64(1000) {
			if invalidAt(i, r) {
				n++
			}
		}
		if want := int64(1000 * r); n < want-1 || n > want+1 {
			t.Errorf("ratio %v: %d of 1000 invalid, want %d", r, n, want)
		}
	}
}
