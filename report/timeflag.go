package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a --from or --to value: "now", RFC 3339, Unix seconds,
// or a duration back from rel ("-1h") or from now ("now-1h").
func ParseTime(v string, rel, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "now":
		return now, nil
	case strings.HasPrefix(v, "now-"):
		v = v[3:]
		rel = now
	}
	if strings.HasPrefix(v, "-") {
		d, err := time.ParseDuration(v[1:])
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("%q: want a duration such as -1h or -10m", v)
		}
		return rel.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
		return time.UnixMilli(int64(f * 1000)), nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, now, or -1h", v)
}
