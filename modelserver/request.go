package modelserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"
)

// acquire takes a predict slot and the request's share of the body byte
// budget (its Content-Length, or MaxBodyBytes when unknown); false when
// MaxConcurrent requests are in flight or the budget is spent. Call the
// returned release when done.
func (s *Server) acquire(r *http.Request) (release func(), ok bool) {
	select {
	case s.slots <- struct{}{}:
	default:
		return nil, false
	}
	n := r.ContentLength
	if n < 0 || n > s.cfg.MaxBodyBytes {
		n = s.cfg.MaxBodyBytes // over the limit: refused with 413 after this
	}
	s.budgetMu.Lock()
	if s.inflightBytes+n > s.cfg.MaxInflightBytes {
		s.budgetMu.Unlock()
		<-s.slots
		return nil, false
	}
	s.inflightBytes += n
	s.budgetMu.Unlock()
	return func() {
		s.budgetMu.Lock()
		s.inflightBytes -= n
		s.budgetMu.Unlock()
		<-s.slots
	}, true
}

// record counts one predict request and observes its latency.
func (s *Server) record(modelLabel, api, status string, start time.Time) {
	us := float64(time.Since(start)) / float64(time.Microsecond)
	if modelLabel == s.name && api == "predict" {
		if status == StatusOK {
			s.okCount.Inc()
		} else {
			s.requestCount.WithLabelValues(modelLabel, status).Inc()
		}
		s.predictObs.Observe(us)
		return
	}
	s.requestCount.WithLabelValues(modelLabel, status).Inc()
	s.latency.WithLabelValues(modelLabel, api, "REST").Observe(us)
}

// Errors of readBody.
var (
	// errBodyTooLarge: the body exceeds MaxBodyBytes.
	errBodyTooLarge = errors.New("request body too large")
	// errBodyTimeout: the body was not read within BodyReadTimeout.
	errBodyTimeout = errors.New("request body not received in time")
)

// readBody reads the request body into a pooled buffer, within
// BodyReadTimeout; release it with putBuf.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, error) {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errBodyTooLarge, r.ContentLength, s.cfg.MaxBodyBytes)
	}
	// A deadline on the connection: a slow or stalled body ends here. (Not
	// supported by every ResponseWriter, e.g. httptest's recorder.)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout))
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 4096)
		bp = &b
	}
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > s.cfg.MaxBodyBytes {
			*bp = b
			s.putBuf(bp)
			return nil, fmt.Errorf("%w: limit %d bytes", errBodyTooLarge, s.cfg.MaxBodyBytes)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			*bp = b
			s.putBuf(bp)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("%w: %d bytes read within %v", errBodyTimeout, len(b), s.cfg.BodyReadTimeout)
			}
			return nil, fmt.Errorf("read request body: %w", err)
		}
	}
	*bp = b
	return bp, nil
}

func (s *Server) putBuf(bp *[]byte) {
	if cap(*bp) > 1<<20 {
		return // do not keep huge buffers
	}
	*bp = (*bp)[:0]
	s.bufs.Put(bp)
}

// delay applies the configured artificial latency.
func (s *Server) delay(ctx context.Context) error {
	d := s.cfg.Latency
	if j := s.cfg.Jitter; j > 0 {
		d += time.Duration(rand.Int64N(2*int64(j)+1)) - j
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("request cancelled during artificial latency: %w", ctx.Err())
	}
}

// injectError reports whether this request gets an injected error.
func (s *Server) injectError() bool {
	return s.cfg.ErrorRate > 0 && rand.Float64() < s.cfg.ErrorRate
}
