package loadgen

import (
	"fmt"
	"math"
	"time"
)

// Shape is the form of the open-loop request rate over the run.
type Shape string

// Traffic shapes. All of them need an open-loop rate (Config.Rate).
const (
	// ShapeSteady sends at Config.Rate for the whole run.
	ShapeSteady Shape = "steady"
	// ShapeRamp climbs linearly from RampStartFraction×Rate to Rate over the
	// run's duration, then stays at Rate.
	ShapeRamp Shape = "ramp"
	// ShapeSpike sends at the base rate Config.Rate, bursts to
	// SpikeFactor×Rate between SpikeStart and SpikeEnd of the duration, and
	// returns to the base rate: the pattern that makes a "request rate above
	// 3× its 15-minute average" alert fire.
	ShapeSpike Shape = "spike"
)

// Shape parameters.
const (
	// RampStartFraction is the fraction of the target rate a ramp starts at,
	// so a ramp sends from its first second instead of idling.
	RampStartFraction = 0.05
	// DefaultSpikeFactor is the burst rate of a spike as a multiple of the base rate.
	DefaultSpikeFactor = 10.0
	// SpikeStart and SpikeEnd bound the burst as fractions of the duration.
	SpikeStart = 0.6
	// SpikeEnd is where the burst ends, as a fraction of the duration.
	SpikeEnd = 0.9
)

// ParseShape returns the Shape named s ("" means steady).
func ParseShape(s string) (Shape, error) {
	switch Shape(s) {
	case "", ShapeSteady:
		return ShapeSteady, nil
	case ShapeRamp, ShapeSpike:
		return Shape(s), nil
	}
	return "", fmt.Errorf("unknown shape %q (want steady, ramp or spike)", s)
}

// segment is a stretch of the schedule whose rate changes linearly from r0
// to r1 requests per second over length seconds. The last segment of a
// schedule is open-ended at rate r1.
type segment struct {
	length float64 // seconds; +Inf for the final segment
	r0, r1 float64 // requests per second at the start and end
	start  float64 // seconds since the run started
	count  float64 // requests scheduled before start
}

// schedule maps a request's sequence number to its intended send time (an
// open loop). It is immutable and safe for concurrent use.
type schedule struct {
	segs []segment
}

// newSchedule builds the schedule of shape at rate over duration d. Ramp and
// spike need d > 0.
func newSchedule(shape Shape, rate float64, d time.Duration, spikeFactor float64) (*schedule, error) {
	if rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		return nil, fmt.Errorf("rate must be a positive number, got %v", rate)
	}
	D := d.Seconds()
	inf := math.Inf(1)
	var parts []segment
	switch shape {
	case "", ShapeSteady:
		parts = []segment{{length: inf, r0: rate, r1: rate}}
	case ShapeRamp:
		if D <= 0 {
			return nil, fmt.Errorf("shape %s needs a duration", shape)
		}
		parts = []segment{
			{length: D, r0: rate * RampStartFraction, r1: rate},
			{length: inf, r0: rate, r1: rate},
		}
	case ShapeSpike:
		if D <= 0 {
			return nil, fmt.Errorf("shape %s needs a duration", shape)
		}
		if spikeFactor <= 1 {
			spikeFactor = DefaultSpikeFactor
		}
		burst := rate * spikeFactor
		parts = []segment{
			{length: D * SpikeStart, r0: rate, r1: rate},
			{length: D * (SpikeEnd - SpikeStart), r0: burst, r1: burst},
			{length: inf, r0: rate, r1: rate},
		}
	default:
		return nil, fmt.Errorf("unknown shape %q", shape)
	}
	var start, count float64
	for i := range parts {
		parts[i].start, parts[i].count = start, count
		start += parts[i].length
		count += parts[i].countIn(parts[i].length)
	}
	return &schedule{segs: parts}, nil
}

// countIn is the number of requests the segment schedules in its first t seconds.
func (s *segment) countIn(t float64) float64 {
	if math.IsInf(s.length, 1) || s.r0 == s.r1 {
		return s.r0 * t
	}
	return s.r0*t + (s.r1-s.r0)*t*t/(2*s.length)
}

// timeOf is the offset into the segment where its n-th request (counted from
// the segment start, fractional) is due.
func (s *segment) timeOf(n float64) float64 {
	if math.IsInf(s.length, 1) || s.r0 == s.r1 {
		return n / s.r0
	}
	// Solve a t² + b t = n with a = (r1-r0)/(2L), b = r0, in the form that
	// stays stable when a is small or negative.
	a := (s.r1 - s.r0) / (2 * s.length)
	b := s.r0
	disc := b*b + 4*a*n
	if disc < 0 {
		disc = 0
	}
	return 2 * n / (b + math.Sqrt(disc))
}

// segFor returns the last segment whose beginning, as key measures it (in
// requests or in seconds), is at or before v.
func (sc *schedule) segFor(v float64, key func(*segment) float64) *segment {
	for j := 1; j < len(sc.segs); j++ {
		if v < key(&sc.segs[j]) {
			return &sc.segs[j-1]
		}
	}
	return &sc.segs[len(sc.segs)-1]
}

// at returns the intended send time of request i (0-based) since the start.
func (sc *schedule) at(i int64) time.Duration {
	n := float64(i)
	s := sc.segFor(n, func(s *segment) float64 { return s.count })
	t := s.start + s.timeOf(n-s.count)
	return time.Duration(t * float64(time.Second))
}

// countBy returns how many requests are due strictly before t since the start.
func (sc *schedule) countBy(t time.Duration) int64 {
	x := t.Seconds()
	if x <= 0 {
		return 0
	}
	s := sc.segFor(x, func(s *segment) float64 { return s.start })
	c := s.count + s.countIn(x-s.start)
	return int64(math.Ceil(c - 1e-9))
}

// rateAt returns the scheduled rate at t since the start.
func (sc *schedule) rateAt(t time.Duration) float64 {
	x := t.Seconds()
	s := sc.segFor(x, func(s *segment) float64 { return s.start })
	if math.IsInf(s.length, 1) || s.r0 == s.r1 {
		return s.r0
	}
	return s.r0 + (s.r1-s.r0)*(x-s.start)/s.length
}
