// Package mailcatcher is stackgen's local mail catcher: an SMTP server that
// accepts every message (with or without AUTH PLAIN/LOGIN, any credentials),
// keeps the last few hundred in memory and shows them on a small web page and
// a JSON API. A stack with smtp.mode local sends its alert emails here, so a
// demo shows them without a real mailbox.
//
// HTTP endpoints:
//
//	GET    /                    HTML list of messages, newest first
//	GET    /api/messages        JSON array of messages, newest first
//	GET    /api/messages/{id}   one message (404 when unknown)
//	DELETE /api/messages        remove every message (204)
//	GET    /healthz             "ok"
package mailcatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Defaults of Config.
const (
	DefaultSMTPListen      = ":1025"
	DefaultHTTPListen      = ":8025"
	DefaultMaxMessages     = 500
	DefaultMaxMessageBytes = 10 << 20
)

// Config configures a Server.
type Config struct {
	// SMTPListen is the SMTP listen address (default :1025).
	SMTPListen string
	// HTTPListen is the web page and API listen address (default :8025).
	HTTPListen string
	// MaxMessages is how many messages are kept (default 500); the oldest go first.
	MaxMessages int
	// MaxMessageBytes is the largest message accepted (default 10 MiB).
	MaxMessageBytes int64
	// Domain is the name the SMTP server greets with (default "mailcatcher").
	Domain string
	// Logf logs one line per event; nil discards.
	Logf func(format string, args ...any)
}

// Server is a running mail catcher.
type Server struct {
	cfg   Config
	store *Store
	smtp  *smtp.Server
	http  *http.Server

	smtpLn, httpLn net.Listener
	errc           chan error
	ready          chan struct{}
	closeOnce      sync.Once
}

// New returns a Server; Start opens its listeners.
func New(cfg Config) (*Server, error) {
	if cfg.SMTPListen == "" {
		cfg.SMTPListen = DefaultSMTPListen
	}
	if cfg.HTTPListen == "" {
		cfg.HTTPListen = DefaultHTTPListen
	}
	if cfg.MaxMessages == 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.MaxMessages < 0 {
		return nil, fmt.Errorf("mailcatcher: max messages must be positive (got %d)", cfg.MaxMessages)
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Domain == "" {
		cfg.Domain = "mailcatcher"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{cfg: cfg, store: NewStore(cfg.MaxMessages), errc: make(chan error, 2), ready: make(chan struct{})}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, remote: c.Conn().RemoteAddr().String()}, nil
	})
	s.smtp = smtp.NewServer(be)
	s.smtp.Domain = cfg.Domain
	s.smtp.AllowInsecureAuth = true
	s.smtp.MaxMessageBytes = cfg.MaxMessageBytes
	s.smtp.MaxRecipients = 100
	s.smtp.ReadTimeout = time.Minute
	s.smtp.WriteTimeout = time.Minute
	s.smtp.ErrorLog = logger{cfg.Logf}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Store is the server's message store.
func (s *Server) Store() *Store { return s.store }

// Start opens both listeners and serves in the background. Errors of the
// serving goroutines are reported by Wait.
func (s *Server) Start() error {
	var err error
	if s.smtpLn, err = net.Listen("tcp", s.cfg.SMTPListen); err != nil {
		return fmt.Errorf("mailcatcher: smtp listen %s: %w", s.cfg.SMTPListen, err)
	}
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPListen); err != nil {
		s.smtpLn.Close()
		return fmt.Errorf("mailcatcher: http listen %s: %w", s.cfg.HTTPListen, err)
	}
	go func() {
		if err := s.smtp.Serve(s.smtpLn); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.errc <- fmt.Errorf("mailcatcher: smtp: %w", err)
		}
	}()
	go func() {
		if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("mailcatcher: http: %w", err)
		}
	}()
	s.cfg.Logf("mailcatcher: smtp on %s, web and API on %s", s.smtpLn.Addr(), s.httpLn.Addr())
	close(s.ready)
	return nil
}

// Ready is closed once Start has opened both listeners.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// SMTPAddr is the SMTP listener's address (after Start).
func (s *Server) SMTPAddr() net.Addr { return s.smtpLn.Addr() }

// HTTPAddr is the HTTP listener's address (after Start).
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// Run starts the server, serves until ctx is done and shuts down gracefully,
// waiting up to grace for SMTP sessions and HTTP requests in flight.
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	if err := s.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-s.errc:
		s.Close()
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown stops accepting, waits for sessions and requests in flight until
// ctx is done, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.smtp.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("smtp shutdown: %w", err))
		}
	}()
	var herr error
	go func() {
		defer wg.Done()
		herr = s.http.Shutdown(ctx)
	}()
	wg.Wait()
	if herr != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", herr))
	}
	if len(errs) > 0 {
		s.Close()
		return fmt.Errorf("mailcatcher: %w", errors.Join(errs...))
	}
	return nil
}

// Close closes both servers at once, dropping sessions in flight.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.smtp.Close()
		s.http.Close()
	})
}

// session is one SMTP connection's state.
type session struct {
	srv    *Server
	remote string
	from   string
	to     []string
	user   string
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Auth accepts any credentials: the catcher stores mail, it guards nothing.
func (se *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			se.user = username
			return nil
		}), nil
	case sasl.Login:
		return &loginServer{done: func(username string) { se.user = username }}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	m, perr := ParseMessage(raw, se.from, se.to)
	m.ReceivedAt = time.Now().UTC()
	m = se.srv.store.Add(m)
	if perr != nil {
		se.srv.cfg.Logf("mailcatcher: message %s from %s stored unparsed: %v", m.ID, se.remote, perr)
	}
	se.srv.cfg.Logf("mailcatcher: message %s from %s to %v: %q", m.ID, m.From, m.To, m.Subject)
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// loginServer is the server side of the LOGIN SASL mechanism, which go-sasl
// only implements for clients: challenge "Username:", then "Password:".
type loginServer struct {
	step     int
	username string
	done     func(username string)
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response != nil { // initial response carries the username
			l.username = string(response)
			l.step = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		l.done(l.username)
		return nil, true, nil
	}
	return nil, false, errors.New("unexpected LOGIN response")
}

// logger adapts Logf to go-smtp's Logger.
type logger struct{ logf func(string, ...any) }

func (l logger) Printf(format string, v ...any) { l.logf("mailcatcher: smtp: "+format, v...) }
func (l logger) Println(v ...any)               { l.logf("mailcatcher: smtp: %s", fmt.Sprint(v...)) }

// Handler is the web page and JSON API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.store.List())
	})
	mux.HandleFunc("GET /api/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.store.Get(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no message " + r.PathValue("id")})
			return
		}
		writeJSON(w, http.StatusOK, m)
	})
	mux.HandleFunc("DELETE /api/messages", func(w http.ResponseWriter, r *http.Request) {
		s.store.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>stackgen mail catcher ({{len .}})</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
details pre{white-space:pre-wrap;background:#f6f6f6;padding:.6rem;margin:.4rem 0}
.muted{color:#777}
</style></head><body>
<h1>stackgen mail catcher</h1>
<p class="muted">{{len .}} message(s), newest first. JSON: <a href="/api/messages">/api/messages</a>. Refreshes every 10s.</p>
<table><thead><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th></tr></thead><tbody>
{{range .}}<tr><td>{{.ReceivedAt.Format "2006-01-02 15:04:05Z07:00"}}</td><td>{{.From}}</td><td>{{range $i, $t := .To}}{{if $i}}, {{end}}{{$t}}{{end}}</td>
<td><details><summary>{{if .Subject}}{{.Subject}}{{else}}<span class="muted">(no subject)</span>{{end}}</summary><pre>{{.Text}}</pre>
<a href="/api/messages/{{.ID}}">JSON</a></details></td></tr>
{{else}}<tr><td colspan="4" class="muted">No messages yet.</td></tr>{{end}}
</tbody></table></body></html>
`))

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, s.store.List()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}
