package commands

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/mailcatcher"
)

func init() { register(newMailcatcherCmd) }

// newMailcatcherCmd builds `stackgen mailcatcher`, the local SMTP server that
// catches a stack's alert emails when smtp.mode is local.
func newMailcatcherCmd() *cobra.Command {
	var (
		cfg   mailcatcher.Config
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mailcatcher [--smtp-listen :1025] [--http-listen :8025] [--max-messages 500] [--max-total-bytes N] [--max-message-bytes N]",
		Short: "Run a local SMTP server that keeps alert emails and shows them on a web page",
		Long: `Run the local mail catcher: an SMTP server that accepts every message (with or
without AUTH PLAIN/LOGIN, any credentials, no TLS) and keeps the newest ones in
memory, with a web page and a JSON API.

Memory is bounded by three limits:
  --max-message-bytes  a larger message is refused with SMTP 552 (default 10 MiB)
  --max-messages       the oldest messages are dropped beyond this count (default 500)
  --max-total-bytes    the oldest messages are dropped while the store holds more
                       (raw sources + previews + 256 B each; default 100 MiB);
                       must be at least --max-message-bytes
Lists carry bodies cut at 4 KiB ("truncated": true); only a message's own URL
returns it whole. At most 8 SMTP sessions and 64 HTTP connections are served
at once; SMTP reads and writes time out after 1 minute. The Go runtime gets a
soft memory limit of the store's limit plus room for four messages in flight
and 32 MiB (unless GOMEMLIMIT is set), so the garbage collector keeps the
process near that size.

  GET    /?page=N                     messages, newest first, 50 a page, bodies cut at 4 KiB
  GET    /messages/{id}               one whole message (text, HTML in a sandbox, headers)
  GET    /api/messages?page=N&limit=M [{"id","from","to","subject","date","text","html",
                                      "received_at","size","truncated"}], newest first;
                                      limit defaults to 50 (at most 500); the X-Total-Count
                                      header is the number stored, Link has rel="next"/"prev"
  GET    /api/messages/{id}           one whole message, plus "raw": the source as received
  GET    /api/messages/{id}/raw       the source as received (text/plain)
  DELETE /api/messages                remove every message
  DELETE /api/messages/{id}           remove one message
  GET    /healthz                     ok

A stack with smtp.mode local runs it as service "mailcatcher": Grafana and
Alertmanager send to mailcatcher:1025, the page is published on 127.0.0.1.
SIGTERM or SIGINT stops accepting and waits --shutdown-timeout for sessions in
flight. Exit codes: 0 after a clean shutdown, 2 on invalid flags, 1 when a
listener cannot be opened.`,
		Example: `  stackgen mailcatcher
  stackgen mailcatcher --smtp-listen 127.0.0.1:2525 --http-listen 127.0.0.1:8025
  stackgen mailcatcher --max-total-bytes 20971520 --max-message-bytes 1048576   # 20 MiB store, 1 MiB messages`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.MaxMessages < 1 {
				return exitf(2, "--max-messages must be at least 1 (got %d)", cfg.MaxMessages)
			}
			if cfg.MaxMessageBytes < 1 {
				return exitf(2, "--max-message-bytes must be at least 1 (got %d)", cfg.MaxMessageBytes)
			}
			if cfg.MaxTotalBytes < 1 {
				return exitf(2, "--max-total-bytes must be at least 1 (got %d)", cfg.MaxTotalBytes)
			}
			if cfg.MaxMessageBytes > cfg.MaxTotalBytes {
				return exitf(2, "--max-message-bytes (%d) must not exceed --max-total-bytes (%d): raise --max-total-bytes or lower --max-message-bytes", cfg.MaxMessageBytes, cfg.MaxTotalBytes)
			}
			stderr := cmd.ErrOrStderr()
			cfg.Logf = func(format string, a ...any) {
				fmt.Fprintf(stderr, time.Now().Format(time.RFC3339)+" "+format+"\n", a...)
			}
			srv, err := mailcatcher.New(cfg)
			if err != nil {
				return exitf(2, "%v", err)
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				// A soft limit near what the store may hold makes the GC work
				// before the heap doubles: 100 messages of 9.9 MB under the
				// defaults peaked at 267 MB RSS without it, 191 MB with it.
				limit := mailcatcher.SoftMemoryLimit(cfg)
				debug.SetMemoryLimit(limit)
				cfg.Logf("mailcatcher: soft memory limit %d MiB (GOMEMLIMIT overrides)", limit>>20)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := srv.Run(ctx, grace); err != nil {
				return exitf(1, "%v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.SMTPListen, "smtp-listen", mailcatcher.DefaultSMTPListen, "SMTP listen address")
	f.StringVar(&cfg.HTTPListen, "http-listen", mailcatcher.DefaultHTTPListen, "web page and JSON API listen address")
	f.IntVar(&cfg.MaxMessages, "max-messages", mailcatcher.DefaultMaxMessages, "messages kept in memory; the oldest are dropped first")
	f.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", mailcatcher.DefaultMaxMessageBytes, "largest message accepted, in bytes; larger ones are refused with SMTP 552")
	f.Int64Var(&cfg.MaxTotalBytes, "max-total-bytes", mailcatcher.DefaultMaxTotalBytes, "bytes the stored messages may hold; the oldest are dropped first")
	f.DurationVar(&grace, "shutdown-timeout", 10*time.Second, "how long to wait for sessions in flight on SIGTERM")
	return cmd
}
