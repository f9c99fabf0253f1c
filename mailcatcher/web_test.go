package mailcatcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/smtp"
	"net/textproto"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	gosmtp "github.com/emersion/go-smtp"
)

// sendAll sends each message over one real SMTP session (go-smtp's client).
func sendAll(t testing.TB, s *Server, msgs ...string) {
	t.Helper()
	c, err := gosmtp.Dial(s.SMTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, m := range msgs {
		if err := c.SendMail("alerts@example.com", []string{"oncall@example.com"}, strings.NewReader(m)); err != nil {
			t.Fatalf("send message %d: %v", i, err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// lines repeats s (which must not contain CRLF) n times, as CRLF lines of
// at most 998 characters (RFC 5322).
func lines(s string, n int) string {
	all := strings.Repeat(s, n)
	var b strings.Builder
	for len(all) > 998 {
		b.WriteString(all[:998])
		b.WriteString("\r\n")
		all = all[998:]
	}
	b.WriteString(all)
	return b.String()
}

func mailWithSubject(subject, body string) string {
	return "From: alerts@example.com\r\nTo: oncall@example.com\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n"
}

// get fetches base+path and returns the status, headers and body.
func get(t testing.TB, s *Server, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestPagination(t *testing.T) {
	s := startServer(t, 500)
	var msgs []string
	for i := 1; i <= 120; i++ {
		msgs = append(msgs, mailWithSubject(fmt.Sprintf("msg %03d", i), "body"))
	}
	sendAll(t, s, msgs...)

	tests := []struct {
		query              string
		status             int
		first, last, count int // subjects "msg FIRST" … "msg LAST" (newest first)
		next, prev         string
		errorMentions      string
	}{
		{query: "", status: 200, first: 120, last: 71, count: 50, next: "page=2&limit=50"},
		{query: "?page=1", status: 200, first: 120, last: 71, count: 50, next: "page=2&limit=50"},
		{query: "?page=2", status: 200, first: 70, last: 21, count: 50, next: "page=3&limit=50", prev: "page=1&limit=50"},
		{query: "?page=3", status: 200, first: 20, last: 1, count: 20, prev: "page=2&limit=50"},
		{query: "?page=4", status: 200, count: 0, prev: "page=3&limit=50"},
		{query: "?page=9", status: 200, count: 0, prev: "page=3&limit=50"},
		{query: "?limit=10&page=12", status: 200, first: 10, last: 1, count: 10, prev: "page=11&limit=10"},
		{query: "?limit=500", status: 200, first: 120, last: 1, count: 120},
		{query: "?limit=0", status: 400, errorMentions: "limit"},
		{query: "?limit=501", status: 400, errorMentions: "limit"},
		{query: "?page=0", status: 400, errorMentions: "page"},
		{query: "?page=x", status: 400, errorMentions: "page"},
	}
	for _, tt := range tests {
		t.Run("api"+tt.query, func(t *testing.T) {
			code, h, body := get(t, s, "/api/messages"+tt.query)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			if tt.status != 200 {
				var e struct{ Error string }
				if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tt.errorMentions) {
					t.Errorf("error body %s does not name %q", body, tt.errorMentions)
				}
				return
			}
			var got []Message
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Fatalf("%d messages, want %d", len(got), tt.count)
			}
			if tt.count > 0 {
				if want := fmt.Sprintf("msg %03d", tt.first); got[0].Subject != want {
					t.Errorf("first %q, want %q", got[0].Subject, want)
				}
				if want := fmt.Sprintf("msg %03d", tt.last); got[len(got)-1].Subject != want {
					t.Errorf("last %q, want %q", got[len(got)-1].Subject, want)
				}
			}
			if h.Get("X-Total-Count") != "120" {
				t.Errorf("X-Total-Count %q", h.Get("X-Total-Count"))
			}
			links := strings.Join(h.Values("Link"), ", ")
			for rel, want := range map[string]string{"next": tt.next, "prev": tt.prev} {
				has := strings.Contains(links, `rel="`+rel+`"`)
				if has != (want != "") || (want != "" && !strings.Contains(links, want+`>; rel="`+rel+`"`)) {
					t.Errorf("Link %q: want %s %q", links, rel, want)
				}
			}
		})
		t.Run("page"+tt.query, func(t *testing.T) {
			code, _, body := get(t, s, "/"+tt.query)
			if code != tt.status {
				t.Fatalf("status %d, want %d", code, tt.status)
			}
			if tt.status != 200 {
				if !strings.Contains(string(body), tt.errorMentions) {
					t.Errorf("error %q does not name %q", body, tt.errorMentions)
				}
				return
			}
			subjects := regexp.MustCompile(`msg \d{3}`).FindAllString(string(body), -1)
			if len(subjects) != tt.count {
				t.Fatalf("%d subjects on the page, want %d", len(subjects), tt.count)
			}
			if tt.count > 0 && (subjects[0] != fmt.Sprintf("msg %03d", tt.first) || subjects[len(subjects)-1] != fmt.Sprintf("msg %03d", tt.last)) {
				t.Errorf("page lists %s … %s, want %d … %d", subjects[0], subjects[len(subjects)-1], tt.first, tt.last)
			}
			if strings.Contains(string(body), `http-equiv="refresh"`) {
				t.Error("page reloads itself")
			}
		})
	}
}

func TestTruncation(t *testing.T) {
	s := startServer(t, 10)
	// A long text part (multi-byte characters, so the cut must respect UTF-8)
	// and a long HTML part; each ends with a marker far past PreviewBytes.
	text := strings.Repeat("äöü line of the alert text\r\n", 4000) + "TEXT-END"
	htm := "<p>" + lines("html line ", 10000) + "HTML-END</p>"
	raw := "From: alerts@example.com\r\nTo: oncall@example.com\r\nSubject: long\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n" +
		"--B\r\nContent-Type: text/html\r\n\r\n" + htm + "\r\n--B--\r\n"
	short := mailWithSubject("short", "SHORT-BODY")
	if err := smtp.SendMail(s.SMTPAddr().String(), nil, "alerts@example.com", []string{"oncall@example.com"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	sendAll(t, s, short)

	_, _, body := get(t, s, "/api/messages")
	var list []Message
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	long, shortMsg := list[1], list[0]
	tests := []struct {
		name    string
		ok      bool
		explain string
	}{
		{"list text cut", len(long.Text) <= PreviewBytes && len(long.Text) > PreviewBytes-8 && utf8.ValidString(long.Text), fmt.Sprintf("%d bytes, valid UTF-8 %v", len(long.Text), utf8.ValidString(long.Text))},
		{"list html cut", len(long.HTML) <= PreviewBytes && !strings.Contains(long.HTML, "HTML-END"), fmt.Sprintf("%d bytes", len(long.HTML))},
		{"list marks cut", long.Truncated && long.Raw == "", fmt.Sprintf("truncated %v, raw %d bytes", long.Truncated, len(long.Raw))},
		{"short not cut", !shortMsg.Truncated && strings.Contains(shortMsg.Text, "SHORT-BODY"), fmt.Sprintf("%+v", shortMsg)},
		{"list body small", len(body) < 4*PreviewBytes, fmt.Sprintf("%d bytes", len(body))},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("%s: %s", tt.name, tt.explain)
		}
	}

	pages := []struct {
		path            string
		contains, lacks []string
		maxSize         int
	}{
		{"/", []string{"äöü line of the alert text", `href="/messages/` + long.ID + `"`, "SHORT-BODY"}, []string{"TEXT-END", "HTML-END"}, 20 << 10},
		{"/messages/" + long.ID, []string{"TEXT-END", "HTML-END", `sandbox srcdoc="&lt;p&gt;html line`, "/api/messages/" + long.ID + "/raw"}, nil, 1 << 20},
		{"/api/messages/" + long.ID, []string{"TEXT-END", "HTML-END", `"raw": "From: alerts@example.com`}, []string{`"truncated"`}, 1 << 20},
		{"/api/messages/" + long.ID + "/raw", []string{raw}, nil, len(raw)},
		{"/messages/999", []string{"no message 999"}, nil, 100},
	}
	for _, tt := range pages {
		code, h, body := get(t, s, tt.path)
		if (code == 200) != !strings.HasSuffix(tt.path, "999") {
			t.Errorf("GET %s: status %d", tt.path, code)
		}
		for _, c := range tt.contains {
			if !strings.Contains(string(body), c) {
				t.Errorf("GET %s lacks %.80q", tt.path, c)
			}
		}
		for _, c := range tt.lacks {
			if strings.Contains(string(body), c) {
				t.Errorf("GET %s contains %q", tt.path, c)
			}
		}
		if len(body) > tt.maxSize {
			t.Errorf("GET %s: %d bytes, want at most %d", tt.path, len(body), tt.maxSize)
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") && !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: no CSP", tt.path)
		}
	}
	var full Message
	_, _, body = get(t, s, "/api/messages/"+long.ID)
	if err := json.Unmarshal(body, &full); err != nil {
		t.Fatal(err)
	}
	if full.Raw != raw || !strings.HasSuffix(full.Text, "TEXT-END") || full.Truncated {
		t.Errorf("whole message: raw equal %v, text ends %q, truncated %v", full.Raw == raw, full.Text[max(0, len(full.Text)-20):], full.Truncated)
	}
}

// TestHTMLIsInert checks that mail content cannot run script on the page.
func TestHTMLIsInert(t *testing.T) {
	s := startServer(t, 10)
	evil := "From: x@example.com\r\nSubject: <script>alert(1)</script>\r\nContent-Type: text/html\r\n\r\n" +
		`<img src="http://example.com/track.png"><script>alert(2)</script>"onload="x` + "\r\n"
	sendAll(t, s, evil)
	id := s.Store().List()[0].ID
	for _, path := range []string{"/", "/messages/" + id} {
		_, h, body := get(t, s, path)
		if strings.Contains(string(body), "<script>") || strings.Contains(string(body), `"onload=`) {
			t.Errorf("GET %s: mail markup not escaped:\n%s", path, body)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
}

func TestEviction(t *testing.T) {
	body := lines("x", 20<<10) // 20 KiB each
	tests := []struct {
		name      string
		cfg       Config
		send      int
		wantLen   int   // -1: computed from the byte limit
		wantBytes int64 // store bytes at most this (0: no check)
	}{
		{"by count", Config{MaxMessages: 3}, 5, 3, 0},
		{"by bytes", Config{MaxMessages: 100, MaxTotalBytes: 100 << 10, MaxMessageBytes: 30 << 10}, 10, -1, 100 << 10},
		{"both within", Config{MaxMessages: 100, MaxTotalBytes: 1 << 20, MaxMessageBytes: 1 << 20}, 5, 5, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startConfig(t, tt.cfg)
			var msgs []string
			for i := 1; i <= tt.send; i++ {
				msgs = append(msgs, mailWithSubject(fmt.Sprintf("m%d", i), body))
			}
			sendAll(t, s, msgs...)
			st := s.Store()
			n, b := st.Len(), st.Bytes()
			want := tt.wantLen
			if want < 0 { // as many equal messages as fit
				want = int(tt.cfg.MaxTotalBytes / (b / int64(n)))
			}
			if n != want {
				t.Errorf("%d messages kept, want %d (store %d bytes)", n, want, b)
			}
			if tt.wantBytes > 0 && b > tt.wantBytes {
				t.Errorf("store holds %d bytes, limit %d", b, tt.wantBytes)
			}
			if got := int(st.Dropped()); got != tt.send-n {
				t.Errorf("dropped %d, want %d", got, tt.send-n)
			}
			// The newest are kept, in order; the oldest are gone.
			list := st.List()
			for i, m := range list {
				if want := fmt.Sprintf("m%d", tt.send-i); m.Subject != want {
					t.Errorf("list[%d] = %q, want %q", i, m.Subject, want)
				}
			}
			if _, ok := st.Get("1"); ok != (n == tt.send) {
				t.Errorf("oldest message present = %v", ok)
			}
			if code, _, _ := get(t, s, "/api/messages/1"); (code == 200) != (n == tt.send) {
				t.Errorf("GET /api/messages/1 after eviction: %d", code)
			}
		})
	}
}

func TestOversizedRejected(t *testing.T) {
	const limit = 10 << 10
	s := startConfig(t, Config{MaxMessageBytes: limit})
	tests := []struct {
		name    string
		size    int
		client  string // net/smtp (refused after DATA) or go-smtp (declares SIZE=, refused at MAIL)
		wantErr int    // SMTP code; 0: accepted
	}{
		{"half the limit", limit / 2, "net/smtp", 0},
		{"twice the limit", 2 * limit, "net/smtp", 552},
		{"way over, go-smtp", 100 * limit, "go-smtp", 552},
		{"just under, go-smtp", limit - 200, "go-smtp", 0},
	}
	accepted := 0
	for _, tt := range tests {
		msg := mailWithSubject(tt.name, lines("y", tt.size))
		var err error
		switch tt.client {
		case "net/smtp":
			err = smtp.SendMail(s.SMTPAddr().String(), nil, "a@example.com", []string{"b@example.com"}, []byte(msg))
		default: // go-smtp's client, declaring the size in MAIL FROM (RFC 1870)
			err = sendDeclaringSize(s, msg)
		}
		code := 0
		if err != nil {
			var tp *textproto.Error
			var se *gosmtp.SMTPError
			switch {
			case errors.As(err, &tp):
				code = tp.Code
			case errors.As(err, &se):
				code = se.Code
			default:
				code = -1
			}
		}
		if code != tt.wantErr {
			t.Errorf("%s (%d bytes): SMTP code %d (%v), want %d", tt.name, len(msg), code, err, tt.wantErr)
		}
		if code == 0 {
			accepted++
		}
	}
	if s.Store().Len() != accepted {
		t.Errorf("store holds %d messages, %d were accepted", s.Store().Len(), accepted)
	}
}

// sendDeclaringSize sends msg with MAIL FROM:<…> SIZE=len(msg).
func sendDeclaringSize(s *Server, msg string) error {
	c, err := gosmtp.Dial(s.SMTPAddr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail("a@example.com", &gosmtp.MailOptions{Size: int64(len(msg))}); err != nil {
		return err
	}
	if err := c.Rcpt("b@example.com", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

// TestMemoryBounded stores 100 messages of ~1 MB under a 20 MB byte limit:
// the store must stay within it, the heap must not hold the 100 MB sent, and
// the list page and API must stay small.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 100 MB over SMTP")
	}
	const limit = 20 << 20
	s := startConfig(t, Config{MaxMessages: 500, MaxTotalBytes: limit, MaxMessageBytes: 2 << 20})
	line := strings.Repeat("z", 998) + "\r\n"
	body := strings.Repeat(line, 1000) // ~1 MB
	c, err := gosmtp.Dial(s.SMTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader(mailWithSubject("big "+strconv.Itoa(i), body))); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	c.Quit()

	st := s.Store()
	if st.Bytes() > limit || st.Len() > 20 || st.Len() < 15 {
		t.Errorf("store: %d messages, %d bytes; want ≤ 20 messages within %d bytes", st.Len(), st.Bytes(), limit)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("store %d messages, %d bytes; heap in use %d MB", st.Len(), st.Bytes(), ms.HeapAlloc>>20)
	if ms.HeapAlloc > 60<<20 { // 20 MB store + test binary and slack; unbounded it would be > 100 MB
		t.Errorf("heap %d MB after 100 MB sent under a 20 MB limit", ms.HeapAlloc>>20)
	}
	for _, path := range []string{"/", "/api/messages", "/api/messages?limit=500"} {
		code, _, b := get(t, s, path)
		if code != 200 || len(b) > 256<<10 {
			t.Errorf("GET %s: status %d, %d bytes; want 200 and at most 256 KiB", path, code, len(b))
		}
	}
	// Negative control: without the byte limit the same messages exceed it.
	unbounded := NewStoreLimits(Limits{MaxMessages: 500})
	raw := []byte(mailWithSubject("big", body))
	for i := 0; i < 30; i++ {
		unbounded.AddRaw(raw, "a@example.com", []string{"b@example.com"}, s.Store().List()[0].ReceivedAt)
	}
	if unbounded.Bytes() <= limit {
		t.Errorf("control: an unbounded store holds only %d bytes", unbounded.Bytes())
	}
}

func TestDeleteOne(t *testing.T) {
	s := startServer(t, 10)
	sendAll(t, s, mailWithSubject("a", "1"), mailWithSubject("b", "2"))
	tests := []struct {
		id   string
		code int
		left int
	}{
		{"1", 204, 1},
		{"1", 404, 1},
		{"x", 404, 1},
		{"2", 204, 0},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+s.HTTPAddr().String()+"/api/messages/"+tt.id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code || s.Store().Len() != tt.left {
			t.Errorf("DELETE %s: %d with %d left, want %d with %d left", tt.id, resp.StatusCode, s.Store().Len(), tt.code, tt.left)
		}
	}
	if s.Store().Bytes() != 0 {
		t.Errorf("empty store accounts %d bytes", s.Store().Bytes())
	}
}
