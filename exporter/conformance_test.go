package exporter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream is a scripted upstream on raw TCP: serve runs once per
// accepted connection and writes whatever bytes the case needs.
type rawUpstream struct {
	ln    net.Listener
	reqs  atomic.Int64 // complete requests read
	conns atomic.Int64
	wg    sync.WaitGroup
}

func newRawUpstream(t *testing.T, serve func(u *rawUpstream, c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				serve(u, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

// readReq reads one request and its body; ok is false when the connection
// ended.
func (u *rawUpstream) readReq(br *bufio.Reader) (*http.Request, string, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", false
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, "", false
	}
	u.reqs.Add(1)
	return req, string(b), true
}

// answer is a complete response with a Content-Length.
func answer(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// loop serves requests on one connection with reply(request body).
func loop(reply func(body string) string) func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
	return func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		for {
			_, body, ok := u.readReq(br)
			if !ok {
				return
			}
			if _, err := io.WriteString(c, reply(body)); err != nil {
				return
			}
		}
	}
}

// echo is the answer carrying the request's id back.
func echo(body string) string { return `{"predictions":[` + body + `]}` }

func TestConformance(t *testing.T) {
	tests := []struct {
		name      string
		serve     func(u *rawUpstream, c net.Conn, br *bufio.Reader)
		expect100 bool
		wantCode  int
		wantBody  string // exact, or "" to skip
		wantCause string // upstream_failures_total cause, "" for none
		again     bool   // a second request on the same client must get its own answer
		wantReqs  int64  // requests the upstream read (0: not checked)
	}{
		{
			name:     "103 then 200",
			serve:    loop(func(b string) string { return "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + answer(echo(b)) }),
			wantCode: 200, wantBody: echo("1"), again: true,
		},
		{
			name:     "100 continue then 200",
			serve:    loop(func(b string) string { return "HTTP/1.1 100 Continue\r\n\r\n" + answer(echo(b)) }),
			wantCode: 200, wantBody: echo("1"), again: true,
		},
		{
			name: "client sends Expect: 100-continue",
			serve: func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
				for {
					req, b, ok := u.readReq(br)
					if !ok {
						return
					}
					if req.Header.Get("Expect") != "" {
						b = `"expect forwarded"`
					}
					_, _ = io.WriteString(c, answer(echo(b)))
				}
			},
			expect100: true, wantCode: 200, wantBody: echo("1"), again: true,
		},
		{
			name: "close mid-body",
			serve: func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
				u.readReq(br)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"pred")
			},
			wantCode: 502, wantCause: CauseBadResponse, wantReqs: 1,
		},
		{
			name:     "Content-Length shorter than body",
			serve:    loop(func(b string) string { return answer(echo(b)) + `,"junk":"after the declared length"}` }),
			wantCode: 200, wantBody: echo("1"), again: true,
		},
		{
			name: "Content-Length longer than body",
			serve: func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
				u.readReq(br)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"predictions\":[1]}")
			},
			wantCode: 502, wantCause: CauseBadResponse, wantReqs: 1,
		},
		{
			name: "chunked with trailers",
			serve: loop(func(b string) string {
				p := echo(b)
				return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n%x\r\n%s\r\n0\r\nX-Checksum: abc\r\n\r\n", len(p), p)
			}),
			wantCode: 200, wantBody: echo("1"), again: true,
		},
		{
			name:     "leftover bytes after a response",
			serve:    loop(func(b string) string { return answer(echo(b)) + answer(echo(`"stale"`)) }),
			wantCode: 200, wantBody: echo("1"), again: true,
		},
		{
			name: "upstream reset",
			serve: func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
				u.readReq(br)
				_ = c.(*net.TCPConn).SetLinger(0) // RST instead of FIN
			},
			wantCode: 502, wantCause: CauseBadResponse, wantReqs: 1,
		},
		{
			name:     "written POST is not retried",
			serve:    func(u *rawUpstream, c net.Conn, br *bufio.Reader) { u.readReq(br) }, // then close, no answer
			wantCode: 502, wantCause: CauseBadResponse, wantReqs: 1,
		},
		{
			name: "unsolicited 101",
			serve: loop(func(string) string {
				return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
			}),
			wantCode: 502, wantCause: CauseBadResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRawUpstream(t, tt.serve)
			_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow, Timeout: 2 * time.Second})
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			post := func(id string) (int, string, http.Header) {
				req, _ := http.NewRequest("POST", px.URL+"/predict", strings.NewReader(id))
				req.Header.Set("Content-Type", "application/json")
				if tt.expect100 {
					req.Header.Set("Expect", "100-continue")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("POST: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b), resp.Header
			}
			code, body, h := post("1")
			if code != tt.wantCode {
				t.Fatalf("status %d %q, want %d", code, body, tt.wantCode)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if code != 200 {
				var e struct{ ErrorCode, Message, Cause string }
				if err := json.Unmarshal([]byte(body), &struct {
					ErrorCode *string `json:"error_code"`
					Message   *string `json:"message"`
					Cause     *string `json:"cause"`
				}{&e.ErrorCode, &e.Message, &e.Cause}); err != nil || e.ErrorCode == "" || e.Cause != tt.wantCause {
					t.Errorf("error body %q: want MLflow shape with cause %q (%v)", body, tt.wantCause, err)
				}
				if strings.Contains(body, "127.0.0.1") || h.Get("Content-Type") != "application/json" {
					t.Errorf("error answer leaks an address or is not JSON: %q %v", body, h)
				}
			}
			wantOK := 0.0
			if tt.again {
				for i := 2; i <= 4; i++ {
					// A pause lets leftover bytes reach the idle connection's
					// socket (the pool's peek then drops it); TestCrossTalk
					// covers bytes still in flight.
					time.Sleep(20 * time.Millisecond)
					id := fmt.Sprint(i)
					if code, body, _ := post(id); code != 200 || body != echo(id) {
						t.Errorf("request %d on the same client: %d %q, want 200 %q", i, code, body, echo(id))
					}
				}
				wantOK = 3
			}
			if tt.wantReqs > 0 {
				if n := up.reqs.Load(); n != tt.wantReqs {
					t.Errorf("upstream read %d requests, want %d (no retry of a written POST)", n, tt.wantReqs)
				}
			}
			mfs := scrape(t, px.URL)
			for _, c := range []string{CauseTimeout, CauseRefused, CauseBadResponse, CauseClientGone} {
				want := 0.0
				if c == tt.wantCause {
					want = 1
				}
				mustValue(t, mfs, MetricUpstreamFailures, map[string]string{"cause": c}, want)
			}
			if tt.wantCode == 200 {
				wantOK++
			} else {
				mustValue(t, mfs, MetricRequests, map[string]string{"route": "/predict", "code": fmt.Sprint(tt.wantCode)}, 1)
			}
			if wantOK > 0 {
				mustValue(t, mfs, MetricRequests, map[string]string{"route": "/predict", "code": "200"}, wantOK)
			}
		})
	}
}

// TestConformanceUpstreamsAreHostile is the negative control of
// TestConformance: a naive client (one http.ReadResponse per request on a
// kept-alive connection, as the deleted hand-written client did) really is
// fooled by these scripted upstreams, so the suite can fail.
func TestConformanceUpstreamsAreHostile(t *testing.T) {
	tests := []struct {
		name  string
		serve func(u *rawUpstream, c net.Conn, br *bufio.Reader)
		// wrong reports whether the naive client's first or second answer
		// is not the one for its request.
		wrong func(first, second *http.Response, b1, b2 string) bool
	}{
		{
			"103 then 200",
			loop(func(b string) string { return "HTTP/1.1 103 Early Hints\r\n\r\n" + answer(echo(b)) }),
			func(f, s *http.Response, b1, b2 string) bool { return f.StatusCode == 103 || b2 != echo("2") },
		},
		{
			"leftover bytes after a response",
			loop(func(b string) string { return answer(echo(b)) + answer(echo(`"stale"`)) }),
			func(f, s *http.Response, b1, b2 string) bool { return b2 != echo("2") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRawUpstream(t, tt.serve)
			c, err := net.Dial("tcp", up.ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			br := bufio.NewReader(c)
			naive := func(id string) (*http.Response, string) {
				fmt.Fprintf(c, "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(id), id)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("naive read: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			f, b1 := naive("1")
			s, b2 := naive("2")
			if !tt.wrong(f, s, b1, b2) {
				t.Errorf("the naive client was not fooled (%d %q, %d %q): the upstream script is not hostile", f.StatusCode, b1, s.StatusCode, b2)
			}
		})
	}
}

// TestWrittenPostNotRetried: a POST that reached the upstream is not sent
// again when the connection breaks before the answer, even with an
// Idempotency-Key header (which net/http's Transport would retry on a reused
// connection). The key still reaches the upstream.
func TestWrittenPostNotRetried(t *testing.T) {
	var keys sync.Map
	up := newRawUpstream(t, func(u *rawUpstream, c net.Conn, br *bufio.Reader) {
		for {
			req, b, ok := u.readReq(br)
			if !ok {
				return
			}
			keys.Store(req.Header.Get("Idempotency-Key"), true)
			if b == `"break"` {
				return // close after reading it whole: no answer
			}
			_, _ = io.WriteString(c, answer(echo(b)))
		}
	})
	_, px := startExporter(t, Config{Upstream: up.url(), Kind: KindMLflow})
	for _, body := range []string{`1`, `"break"`} { // the second one uses the pooled connection
		req, _ := http.NewRequest("POST", px.URL+"/predict", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", "k-"+body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if body != `1` {
			want = 502
		}
		if resp.StatusCode != want {
			t.Errorf("POST %s: %d, want %d", body, resp.StatusCode, want)
		}
	}
	if n := up.reqs.Load(); n != 2 {
		t.Errorf("upstream read %d requests, want 2 (the broken one must not be sent again)", n)
	}
	if _, ok := keys.Load(`k-1`); !ok {
		t.Error("Idempotency-Key not forwarded")
	}
}
