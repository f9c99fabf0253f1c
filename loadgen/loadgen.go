// Package loadgen is stackgen's HTTP load generator: a closed loop (a fixed
// number of workers sending back to back, like wrk) and an open loop (a
// fixed or shaped request rate whose latencies are measured from each
// request's intended send time, so a stalling server cannot hide queueing
// behind fewer samples — no coordinated omission, as in wrk2 and vegeta).
//
// Latencies go to per-worker HDR histograms merged at the end; counters are
// atomics; plain http:// targets use fasthttp (one keep-alive connection
// per worker), https targets a tuned net/http Transport.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// UserAgent is the User-Agent header of generated requests.
const UserAgent = "stackgen-load"

// Defaults.
const (
	// DefaultConcurrency is the closed-loop worker count and the initial open-loop one.
	DefaultConcurrency = 16
	// DefaultTimeout bounds each request.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxWorkers bounds open-loop workers (and connections).
	DefaultMaxWorkers = 1024
	// DefaultProgressInterval is how often Config.Progress is called.
	DefaultProgressInterval = 500 * time.Millisecond
)

// Config describes one run. URL and Body are required; set Requests,
// Duration or both (whichever ends first), and Rate for an open loop.
type Config struct {
	// URL is the target (http or https).
	URL string
	// Method is the HTTP method; default POST when Body is set, GET otherwise.
	Method string
	// Headers are extra request headers.
	Headers http.Header
	// Body is the valid request body.
	Body []byte
	// Bodies, when not empty, are valid bodies (of ContentType) sent in
	// turn instead of Body: request i sends Bodies[i mod len(Bodies)]
	// (SamplePool builds them from a drift baseline). They are prepared
	// once; cycling costs no allocation per request.
	Bodies [][]byte
	// ContentType is Body's content type.
	ContentType string
	// InvalidBody is sent instead of Body for the ErrorRatio fraction.
	InvalidBody []byte
	// InvalidContentType is InvalidBody's content type (default ContentType).
	InvalidContentType string
	// ErrorRatio in [0,1] is the fraction of requests sent with InvalidBody,
	// spread evenly over the sequence (request i is invalid when
	// floor((i+1)·r) > floor(i·r)).
	ErrorRatio float64

	// Requests stops the run after this many requests (0: no limit).
	Requests int64
	// Duration stops the run after this long (0: no limit).
	Duration time.Duration
	// Concurrency is the number of closed-loop workers, and the number of
	// workers an open loop starts with.
	Concurrency int
	// Rate > 0 selects the open loop at this many requests per second (the
	// base rate of a spike, the final rate of a ramp).
	Rate float64
	// Shape shapes the open-loop rate; ramp and spike need Duration.
	Shape Shape
	// SpikeFactor is the spike's burst multiple of Rate (default DefaultSpikeFactor).
	SpikeFactor float64
	// MaxWorkers bounds the open-loop workers (default DefaultMaxWorkers).
	MaxWorkers int
	// Timeout bounds each request (default DefaultTimeout; negative: none).
	Timeout time.Duration
	// Insecure skips TLS certificate verification.
	Insecure bool
	// StdClient forces net/http even for http:// targets.
	StdClient bool

	// Progress, when set, is called every ProgressInterval from a separate goroutine.
	Progress func(Progress)
	// ProgressInterval is the period of Progress calls (default DefaultProgressInterval).
	ProgressInterval time.Duration
}

// Progress is a snapshot of a running load.
type Progress struct {
	// Elapsed is the time since the start.
	Elapsed time.Duration
	// Requests and Errors are the totals so far.
	Requests, Errors int64
	// RPS is the rate over the last interval.
	RPS float64
	// P99 is the 99th percentile latency so far in milliseconds.
	P99 float64
	// Workers is the current worker count.
	Workers int
}

func (c *Config) maxWorkers() int {
	if c.Rate <= 0 {
		return c.Concurrency
	}
	if c.MaxWorkers < c.Concurrency {
		return c.Concurrency
	}
	return c.MaxWorkers
}

// normalize fills defaults and checks the configuration.
func (c *Config) normalize() (*url.URL, error) {
	u, err := CheckURL(c.URL)
	if err != nil {
		return nil, err
	}
	if err := checkHeaders(c.Headers); err != nil {
		return nil, err
	}
	if len(c.Bodies) > 0 && len(c.Body) == 0 {
		c.Body = c.Bodies[0]
	}
	if c.Method == "" {
		c.Method = http.MethodGet
		if len(c.Body) > 0 {
			c.Method = http.MethodPost
		}
	}
	if !httpguts.ValidHeaderFieldName(c.Method) {
		return nil, fmt.Errorf("method %q is not a valid HTTP token", c.Method)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	} else if c.Timeout < 0 {
		c.Timeout = 0
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.Requests < 0 {
		return nil, fmt.Errorf("request count must not be negative, got %d", c.Requests)
	}
	if c.Duration < 0 {
		return nil, fmt.Errorf("duration must not be negative, got %s", c.Duration)
	}
	if math.IsNaN(c.ErrorRatio) || c.ErrorRatio < 0 || c.ErrorRatio > 1 {
		return nil, fmt.Errorf("error ratio must be within [0, 1], got %v", c.ErrorRatio)
	}
	if c.ErrorRatio > 0 && c.InvalidBody == nil {
		return nil, errors.New("error ratio set but no invalid payload given")
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return nil, fmt.Errorf("rate must be a positive number, got %v", c.Rate)
	}
	shape, err := ParseShape(string(c.Shape))
	if err != nil {
		return nil, err
	}
	c.Shape = shape
	if c.Rate == 0 && shape != ShapeSteady {
		return nil, fmt.Errorf("shape %s needs an open-loop rate (--rate)", shape)
	}
	if shape != ShapeSteady && c.Duration == 0 {
		return nil, fmt.Errorf("shape %s needs a duration (--duration)", shape)
	}
	return u, nil
}

// invalidAt reports whether request i carries the invalid payload.
func invalidAt(i int64, ratio float64) bool {
	if ratio <= 0 {
		return false
	}
	return math.Floor(float64(i+1)*ratio) > math.Floor(float64(i)*ratio)
}

// run is one execution's shared state.
type run struct {
	cfg      *Config
	client   client
	sched    *schedule // nil in closed loop
	start    time.Time
	deadline time.Duration // 0: none

	seq       atomic.Int64 // next request index
	completed atomic.Int64
	failed    atomic.Int64
	invalid   atomic.Int64
	stopped   atomic.Bool
	stopCh    chan struct{}
	stopOnce  sync.Once

	mu       sync.Mutex // guards sessions, shards, nworkers growth
	sessions []session
	shards   []*shard
	wg       sync.WaitGroup
	nworkers atomic.Int64
}

// Run sends load as cfg describes until the request count or duration is
// reached or ctx is done, and returns the summary. Cancelling ctx (Ctrl-C)
// returns the summary so far with Interrupted set; requests in flight at the
// end are aborted and not counted.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	u, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if cfg.Requests == 0 && cfg.Duration == 0 && ctx.Done() == nil {
		return nil, errors.New("unbounded run: set a request count, a duration or a cancellable context")
	}
	reqs := [2]request{
		{body: cfg.Body, contentType: cfg.ContentType},
		{body: cfg.InvalidBody, contentType: cfg.InvalidContentType},
	}
	if reqs[1].contentType == "" {
		reqs[1].contentType = cfg.ContentType
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cl, err := newClient(runCtx, &cfg, u, reqs)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	defer cl.closeIdle()

	r := &run{cfg: &cfg, client: cl, stopCh: make(chan struct{}), deadline: cfg.Duration}
	if cfg.Rate > 0 {
		r.sched, err = newSchedule(cfg.Shape, cfg.Rate, cfg.Duration, cfg.SpikeFactor)
		if err != nil {
			return nil, err
		}
	}

	r.start = time.Now()
	var timer *time.Timer
	if cfg.Duration > 0 {
		timer = time.AfterFunc(cfg.Duration, func() { r.stop(cancel) })
		defer timer.Stop()
	}
	for range cfg.Concurrency {
		r.spawn()
	}
	workersDone := make(chan struct{})
	go func() { r.wg.Wait(); close(workersDone) }()

	var progDone chan struct{}
	if cfg.Progress != nil {
		progDone = make(chan struct{})
		go r.reportProgress(workersDone, progDone)
	}

	interrupted := false
	select {
	case <-workersDone:
	case <-ctx.Done():
		interrupted = true
		r.stop(cancel)
		<-workersDone
	}
	elapsed := time.Since(r.start)
	if cfg.Duration > 0 && elapsed > cfg.Duration && !interrupted {
		elapsed = cfg.Duration // workers stop at the deadline; the rest is teardown
	}
	r.stop(cancel)
	if progDone != nil {
		<-progDone
	}
	r.mu.Lock()
	for _, s := range r.sessions {
		s.close()
	}
	r.mu.Unlock()
	return r.result(u, elapsed, interrupted), nil
}

// stop ends the run: no worker starts another request and in-flight ones are aborted.
func (r *run) stop(cancel context.CancelFunc) {
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		close(r.stopCh)
		cancel()
		r.mu.Lock()
		for _, s := range r.sessions {
			s.abort()
		}
		r.mu.Unlock()
	})
}

// spawn starts a worker if the bound allows; it reports whether it did.
func (r *run) spawn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.sessions)
	if n >= r.cfg.maxWorkers() || r.stopped.Load() {
		return false
	}
	sess := r.client.newSession()
	r.sessions = append(r.sessions, sess)
	var sh *shard
	if len(r.shards) < maxShards {
		sh = newShard(r.sched != nil)
		r.shards = append(r.shards, sh)
	} else {
		sh = r.shards[n%maxShards]
	}
	r.nworkers.Add(1)
	r.wg.Add(1)
	if r.sched == nil {
		go r.closedWorker(sess, sh)
	} else {
		go r.openWorker(sess, sh)
	}
	return true
}

// claim takes the next request index, or returns false when the count is reached.
func (r *run) claim() (int64, bool) {
	i := r.seq.Add(1) - 1
	if r.cfg.Requests > 0 && i >= r.cfg.Requests {
		return i, false
	}
	return i, true
}

// send performs request i and records it; it returns false when the run
// stopped under it (the request is then not counted).
func (r *run) send(sess session, sh *shard, i int64, intended time.Time) bool {
	inv := invalidAt(i, r.cfg.ErrorRatio)
	sent := time.Now()
	if intended.IsZero() {
		intended = sent
	}
	if n := int64(len(r.cfg.Bodies)); n > 0 && !inv {
		sess.use(r.cfg.Bodies[i%n])
	}
	status, err := sess.do(inv)
	end := time.Now()
	if err != nil && r.stopped.Load() {
		return false
	}
	if inv {
		r.invalid.Add(1)
	}
	kind := ""
	if err != nil {
		kind = errorKind(err)
		status = 0
	}
	sh.record(end.Sub(intended), end.Sub(sent), status, kind, err)
	r.completed.Add(1)
	if err != nil || status >= 400 {
		r.failed.Add(1)
	}
	return true
}

func (r *run) closedWorker(sess session, sh *shard) {
	defer r.wg.Done()
	for !r.stopped.Load() {
		i, ok := r.claim()
		if !ok {
			return
		}
		if !r.send(sess, sh, i, time.Time{}) {
			return
		}
	}
}

// lateSpawn is how late a claimed open-loop request must be before the
// worker starts another one: lateness means no worker was free on time.
const lateSpawn = 2 * time.Millisecond

func (r *run) openWorker(sess session, sh *shard) {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for !r.stopped.Load() {
		i, ok := r.claim()
		if !ok {
			return
		}
		due := r.sched.at(i)
		if r.deadline > 0 && due >= r.deadline {
			return
		}
		intended := r.start.Add(due)
		if wait := time.Until(intended); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.stopCh:
				timer.Stop()
				return
			}
		} else if -wait > lateSpawn && r.nworkers.Load() < int64(r.cfg.maxWorkers()) {
			r.spawn()
		}
		if !r.send(sess, sh, i, intended) {
			return
		}
	}
}

func (r *run) reportProgress(done <-chan struct{}, out chan<- struct{}) {
	defer close(out)
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	last, lastT := int64(0), r.start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := r.completed.Load()
			r.mu.Lock()
			shards := append([]*shard(nil), r.shards...)
			r.mu.Unlock()
			p := Progress{
				Elapsed:  now.Sub(r.start),
				Requests: n,
				Errors:   r.failed.Load(),
				RPS:      float64(n-last) / now.Sub(lastT).Seconds(),
				P99:      p99(shards),
				Workers:  int(r.nworkers.Load()),
			}
			last, lastT = n, now
			r.cfg.Progress(p)
		}
	}
}

func (r *run) result(u *url.URL, elapsed time.Duration, interrupted bool) *Result {
	r.mu.Lock()
	shards := append([]*shard(nil), r.shards...)
	workers := len(r.sessions)
	r.mu.Unlock()
	lat, svc, status, transport, samples := merge(shards, r.sched != nil)
	res := &Result{
		Target:          u.String(),
		Mode:            "closed",
		Concurrency:     r.cfg.Concurrency,
		Workers:         workers,
		DurationS:       round3(elapsed.Seconds()),
		Requests:        r.completed.Load(),
		Errors:          r.failed.Load(),
		Invalid:         r.invalid.Load(),
		StatusCodes:     map[string]int64{},
		TransportErrors: map[string]int64{},
		Latency:         summarize(lat),
		Interrupted:     interrupted,
		hist:            lat,
	}
	res.Successes = res.Requests - res.Errors
	if s := elapsed.Seconds(); s > 0 {
		res.RPS = round3(float64(res.Requests) / s)
	}
	for k, v := range status {
		res.StatusCodes[strconv.Itoa(k)] = v
	}
	for k, v := range transport {
		res.TransportErrors[k] = v
	}
	if len(samples) > 0 {
		res.ErrorSamples = samples
	}
	if r.sched != nil {
		res.Mode = "open"
		res.Shape = string(r.cfg.Shape)
		res.Rate = r.cfg.Rate
		sl := summarize(svc)
		res.ServiceTime = &sl
		sched := r.sched.countBy(elapsed)
		if r.cfg.Requests > 0 && sched > r.cfg.Requests {
			sched = r.cfg.Requests
		}
		res.Scheduled = sched
	}
	return res
}
