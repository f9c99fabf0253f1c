// Package mailcatcher is stackgen's local mail catcher: an SMTP server that
// accepts every message (with or without AUTH PLAIN/LOGIN, any credentials),
// keeps the newest ones in memory within fixed limits and shows them on a
// small web page and a JSON API. A stack with smtp.mode local sends its alert
// emails here, so a demo shows them without a real mailbox.
//
// Memory is bounded: a message above MaxMessageBytes is refused with SMTP 552,
// the store drops its oldest messages beyond MaxMessages or MaxTotalBytes,
// lists carry bodies cut at PreviewBytes, and only a single message's own URL
// returns it whole. See Handler for the HTTP endpoints.
package mailcatcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"
)

// Defaults of Config.
const (
	DefaultSMTPListen      = ":1025"
	DefaultHTTPListen      = ":8025"
	DefaultMaxMessages     = 500
	DefaultMaxMessageBytes = 10 << 20
	DefaultMaxTotalBytes   = 100 << 20
	// DefaultMaxSMTPConns bounds concurrent SMTP sessions; each may hold
	// one message of up to MaxMessageBytes while it is received.
	DefaultMaxSMTPConns = 8
	// DefaultMaxHTTPConns bounds concurrent HTTP connections.
	DefaultMaxHTTPConns = 64
	// maxFullViews bounds requests rendering a whole message at once (each
	// parses the message again and holds a few copies of it).
	maxFullViews = 4
	// smtpTimeout is the SMTP read and write deadline per command and per
	// chunk of DATA.
	smtpTimeout = time.Minute
)

// Config configures a Server.
type Config struct {
	// SMTPListen is the SMTP listen address (default :1025).
	SMTPListen string
	// HTTPListen is the web page and API listen address (default :8025).
	HTTPListen string
	// MaxMessages is how many messages are kept (default 500); the oldest go first.
	MaxMessages int
	// MaxMessageBytes is the largest message accepted (default 10 MiB);
	// larger ones are refused with SMTP 552. At most MaxTotalBytes.
	MaxMessageBytes int64
	// MaxTotalBytes bounds the bytes the store holds (default 100 MiB); the
	// oldest messages go first. See Limits.MaxBytes.
	MaxTotalBytes int64
	// MaxSMTPConns bounds concurrent SMTP sessions (default 8); more wait
	// to be accepted.
	MaxSMTPConns int
	// MaxHTTPConns bounds concurrent HTTP connections (default 64).
	MaxHTTPConns int
	// Domain is the name the SMTP server greets with (default "mailcatcher").
	Domain string
	// Logf logs one line per event; nil discards.
	Logf func(format string, args ...any)
}

// SoftMemoryLimit is a Go runtime soft memory limit (runtime/debug.SetMemoryLimit)
// for a process serving cfg: the store's byte limit, four messages in flight
// (a message being received is held about twice while it is read) and
// 32 MiB for the rest. Zero fields take their defaults.
func SoftMemoryLimit(cfg Config) int64 {
	total, msg := cfg.MaxTotalBytes, cfg.MaxMessageBytes
	if total <= 0 {
		total = DefaultMaxTotalBytes
	}
	if msg <= 0 {
		msg = DefaultMaxMessageBytes
	}
	return total + 4*msg + 32<<20
}

// Server is a running mail catcher.
type Server struct {
	cfg       Config
	store     *Store
	smtp      *smtp.Server
	http      *http.Server
	fullViews chan struct{} // semaphore of whole-message views

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
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxTotalBytes == 0 {
		cfg.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if cfg.MaxMessageBytes < 0 || cfg.MaxTotalBytes < 0 {
		return nil, fmt.Errorf("mailcatcher: max message bytes and max total bytes must be positive (got %d and %d)", cfg.MaxMessageBytes, cfg.MaxTotalBytes)
	}
	if cfg.MaxMessageBytes > cfg.MaxTotalBytes {
		return nil, fmt.Errorf("mailcatcher: max message bytes (%d) must not exceed max total bytes (%d): raise the total or lower the message limit", cfg.MaxMessageBytes, cfg.MaxTotalBytes)
	}
	if cfg.MaxSMTPConns <= 0 {
		cfg.MaxSMTPConns = DefaultMaxSMTPConns
	}
	if cfg.MaxHTTPConns <= 0 {
		cfg.MaxHTTPConns = DefaultMaxHTTPConns
	}
	if cfg.Domain == "" {
		cfg.Domain = "mailcatcher"
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{
		cfg:       cfg,
		store:     NewStoreLimits(Limits{MaxMessages: cfg.MaxMessages, MaxBytes: cfg.MaxTotalBytes}),
		fullViews: make(chan struct{}, maxFullViews),
		errc:      make(chan error, 2),
		ready:     make(chan struct{}),
	}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, remote: c.Conn().RemoteAddr().String()}, nil
	})
	s.smtp = smtp.NewServer(be)
	s.smtp.Domain = cfg.Domain
	s.smtp.AllowInsecureAuth = true
	s.smtp.MaxMessageBytes = cfg.MaxMessageBytes
	s.smtp.MaxRecipients = 100
	s.smtp.ReadTimeout = smtpTimeout
	s.smtp.WriteTimeout = smtpTimeout
	s.smtp.ErrorLog = logger{cfg.Logf}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second, // requests have no bodies worth waiting for
		WriteTimeout:      2 * time.Minute,  // a whole 10 MiB message to a slow browser
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
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
	smtpLn, httpLn := netutil.LimitListener(s.smtpLn, s.cfg.MaxSMTPConns), netutil.LimitListener(s.httpLn, s.cfg.MaxHTTPConns)
	go func() {
		if err := s.smtp.Serve(smtpLn); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.errc <- fmt.Errorf("mailcatcher: smtp: %w", err)
		}
	}()
	go func() {
		if err := s.http.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("mailcatcher: http: %w", err)
		}
	}()
	s.cfg.Logf("mailcatcher: smtp on %s, web and API on %s; keeping up to %d messages, %d bytes; largest message %d bytes",
		s.smtpLn.Addr(), s.httpLn.Addr(), s.cfg.MaxMessages, s.cfg.MaxTotalBytes, s.cfg.MaxMessageBytes)
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
	if errors.Is(err, smtp.ErrDataTooLarge) {
		se.srv.cfg.Logf("mailcatcher: message from %s refused: larger than %d bytes", se.remote, se.srv.cfg.MaxMessageBytes)
		return smtp.ErrDataTooLarge // unwrapped: go-smtp answers 552 only for its own *SMTPError
	}
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	if cap(raw)-len(raw) > len(raw)/8 {
		// io.ReadAll leaves up to about twice the message's size allocated;
		// the store would keep (and not account for) that slack.
		raw = bytes.Clone(raw)
	}
	dropped := se.srv.store.Dropped()
	m, perr := se.srv.store.AddRaw(raw, se.from, se.to, time.Now().UTC())
	if n := se.srv.store.Dropped() - dropped; n > 0 {
		se.srv.cfg.Logf("mailcatcher: dropped %d oldest message(s) to stay within the limits", n)
	}
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
