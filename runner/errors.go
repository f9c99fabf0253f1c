// Package runner runs a rendered stack on a Docker engine: it finds the
// engine and a compose implementation, builds stackgen's own image, checks
// ports and images, runs compose, waits for readiness and reports status.
//
// The runner reads only the rendered files, never stack.yaml, so it runs
// whatever the renderer produced: DIR/compose.yaml through compose-go's
// loader (services are known by their io.stackgen.role labels, never by name
// or port), DIR/prometheus/prometheus.yml for the expected targets, and the
// manifest. It drives the docker CLI and the compose v2 CLI (`docker
// compose`; docker-compose 1.x is end-of-life and refused) rather than the
// engine API, so it works with whatever engine and CLI versions the user
// has, and reads container state as typed JSON (`docker inspect`), never as
// human text. Prometheus is asked through client_golang's API client.
//
// Readiness is judged from the moment an up starts: restarts are counted
// from then, and containers stopped before it are started and waited for.
package runner

import (
	"errors"
	"fmt"
)

// Exit codes of up, down and status (also documented in the README).
const (
	// ExitFailure is any other failure (render error, compose error, build error).
	ExitFailure = 1
	// ExitValidation means stack.yaml is invalid.
	ExitValidation = 2
	// ExitNoEngine means no Docker engine answers (or docker is not installed).
	ExitNoEngine = 3
	// ExitNoCompose means neither `docker compose` nor `docker-compose` works.
	ExitNoCompose = 4
	// ExitPortInUse means a published port is taken by another process or container.
	ExitPortInUse = 5
	// ExitImageMissing means an image is absent and cannot be pulled.
	ExitImageMissing = 6
	// ExitUnhealthy means a service or scrape target did not become ready in time.
	ExitUnhealthy = 7
)

// Error is a runner failure with an exit code and the fix to suggest.
type Error struct {
	// Code is the process exit code (one of the Exit* constants).
	Code int
	// Err is what went wrong.
	Err error
	// Fix tells the user what to do, one or more lines; may be empty.
	Fix string
}

// Error returns the message followed by the fix.
func (e *Error) Error() string {
	if e.Fix == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "\n" + e.Fix
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func newError(code int, fix string, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...), Fix: fix}
}

// Code returns the exit code carried by err: the code of a runner *Error,
// else ExitFailure (0 for nil).
func Code(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitFailure
}
