package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestScheduleSteady(t *testing.T) {
	sc, err := newSchedule(ShapeSteady, 100, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int64]time.Duration{0: 0, 1: 10 * time.Millisecond, 100: time.Second, 12345: 123450 * time.Millisecond} {
		if got := sc.at(i); absDur(got-want) > time.Microsecond {
			t.Errorf("at(%d) = %s, want %s", i, got, want)
		}
	}
	if got := sc.countBy(time.Second); got != 100 {
		t.Errorf("countBy(1s) = %d, want 100", got)
	}
}

func TestScheduleShapes(t *testing.T) {
	const rate = 100.0
	const d = 60 * time.Second
	cases := []struct {
		shape     Shape
		wantTotal float64 // requests due within d
		rates     map[time.Duration]float64
	}{
		{ShapeRamp, rate * 60 * (1 + RampStartFraction) / 2, map[time.Duration]float64{
			0: rate * RampStartFraction, 30 * time.Second: rate * (1 + RampStartFraction) / 2, 59 * time.Second: rate * (RampStartFraction + 0.95*59/60), 2 * d: rate,
		}},
		{ShapeSpike, rate*60*(1-(SpikeEnd-SpikeStart)) + rate*DefaultSpikeFactor*60*(SpikeEnd-SpikeStart), map[time.Duration]float64{
			10 * time.Second: rate, 40 * time.Second: rate * DefaultSpikeFactor, 50 * time.Second: rate * DefaultSpikeFactor, 58 * time.Second: rate, 2 * d: rate,
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.shape), func(t *testing.T) {
			sc, err := newSchedule(tc.shape, rate, d, 0)
			if err != nil {
				t.Fatal(err)
			}
			total := sc.countBy(d)
			if math.Abs(float64(total)-tc.wantTotal) > 2 {
				t.Errorf("requests due in %s = %d, want %.0f", d, total, tc.wantTotal)
			}
			for at, want := range tc.rates {
				if got := sc.rateAt(at); math.Abs(got-want) > 0.01*want {
					t.Errorf("rate at %s = %.2f, want %.2f", at, got, want)
				}
			}
			// at and countBy are inverse, and at is monotonic.
			var prev time.Duration
			for i := int64(0); i < total+500; i += 7 {
				ti := sc.at(i)
				if ti < prev {
					t.Fatalf("at(%d) = %s goes back from %s", i, ti, prev)
				}
				prev = ti
				if c := sc.countBy(ti + time.Microsecond); c != i+1 {
					t.Fatalf("countBy(at(%d)+1µs) = %d, want %d", i, c, i+1)
				}
			}
		})
	}
}

// TestSpikeFiresTrafficAlert evaluates the default traffic_spike alert,
// rate[1m] > 3 × rate[15m] for 2m, on a 25-minute spike run (15 minutes of
// base rate, then the burst): the condition must hold from the first minute
// of the burst for well over 2 minutes, and not before the burst.
func TestSpikeFiresTrafficAlert(t *testing.T) {
	const d = 25 * time.Minute
	sc, err := newSchedule(ShapeSpike, 5, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	rate := func(end, window time.Duration) float64 {
		return float64(sc.countBy(end)-sc.countBy(end-window)) / window.Seconds()
	}
	firing := func(at time.Duration) bool { return rate(at, time.Minute) > 3*rate(at, 15*time.Minute) }
	burst := time.Duration(float64(d) * SpikeStart)
	if burst < 15*time.Minute {
		t.Fatalf("burst starts at %s, before 15 minutes of base history", burst)
	}
	if firing(burst - time.Second) {
		t.Error("alert condition holds before the burst")
	}
	var held time.Duration
	for at := burst + time.Minute; at < d && firing(at); at += 10 * time.Second {
		held += 10 * time.Second
	}
	if held < 150*time.Second {
		t.Errorf("alert condition held for %s after the burst's first minute, want > 2m30s", held)
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, tc := range []struct {
		shape Shape
		rate  float64
		d     time.Duration
	}{
		{ShapeSteady, 0, time.Second},
		{ShapeSteady, math.Inf(1), time.Second},
		{ShapeRamp, 10, 0},
		{ShapeSpike, 10, 0},
		{"square", 10, time.Second},
	} {
		if _, err := newSchedule(tc.shape, tc.rate, tc.d, 0); err == nil {
			t.Errorf("newSchedule(%s, %v, %s): want an error", tc.shape, tc.rate, tc.d)
		}
	}
	if _, err := ParseShape("zigzag"); err == nil {
		t.Error("ParseShape(zigzag): want an error")
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
