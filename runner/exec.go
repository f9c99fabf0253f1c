package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// run executes name with args and returns its stdout. On failure the error
// includes the command line and its stderr (trimmed). Tests replace it with
// a fake docker.
var run = execRun

// runCombined executes name with args and returns stdout and stderr
// interleaved (docker logs writes the container's stderr to its own).
var runCombined = func(ctx context.Context, name string, args ...string) ([]byte, error) {
	return command(ctx, name, args...).CombinedOutput()
}

// execRun is run on the real operating system.
func execRun(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := command(ctx, name, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &cmdError{args: append([]string{name}, args...), err: err, stderr: stderr.String(), stdout: stdout.String()}
	}
	return stdout.Bytes(), nil
}

// command is exec.CommandContext, except that cancelling ctx sends SIGTERM
// to the command's whole process group (docker runs compose as a child
// process, which a SIGKILL of docker alone would leave running), then
// SIGKILL after 10 s.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// cmdError is a failed external command.
type cmdError struct {
	args   []string
	err    error
	stderr string
	stdout string
}

// Error is the command line, the error and the last lines of stderr.
func (e *cmdError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.args, " "), e.err)
	if s := strings.TrimSpace(e.stderr); s != "" {
		msg += ": " + lastLines(s, 15)
	}
	return msg
}

// Unwrap returns the exec error.
func (e *cmdError) Unwrap() error { return e.err }

// lastLines returns at most n trailing lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
