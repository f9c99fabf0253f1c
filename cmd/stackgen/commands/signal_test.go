package commands

import (
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestSignalExitCode sends the test process a real signal while a command
// context is live: the context ends and the exit code is 128+signal.
func TestSignalExitCode(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		want int
	}{
		{syscall.SIGINT, 130},
		{syscall.SIGTERM, 143},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Cleanup(func() { received = atomicSignal() })
			ctx, stop := signalContext(&cobra.Command{})
			defer stop()
			if _, ok := interruptedCode(); ok {
				t.Fatal("interrupted before any signal (negative control)")
			}
			if err := syscall.Kill(syscall.Getpid(), tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("context not cancelled by the signal")
			}
			if got, ok := interruptedCode(); !ok || got != tc.want {
				t.Fatalf("exit code %d (%v), want %d", got, ok, tc.want)
			}
		})
	}
}
