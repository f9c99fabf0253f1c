package exporter

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// ready probes the upstream's health path, at most once per ReadyCacheTTL.
// Any answer below 500 counts as ready.
func (e *Exporter) ready() (bool, string) {
	e.readyMu.Lock()
	defer e.readyMu.Unlock()
	if !e.readyAt.IsZero() && time.Since(e.readyAt) < e.cfg.ReadyCacheTTL {
		return e.readyOK, e.readyErr
	}
	e.readyOK, e.readyErr = false, ""
	err := e.probe()
	var se *statusError
	switch {
	case err == nil:
		e.readyOK = true
	case errors.As(err, &se):
		e.readyErr = se.Error()
	default:
		cause := causeOf(err)
		e.readyErr = publicReason(err, cause, e.cfg.Timeout)
		e.log.printf(e, "readiness probe %s: %v", e.cfg.healthPath, err)
	}
	e.readyAt = time.Now()
	return e.readyOK, e.readyErr
}

// logLimiter lets at most one upstream failure line per second through
// Config.Logf, so a failing upstream under load does not flood the log.
type logLimiter struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

func (l *logLimiter) printf(e *Exporter, format string, args ...any) {
	if e.cfg.Logf == nil {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if now.Before(l.next) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.next = now.Add(time.Second)
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if n > 0 {
		format += fmt.Sprintf(" (%d similar lines suppressed)", n)
	}
	e.cfg.Logf(format, args...)
}

// probe sends GET healthPath to the upstream; an answer below 500 is ready.
func (e *Exporter) probe() error {
	x := e.getExchange()
	defer x.release()
	x.req.Reset()
	x.req.Header.SetMethod(fasthttp.MethodGet)
	x.req.Header.SetRequestURI(e.cfg.healthPath)
	x.req.Header.SetHost(e.cfg.base.Host)
	if err := e.roundTrip(x, &x.req, &x.resp, false); err != nil {
		return err
	}
	if bs := x.resp.BodyStream(); bs != nil {
		n, err := io.Copy(io.Discard, io.LimitReader(bs, 1<<20))
		_ = x.resp.CloseBodyStream()
		if err == nil && n < 1<<20 {
			x.detach(true)
		}
	} else {
		x.detach(true)
	}
	if code := x.resp.StatusCode(); code >= 500 {
		return &statusError{path: e.cfg.healthPath, code: code}
	}
	return nil
}

// statusError is a readiness probe answered with a 5xx.
type statusError struct {
	path string
	code int
}

func (s *statusError) Error() string { return fmt.Sprintf("upstream %s answered %d", s.path, s.code) }
