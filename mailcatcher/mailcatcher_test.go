package mailcatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

func startServer(t *testing.T, max int) *Server {
	t.Helper()
	return startConfig(t, Config{MaxMessages: max})
}

// startConfig starts a server with cfg on loopback ports chosen by the kernel.
func startConfig(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.SMTPListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func apiMessages(t *testing.T, s *Server) []Message {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr().String() + "/api/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/messages: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var out []Message
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

const plainMail = "From: Alerts <alerts@example.com>\r\n" +
	"To: oncall@example.com\r\n" +
	"Subject: =?UTF-8?Q?[FIRING:1]_high=5Ferror=5Fratio_=E2=9C=93?=\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
	"\r\n" +
	"hello <b>world</b>\r\n"

func TestSMTPToAPI(t *testing.T) {
	s := startServer(t, 10)
	addr := s.SMTPAddr().String()
	tests := []struct {
		name string
		auth smtp.Auth
	}{
		{"no auth", nil},
		{"auth plain", smtp.PlainAuth("", "user", "secret", "127.0.0.1")},
	}
	for i, tt := range tests {
		to := fmt.Sprintf("oncall%d@example.com", i)
		if err := smtp.SendMail(addr, tt.auth, "alerts@example.com", []string{to, "cc@example.com"}, []byte(plainMail)); err != nil {
			t.Fatalf("%s: send: %v", tt.name, err)
		}
		msgs := apiMessages(t, s)
		if len(msgs) != i+1 {
			t.Fatalf("%s: %d messages, want %d", tt.name, len(msgs), i+1)
		}
		m := msgs[0] // newest first
		if m.To[0] != to || len(m.To) != 2 {
			t.Errorf("%s: to = %v", tt.name, m.To)
		}
		if m.Subject != "[FIRING:1] high_error_ratio ✓" {
			t.Errorf("%s: subject = %q", tt.name, m.Subject)
		}
		if m.From != `"Alerts" <alerts@example.com>` && m.From != "Alerts <alerts@example.com>" {
			t.Errorf("%s: from = %q", tt.name, m.From)
		}
		if m.Date != "2006-01-02T15:04:05Z" || m.Text != "hello <b>world</b>\r\n" || m.ReceivedAt.IsZero() || m.ID == "" {
			t.Errorf("%s: %+v", tt.name, m)
		}
	}
	// GET one, 404, page escaping, DELETE, healthz.
	base := "http://" + s.HTTPAddr().String()
	msgs := apiMessages(t, s)
	resp, err := http.Get(base + "/api/messages/" + msgs[1].ID)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET one: %v %v", err, resp)
	}
	var one Message
	json.NewDecoder(resp.Body).Decode(&one)
	resp.Body.Close()
	if one.ID != msgs[1].ID || one.To[0] != "oncall0@example.com" {
		t.Errorf("GET one = %+v", one)
	}
	if resp, _ := http.Get(base + "/api/messages/999"); resp.StatusCode != 404 {
		t.Errorf("unknown id: %s", resp.Status)
	}
	resp, _ = http.Get(base + "/")
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte("high_error_ratio")) || bytes.Contains(page, []byte("<b>world</b>")) || !bytes.Contains(page, []byte("&lt;b&gt;world&lt;/b&gt;")) {
		t.Errorf("page does not list the message escaped:\n%s", page)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/messages", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE: %v %v", err, resp)
	}
	if n := len(apiMessages(t, s)); n != 0 {
		t.Errorf("%d messages after DELETE", n)
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", err, resp)
	}
}

func TestAuthLogin(t *testing.T) {
	s := startServer(t, 10)
	c, err := gosmtp.Dial(s.SMTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(gosasl.NewLoginClient("user", "pw")); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("Subject: login\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if msgs := apiMessages(t, s); len(msgs) != 1 || msgs[0].Subject != "login" || msgs[0].From != "a@example.com" {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestMultipartQuotedPrintable(t *testing.T) {
	raw := strings.ReplaceAll(`From: "Grafana" <grafana@example.com>
To: a@example.com, b@example.com
Subject: [FIRING:1] high_latency_p95_demo
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Value: B=3D0.955 =E2=80=94 model demo has a very long line that is soft-wrapp=
ed here.
--BOUNDARY
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: base64

PGh0bWw+PGJvZHk+PHA+VmFsdWU6IEI9MC45NTU8L3A+PC9ib2R5PjwvaHRtbD4=
--BOUNDARY--
`, "\n", "\r\n")
	m, err := ParseMessage([]byte(raw), "envelope@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Value: B=0.955 — model demo has a very long line that is soft-wrapped here." {
		t.Errorf("text = %q", m.Text)
	}
	if m.HTML != "<html><body><p>Value: B=0.955</p></body></html>" {
		t.Errorf("html = %q", m.HTML)
	}
	if strings.Join(m.To, ",") != "a@example.com,b@example.com" {
		t.Errorf("to from header = %v", m.To)
	}

	// HTML only, nested multipart: the text comes from the HTML.
	raw2 := strings.ReplaceAll(`Subject: html only
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/related; boundary=inner

--inner
Content-Type: text/html

<style>p{}</style><p>A &amp; B</p><p>second</p>
--inner
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--inner--
--outer--
`, "\n", "\r\n")
	m2, err := ParseMessage([]byte(raw2), "x@example.com", []string{"y@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Text != "A & B\nsecond" || m2.From != "x@example.com" {
		t.Errorf("html-only: %+v", m2)
	}
}

func TestStoreRing(t *testing.T) {
	st := NewStore(3)
	for i := 1; i <= 5; i++ {
		st.Add(Message{Subject: fmt.Sprint(i)})
	}
	got := st.List()
	if len(got) != 3 || got[0].Subject != "5" || got[2].Subject != "3" || got[0].ID != "5" {
		t.Errorf("list = %+v", got)
	}
	if _, ok := st.Get("1"); ok {
		t.Error("dropped message still there")
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); st.Add(Message{}); st.List() }()
	}
	wg.Wait()
	if st.Len() != 3 {
		t.Errorf("len = %d", st.Len())
	}
}

func TestGracefulShutdown(t *testing.T) {
	s, err := New(Config{SMTPListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, 2*time.Second) }()
	select {
	case <-s.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not listening")
	}
	// A session in flight when the signal comes is allowed to finish.
	c, err := gosmtp.Dial(s.SMTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("test"); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(50 * time.Millisecond)
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("Subject: late\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("session in flight: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("quit: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.SMTPAddr().String(), time.Second); err == nil {
		t.Error("still accepting after shutdown began")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if msgs := s.Store().List(); len(msgs) != 1 || msgs[0].Subject != "late" {
		t.Errorf("messages = %+v", msgs)
	}
}

// TestAlertmanagerDeliversToCatcher runs Debian's Alertmanager with the
// configuration stackgen renders (smarthost pointed at the catcher), posts an
// alert to its API and waits for the email.
func TestAlertmanagerDeliversToCatcher(t *testing.T) {
	bin := testtool.Path(t, "apt-get install prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
	if testing.Short() {
		t.Skip("starts Alertmanager")
	}
	catcher := startServer(t, 10)
	st, err := stack.Parse([]byte("name: e2e\nalerting: {engine: prometheus}\nmodels:\n  - {name: demo, kind: demo}\n"), "stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := alerting.Render(st)
	if err != nil {
		t.Fatal(err)
	}
	var cfg alerting.AlertmanagerConfig
	if err := yaml.Unmarshal(files[alerting.AlertmanagerPath], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Global.SMTPSmarthost != alerting.MailCatcherSMTP {
		t.Fatalf("smarthost %q", cfg.Global.SMTPSmarthost)
	}
	cfg.Global.SMTPSmarthost = catcher.SMTPAddr().String() // the host's view of mailcatcher:1025
	cfg.Route.GroupWait = "1s"
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	web := "127.0.0.1:" + port
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web, "--cluster.listen-address=", "--log.level=debug")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	})
	waitFor(t, 20*time.Second, "alertmanager ready", func() bool {
		resp, err := http.Get("http://" + web + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	alert := `[{"labels":{"alertname":"high_error_ratio","model":"demo","severity":"critical","stack":"e2e"},` +
		`"annotations":{"summary":"model demo: 40% of requests fail (threshold 5%)"}}]`
	resp, err := http.Post("http://"+web+"/api/v2/alerts", "application/json", strings.NewReader(alert))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("post alert: %s", resp.Status)
	}
	var got Message
	waitFor(t, 30*time.Second, "alert email", func() bool {
		for _, m := range catcher.Store().List() {
			if strings.Contains(m.Subject, "high_error_ratio") {
				got, _ = catcher.Store().Full(m.ID) // the list has previews; the summary may be past them
				return true
			}
		}
		return false
	})
	t.Logf("email from %q to %v: %q", got.From, got.To, got.Subject)
	if !strings.Contains(got.Subject, "FIRING") || !strings.Contains(got.Text+got.HTML, "40% of requests fail") {
		t.Errorf("email: subject %q\ntext %q", got.Subject, got.Text)
	}
	if len(got.To) != 1 || got.To[0] != "oncall@stackgen.local" || !strings.Contains(got.From, "alerts@stackgen.local") {
		t.Errorf("email envelope: from %q to %v", got.From, got.To)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
