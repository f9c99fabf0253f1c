package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteJSON writes the result as one JSON object followed by a newline.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// WriteText writes the human-readable summary.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Target:     %s\n", r.Target)
	if r.Mode == "open" {
		fmt.Fprintf(&b, "Mode:       open loop, %s at %g req/s (%d workers at the end)\n", r.Shape, r.Rate, r.Workers)
	} else {
		fmt.Fprintf(&b, "Mode:       closed loop, %d workers\n", r.Concurrency)
	}
	if r.Interrupted {
		b.WriteString("Stopped:    interrupted; summary so far\n")
	}
	fmt.Fprintf(&b, "Duration:   %.2fs\n", r.DurationS)
	fmt.Fprintf(&b, "Requests:   %d (%.1f req/s)\n", r.Requests, r.RPS)
	if r.Mode == "open" && r.Scheduled > r.Requests {
		fmt.Fprintf(&b, "Scheduled:  %d (%d not completed: the target did not keep up)\n", r.Scheduled, r.Scheduled-r.Requests)
	}
	fmt.Fprintf(&b, "Succeeded:  %d\n", r.Successes)
	fmt.Fprintf(&b, "Errors:     %d\n", r.Errors)
	if r.Invalid > 0 {
		fmt.Fprintf(&b, "Invalid:    %d requests sent with the invalid payload\n", r.Invalid)
	}
	if len(r.StatusCodes) > 0 {
		var parts []string
		for _, k := range sortedCodes(r.StatusCodes) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, r.StatusCodes[k]))
		}
		fmt.Fprintf(&b, "Status:     %s\n", strings.Join(parts, "  "))
	}
	if len(r.TransportErrors) > 0 {
		kinds := make([]string, 0, len(r.TransportErrors))
		for k := range r.TransportErrors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s×%d", k, r.TransportErrors[k]))
		}
		fmt.Fprintf(&b, "Transport:  %s\n", strings.Join(parts, "  "))
		for _, k := range kinds {
			if msg := r.ErrorSamples[k]; msg != "" {
				fmt.Fprintf(&b, "  %s: %s\n", k, msg)
			}
		}
	}
	l := r.Latency
	what := "Latency"
	if r.Mode == "open" {
		what = "Latency (from intended send time)"
	}
	if r.hist != nil && r.hist.TotalCount() == 0 {
		fmt.Fprintf(&b, "%s: no responses\n", what)
	} else {
		fmt.Fprintf(&b, "%s, ms:\n  p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  max %.3f\n", what, l.P50, l.P90, l.P95, l.P99, l.Max)
	}
	if s := r.ServiceTime; s != nil && r.hist != nil && r.hist.TotalCount() > 0 {
		fmt.Fprintf(&b, "Service time (from actual send), ms:\n  p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  max %.3f\n", s.P50, s.P90, s.P95, s.P99, s.Max)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
