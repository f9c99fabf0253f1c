package commands

import (
	"fmt"
	"os/signal"
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
		Use:   "mailcatcher [--smtp-listen :1025] [--http-listen :8025] [--max-messages 500]",
		Short: "Run a local SMTP server that keeps alert emails and shows them on a web page",
		Long: `Run the local mail catcher: an SMTP server that accepts every message (with or
without AUTH PLAIN/LOGIN, any credentials, no TLS) and keeps the last
--max-messages in memory, with a web page and a JSON API:

  GET    /                    messages, newest first
  GET    /api/messages        [{"id","from","to","subject","date","text","received_at"}], newest first
  GET    /api/messages/{id}   one message
  DELETE /api/messages        remove every message
  GET    /healthz             ok

A stack with smtp.mode local runs it as service "mailcatcher": Grafana and
Alertmanager send to mailcatcher:1025, the page is published on 127.0.0.1.
SIGTERM or SIGINT stops accepting and waits --shutdown-timeout for sessions in
flight. Exit codes: 0 after a clean shutdown, 2 on invalid flags, 1 when a
listener cannot be opened.`,
		Example: `  stackgen mailcatcher
  stackgen mailcatcher --smtp-listen 127.0.0.1:2525 --http-listen 127.0.0.1:8025`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.MaxMessages < 1 {
				return exitf(2, "--max-messages must be at least 1 (got %d)", cfg.MaxMessages)
			}
			stderr := cmd.ErrOrStderr()
			cfg.Logf = func(format string, a ...any) {
				fmt.Fprintf(stderr, time.Now().Format(time.RFC3339)+" "+format+"\n", a...)
			}
			srv, err := mailcatcher.New(cfg)
			if err != nil {
				return exitf(2, "%v", err)
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
	f.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", mailcatcher.DefaultMaxMessageBytes, "largest message accepted")
	f.DurationVar(&grace, "shutdown-timeout", 10*time.Second, "how long to wait for sessions in flight on SIGTERM")
	return cmd
}
