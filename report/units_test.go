package report

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		unit string
		v    float64
		dec  int
		want string
	}{
		{"reqps", 0.6312, -1, "0.631 req/s"},
		{"reqps", 1520, -1, "1.52 K req/s"},
		{"s", 0.134, -1, "134 ms"},
		{"s", 0.000250, -1, "250 µs"},
		{"s", 2.5, -1, "2.5 s"},
		{"ms", 1500, -1, "1.5 s"},
		{"percentunit", 0.7060, 2, "70.60%"},
		{"percentunit", 0, -1, "0%"},
		{"mbytes", 48.5, -1, "48.5 MiB"},
		{"mbytes", 2048, -1, "2 GiB"},
		{"short", 12, -1, "12"},
		{"short", 0.5, -1, "0.5"},
		{"short", 2500000, -1, "2.5 M"},
	} {
		if got := formatValue(c.unit, c.v, c.dec); got != c.want {
			t.Errorf("formatValue(%q, %v, %d) = %q, want %q", c.unit, c.v, c.dec, got, c.want)
		}
	}
}

func TestThresholdColor(t *testing.T) {
	y, r := 0.01, 0.05
	p := Panel{Thresholds: []Threshold{{Color: "green"}, {Color: "yellow", Value: &y}, {Color: "red", Value: &r}}}
	for v, want := range map[float64]string{0: "green", 0.009: "green", 0.01: "yellow", 0.2: "red"} {
		if got := p.thresholdColor(v); got != want {
			t.Errorf("thresholdColor(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	to := now.Add(-time.Hour)
	for _, c := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"now", now, false},
		{"-1h", to.Add(-time.Hour), false},
		{"now-10m", now.Add(-10 * time.Minute), false},
		{"2026-01-02T10:00:00Z", time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC), false},
		{"1767366000", time.Unix(1767366000, 0), false},
		{"yesterday", time.Time{}, true},
		{"-0s", time.Time{}, true},
		{"-1x", time.Time{}, true},
	} {
		got, err := ParseTime(c.in, to, now)
		if (err != nil) != c.err || (!c.err && !got.Equal(c.want)) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func TestStep(t *testing.T) {
	for _, c := range []struct {
		rng, scrape, want time.Duration
	}{
		{time.Hour, 5 * time.Second, 12 * time.Second},
		{10 * time.Minute, 5 * time.Second, 5 * time.Second},
		{24 * time.Hour, 15 * time.Second, 288 * time.Second},
		{time.Minute, 0, 15 * time.Second},
	} {
		if got := step(c.rng, DefaultMaxPoints, c.scrape); got != c.want {
			t.Errorf("step(%v, scrape %v) = %v, want %v", c.rng, c.scrape, got, c.want)
		}
	}
}

func TestStats(t *testing.T) {
	one, half := 1.0, 0.5
	dec := 2
	health := Panel{Type: "stat", Unit: "short", Thresholds: []Threshold{{Color: "red"}, {Color: "green", Value: &one}},
		Mappings: map[string]Mapping{"0": {Text: "DOWN", Color: "red"}, "1": {Text: "UP", Color: "green"}}}
	ratio := Panel{Type: "stat", Unit: "percentunit", Decimals: &dec, Thresholds: []Threshold{{Color: "green"}, {Color: "red", Value: &half}}}
	nan := math.NaN()
	at := func(vs ...float64) []Series {
		var ps []Point
		for i, v := range vs {
			ps = append(ps, Point{T: fixedTo.Add(time.Duration(i) * time.Minute), V: v})
		}
		return []Series{{Name: "x", Points: ps}}
	}
	for _, c := range []struct {
		name string
		p    Panel
		s    []Series
		want []Stat
	}{
		{"mapped up", health, at(0, 1), []Stat{{Name: "x", Text: "UP", Color: "#56A64B"}}},
		{"mapped down", health, at(1, 0), []Stat{{Name: "x", Text: "DOWN", Color: "#E02F44"}}},
		{"last not NaN", ratio, at(0.7, 0.2, nan), []Stat{{Name: "x", Text: "20.00%", Color: "#56A64B"}}},
		{"over threshold", ratio, at(0.2, 0.7), []Stat{{Name: "x", Text: "70.00%", Color: "#E02F44"}}},
		{"only NaN", ratio, at(nan), nil},
		{"time series panel", Panel{Type: "timeseries"}, at(1), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := stats(&PanelData{Panel: c.p, Series: c.s})
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("stats = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCapSeries(t *testing.T) {
	ss := make([]Series, 7)
	for i := range ss {
		ss[i].Name = string(rune('a' + i))
	}
	for _, c := range []struct{ max, keep, omitted int }{{10, 7, 0}, {7, 7, 0}, {3, 3, 4}} {
		got, om := capSeries(ss, c.max)
		if len(got) != c.keep || om != c.omitted || got[0].Name != "a" {
			t.Errorf("capSeries(7, %d) = %d kept, %d omitted; want %d, %d", c.max, len(got), om, c.keep, c.omitted)
		}
	}
}
