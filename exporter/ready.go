package exporter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// ready probes the upstream's health path, at most once per ReadyCacheTTL.
// Any answer below 500 counts as ready.
func (e *Exporter) ready() (bool, string) {
	e.readyMu.Lock()
	defer e.readyMu.Unlock()
	if !e.readyAt.IsZero() && time.Since(e.readyAt) < e.cfg.ReadyCacheTTL {
		return e.readyOK, e.readyErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(e.cfg.Timeout, 5*time.Second))
	defer cancel()
	e.readyOK, e.readyErr = false, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.base.Scheme+"://"+e.cfg.base.Host+e.cfg.healthPath, nil)
	if err == nil {
		req.Header["User-Agent"] = emptyUA
		var resp *http.Response
		if resp, err = e.rt.RoundTrip(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				e.readyErr = fmt.Sprintf("upstream %s answered %d", e.cfg.healthPath, resp.StatusCode)
			} else {
				e.readyOK = true
			}
		}
	}
	if err != nil {
		cause := causeOf(err)
		e.readyErr = publicReason(err, cause, min(e.cfg.Timeout, 5*time.Second))
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
