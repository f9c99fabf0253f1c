package report

import (
	"math"
	"strconv"
	"strings"
)

// formatValue writes v in a Grafana unit the dashboards use (reqps, s, ms,
// percentunit, short, mbytes), as Grafana's value formats do: seconds and
// milliseconds scaled to a readable unit, percent units times 100, short
// with k/M/B suffixes. decimals < 0 means automatic (up to 3 significant
// digits after the point).
func formatValue(unit string, v float64, decimals int) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	if math.IsInf(v, 0) {
		if v > 0 {
			return "+Inf"
		}
		return "-Inf"
	}
	num := func(x float64) string { return formatNumber(x, decimals) }
	switch unit {
	case "percentunit":
		return num(v*100) + "%"
	case "percent":
		return num(v) + "%"
	case "reqps":
		return scaleShort(v, decimals) + " req/s"
	case "s":
		return formatSeconds(v, decimals)
	case "ms":
		return formatSeconds(v/1000, decimals)
	case "mbytes":
		return formatBytes(v*1024*1024, decimals)
	case "bytes":
		return formatBytes(v, decimals)
	case "short", "", "none":
		return scaleShort(v, decimals)
	}
	return num(v) + " " + unit
}

func formatNumber(x float64, decimals int) string {
	if decimals >= 0 {
		return strconv.FormatFloat(x, 'f', decimals, 64)
	}
	a := math.Abs(x)
	d := 0
	switch {
	case a == 0 || a >= 100:
		d = 0
	case a >= 10:
		d = 1
	case a >= 1:
		d = 2
	default:
		d = 3
		for a > 0 && a < 0.01 && d < 8 {
			a *= 10
			d++
		}
	}
	s := strconv.FormatFloat(x, 'f', d, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func scaleShort(v float64, decimals int) string {
	a := math.Abs(v)
	for _, s := range []struct {
		f   float64
		suf string
	}{{1e12, " T"}, {1e9, " B"}, {1e6, " M"}, {1e3, " K"}} {
		if a >= s.f {
			return formatNumber(v/s.f, decimals) + s.suf
		}
	}
	return formatNumber(v, decimals)
}

func formatSeconds(v float64, decimals int) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return formatNumber(0, decimals) + " s"
	case a < 1e-3:
		return formatNumber(v*1e6, decimals) + " µs"
	case a < 1:
		return formatNumber(v*1e3, decimals) + " ms"
	case a < 60:
		return formatNumber(v, decimals) + " s"
	case a < 3600:
		return formatNumber(v/60, decimals) + " min"
	}
	return formatNumber(v/3600, decimals) + " h"
}

func formatBytes(v float64, decimals int) string {
	a := math.Abs(v)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for a >= 1024 && i < len(units)-1 {
		a /= 1024
		v /= 1024
		i++
	}
	return formatNumber(v, decimals) + " " + units[i]
}
