package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/stackgen/stackgen/stack"
)

// errorLineRE matches the log lines that carry a cause: logfmt or JSON
// error levels, Go panics and fatal errors.
var errorLineRE = regexp.MustCompile(`(?i)(level=(error|fatal|crit)|"level":"(error|fatal)"|^panic:|^fatal error:|\berror loading\b)`)

// configErrorRE tells a refused configuration from other failures.
var configErrorRE = regexp.MustCompile(`(?i)(config|rule|template|yaml|unmarshal|parse)`)

// timestampRE matches logfmt timestamps, which differ between repeats of one error.
var timestampRE = regexp.MustCompile(`^ts=\S+\s*|time=\S+\s*`)

// causeLines picks the lines explaining a failure out of a log: the error
// lines, most recent last, each once, at most max of them.
func causeLines(logs string, max int) []string {
	var out []string
	seen := map[string]bool{}
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0 && len(out) < max; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || !errorLineRE.MatchString(l) {
			continue
		}
		// The same error repeats once per restart: compare without the timestamp.
		key := timestampRE.ReplaceAllString(l, "")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, l)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// configRefused is the exit-1 error for a configuration Prometheus or
// Alertmanager refused: the server's own words (cause, e.g. the reload
// answer) and the error lines its log gained since since.
func (p *Project) configRefused(ctx context.Context, role string, since time.Time, cause string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	s := p.File.Role(role)
	name := role
	if s != nil {
		name = s.Name
	}
	var lines []string
	if cs, err := listDocker(ctx, p.Engine.Docker, append(projectFilters(p.Name), "label="+labelService+"="+name)...); err == nil {
		for _, c := range cs {
			lines = append(lines, causeLines(p.Logs(ctx, c.ID, 500, since.Add(-time.Second).Format(time.RFC3339Nano)), 6)...)
		}
	}
	msg := fmt.Sprintf("%s refused its configuration", name)
	if cause != "" {
		msg += ": " + cause
	}
	if len(lines) > 0 {
		msg += "\n  " + strings.Join(lines, "\n  ")
	}
	running := "It keeps running the previous configuration."
	if role == stack.RolePrometheus {
		running = "Prometheus keeps running the previous configuration and rules."
	}
	return &Error{Code: ExitFailure, Err: fmt.Errorf("%s", msg),
		Fix: fmt.Sprintf("%s Fix stack.yaml (check the files in %s, e.g. with promtool check config / amtool check-config) and run `stackgen up` again.", running, p.Dir)}
}

// notReady builds the error for services or targets not ready: it prints
// the cause lines and last log lines of every service that is not ready
// and the scrape targets that are down. A Prometheus or Alertmanager that
// failed on its configuration is exit 1 with the cause; anything else exit 7.
func (p *Project) notReady(ctx context.Context, w *waiter, why string, o UpOptions) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cs, _ := listDocker(ctx, p.Engine.Docker, projectFilters(p.Name)...)
	var bad []string
	var refused []string
	for _, r := range w.rows {
		if r.ready {
			continue
		}
		bad = append(bad, r.name)
		if r == w.targets && w.prom != nil {
			if ts, err := w.prom.Targets(ctx); err == nil {
				fmt.Fprintln(o.Out, "\nscrape targets:")
				if len(ts) == 0 {
					fmt.Fprintln(o.Out, "  (none discovered yet)")
				}
				for _, t := range ts {
					fmt.Fprintf(o.Out, "  %-5s %s %s %s\n", t.Health, t.Job, t.ScrapeURL, t.LastError)
				}
			}
			continue
		}
		for _, c := range cs {
			if c.Service != r.name {
				continue
			}
			logs := p.Logs(ctx, c.ID, 300, "")
			causes := causeLines(logs, 6)
			tail := lastLines(logs, 20)
			if strings.TrimSpace(tail) == "" {
				tail = "(no log output yet)"
			}
			fmt.Fprintf(o.Out, "\n--- last log lines of %s (%s) ---\n%s\n", c.Name, c.Status, tail)
			if len(causes) > 0 {
				fmt.Fprintf(o.Out, "--- errors in the log of %s ---\n%s\n", c.Name, strings.Join(causes, "\n"))
			}
			if r.failed && reloadable(r.role) {
				for _, l := range causes {
					if configErrorRE.MatchString(l) {
						refused = append(refused, r.name+": "+l)
					}
				}
			}
		}
	}
	if len(refused) > 0 {
		return &Error{Code: ExitFailure,
			Err: fmt.Errorf("%s: the configuration was refused:\n  %s", why, strings.Join(refused, "\n  ")),
			Fix: fmt.Sprintf("Fix stack.yaml (the rendered files are in %s; promtool check config / amtool check-config show the same) and run `stackgen up` again.", p.Dir)}
	}
	return &Error{Code: ExitUnhealthy,
		Err: fmt.Errorf("%s: %s", why, strings.Join(bad, ", ")),
		Fix: fmt.Sprintf("See the log lines above; `stackgen status` shows the current state and `docker compose -p %s logs SERVICE` the full logs. "+
			"Slow machine? Raise --timeout.", p.Name)}
}

// existingContentImage is the content-tagged image of the running binary,
// which must exist (up --no-build).
func (e *Engine) existingContentImage(ctx context.Context) (string, error) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", fmt.Errorf("find the running binary: %w", err)
	}
	img, err := ContentTag(exe)
	if err != nil {
		return "", err
	}
	if !e.ImageExists(ctx, img) {
		return "", &Error{Code: ExitImageMissing,
			Err: fmt.Errorf("image %s (this stackgen binary) is not present and --no-build was given", img),
			Fix: "Run `stackgen up` without --no-build to build it from this binary, or `docker load -i` a saved copy."}
	}
	return img, nil
}
