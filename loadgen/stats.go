package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: microseconds from 1 µs to 1 hour, 3 significant digits.
const (
	histMin     = 1
	histMax     = int64(time.Hour / time.Microsecond)
	histSigFigs = 3
	// maxShards bounds the number of per-worker histograms; with more
	// workers than this, workers share shards (each with its own lock).
	maxShards = 64
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histSigFigs) }

// shard holds the statistics of one worker (or a few, past maxShards). Its
// mutex is only contended when the progress reporter reads it.
type shard struct {
	mu        sync.Mutex
	latency   *hdr.Histogram // from intended send time (open loop) or actual send (closed)
	service   *hdr.Histogram // from actual send time; open loop only
	status    map[int]int64
	transport map[string]int64
	samples   map[string]string // first error message of each transport error kind
	_         [64]byte          // keep shards on separate cache lines
}

func newShard(openLoop bool) *shard {
	s := &shard{latency: newHist(), status: map[int]int64{}, transport: map[string]int64{}, samples: map[string]string{}}
	if openLoop {
		s.service = newHist()
	}
	return s
}

func toMicros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	return us
}

// maxSample bounds the length of a sampled error message.
const maxSample = 300

// record adds one response (status > 0) or transport error (err, of kind).
func (s *shard) record(latency, service time.Duration, status int, kind string, err error) {
	s.mu.Lock()
	if kind != "" {
		s.transport[kind]++
		if _, ok := s.samples[kind]; !ok && err != nil {
			msg := err.Error()
			if len(msg) > maxSample {
				msg = msg[:maxSample] + "…"
			}
			s.samples[kind] = msg
		}
	} else {
		s.status[status]++
		_ = s.latency.RecordValue(toMicros(latency))
		if s.service != nil {
			_ = s.service.RecordValue(toMicros(service))
		}
	}
	s.mu.Unlock()
}

// Error kinds of failed requests that got no HTTP response.
const (
	KindTimeout  = "timeout"
	KindRefused  = "connection_refused"
	KindReset    = "connection_reset"
	KindClosed   = "connection_closed"
	KindDNS      = "dns"
	KindTLS      = "tls"
	KindProtocol = "protocol"
	KindOther    = "other"
)

// errorKind classifies a transport error.
func errorKind(err error) string {
	var dns *net.DNSError
	var rec tls.RecordHeaderError
	var cve *tls.CertificateVerificationError
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return KindTimeout
	case errors.As(err, &te) && te.Timeout(): // net.Error, fasthttp.ErrTimeout
		return KindTimeout
	case errors.As(err, &dns):
		return KindDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return KindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindClosed
	case errors.Is(err, errProtocol):
		return KindProtocol
	case errors.As(err, &rec), errors.As(err, &cve), errors.Is(err, errTLS):
		return KindTLS
	}
	return KindOther
}

// isStaleConnErr reports whether err is what a keep-alive connection closed
// by the server while idle produces on the next request.
func isStaleConnErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
}

func summarize(h *hdr.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return round3(float64(us) / 1000) }
	return Latency{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P95:  ms(h.ValueAtQuantile(95)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		Min:  ms(h.Min()),
		Mean: round3(h.Mean() / 1000),
	}
}

func round3(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 3, 64), 64)
	return v
}

// Result is the outcome of a run. It marshals to the JSON summary.
type Result struct {
	// Target is the URL the run sent to.
	Target string `json:"target"`
	// Mode is "closed" (fixed concurrency) or "open" (fixed rate).
	Mode string `json:"mode"`
	// Shape is the open-loop shape ("" for closed loop).
	Shape string `json:"shape,omitempty"`
	// Rate is the requested open-loop base rate in requests per second.
	Rate float64 `json:"rate,omitempty"`
	// Concurrency is the number of closed-loop workers, or the initial number of open-loop workers.
	Concurrency int `json:"concurrency"`
	// Workers is the number of workers the run ended with (open loop grows them).
	Workers int `json:"workers"`
	// DurationS is the measured wall time of the run in seconds.
	DurationS float64 `json:"duration_s"`
	// Requests counts completed requests: responses plus transport errors.
	Requests int64 `json:"requests"`
	// Successes counts responses with a status below 400.
	Successes int64 `json:"successes"`
	// Errors counts responses with status ≥ 400 plus transport errors.
	Errors int64 `json:"errors"`
	// Invalid counts requests sent with the invalid payload (--error-ratio).
	Invalid int64 `json:"invalid_payloads"`
	// RPS is Requests / DurationS.
	RPS float64 `json:"rps"`
	// Scheduled counts the open-loop requests that were due by the end; the
	// difference to Requests is what a saturated target did not absorb.
	Scheduled int64 `json:"scheduled,omitempty"`
	// StatusCodes counts responses by HTTP status code.
	StatusCodes map[string]int64 `json:"status_codes"`
	// TransportErrors counts requests that got no response, by kind.
	TransportErrors map[string]int64 `json:"transport_errors"`
	// ErrorSamples holds one error message for each kind in TransportErrors,
	// so a summary says why requests failed, not only how many.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// Latency summarizes response latency in milliseconds. In open loop it is
	// measured from each request's intended send time (no coordinated omission).
	Latency Latency `json:"latency_ms"`
	// ServiceTime summarizes open-loop latency from the actual send time, for
	// comparison with Latency (the gap is queueing in the generator).
	ServiceTime *Latency `json:"service_time_ms,omitempty"`
	// Interrupted is true when the run was stopped early (Ctrl-C).
	Interrupted bool `json:"interrupted"`

	hist *hdr.Histogram
}

// Histogram returns the merged latency histogram in microseconds.
func (r *Result) Histogram() *hdr.Histogram { return r.hist }

// StatusCount returns how many responses had the given status code.
func (r *Result) StatusCount(code int) int64 { return r.StatusCodes[strconv.Itoa(code)] }

// merge combines shards into a Result's counters and histograms.
func merge(shards []*shard, openLoop bool) (lat, svc *hdr.Histogram, status map[int]int64, transport map[string]int64, samples map[string]string) {
	lat = newHist()
	if openLoop {
		svc = newHist()
	}
	status = map[int]int64{}
	transport = map[string]int64{}
	samples = map[string]string{}
	for _, s := range shards {
		s.mu.Lock()
		lat.Merge(s.latency)
		if svc != nil && s.service != nil {
			svc.Merge(s.service)
		}
		for k, v := range s.status {
			status[k] += v
		}
		for k, v := range s.transport {
			transport[k] += v
		}
		for k, v := range s.samples {
			if _, ok := samples[k]; !ok {
				samples[k] = v
			}
		}
		s.mu.Unlock()
	}
	return lat, svc, status, transport, samples
}

// p99 returns the 99th percentile in milliseconds over all shards so far.
func p99(shards []*shard) float64 {
	h := newHist()
	for _, s := range shards {
		s.mu.Lock()
		h.Merge(s.latency)
		s.mu.Unlock()
	}
	if h.TotalCount() == 0 {
		return 0
	}
	return float64(h.ValueAtQuantile(99)) / 1000
}

// sortedCodes returns status codes in ascending order.
func sortedCodes(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
