package commands

import (
	"context"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
)

// received is the signal that cancelled a command's context (nil if none).
// One command runs per process, so a process-wide value is enough.
var received = atomicSignal()

func atomicSignal() *atomic.Value { return new(atomic.Value) } // holds an os.Signal

// signalContext is the command's context, cancelled on Ctrl-C or SIGTERM.
// The signal is remembered so Execute exits with 128+signal number (130 for
// Ctrl-C, 143 for SIGTERM), as shells and CI runners expect of an
// interrupted command.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			received.Store(sig)
			cancel()
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// interruptedCode returns 128+n when a signal n cancelled the command.
func interruptedCode() (int, bool) {
	sig, _ := received.Load().(os.Signal)
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s), true
	}
	return 0, false
}
