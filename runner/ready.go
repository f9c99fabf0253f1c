package runner

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
	"gopkg.in/yaml.v3"
)

// probe is an HTTP readiness check of a service from the host.
type probe struct {
	// target is the container port; path the HTTP path.
	target int
	path   string
}

// wellKnownProbes are the readiness endpoints of the stack's third-party
// services, by service name (the conventions fixed for rendered stacks).
var wellKnownProbes = map[string]probe{
	"prometheus":   {9090, "/-/ready"},
	"alertmanager": {9093, "/-/ready"},
	"grafana":      {3000, "/api/health"},
}

// probeFor returns the host URL that tells whether a service is ready, or ""
// when it has none (the container's own health then decides). stackgen's own
// services (`/stackgen healthcheck URL`) are probed on their healthcheck's
// path; Prometheus, Alertmanager and Grafana on their readiness endpoints.
// Only published ports can be probed from the host.
func probeFor(s *Service) string {
	pr, ok := wellKnownProbes[s.Name]
	if hc := healthcheckURL(s.Healthcheck); hc != nil {
		if port, err := strconv.Atoi(hc.Port()); err == nil {
			pr, ok = probe{port, hc.EscapedPath()}, true
			if hc.RawQuery != "" {
				pr.path += "?" + hc.RawQuery
			}
		}
	}
	if !ok {
		return ""
	}
	p, pub := s.PublishedFor(pr.target)
	if !pub {
		return ""
	}
	return "http://" + p.HostAddr() + pr.path
}

// healthcheckURL extracts the URL from a `stackgen healthcheck URL` test.
func healthcheckURL(test []string) *url.URL {
	args := test
	if len(args) > 0 && (args[0] == "CMD" || args[0] == "CMD-SHELL") {
		if args[0] == "CMD-SHELL" && len(args) == 2 {
			args = strings.Fields(args[1])
		} else {
			args = args[1:]
		}
	}
	for i := 0; i+1 < len(args); i++ {
		if filepath.Base(args[i]) == "stackgen" && args[i+1] == "healthcheck" {
			for _, a := range args[i+2:] {
				if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
					if u, err := url.Parse(a); err == nil {
						return u
					}
				}
			}
		}
	}
	return nil
}

// listEvery is how often containers are listed while compose runs.
const listEvery = 750 * time.Millisecond

// crashLoopRestarts is the restart count at which a restarting container
// counts as failed.
const crashLoopRestarts = 3

// restartCount is how often the engine restarted a container (0 on error).
func restartCount(ctx context.Context, docker, id string) int {
	out, err := run(ctx, nil, docker, "inspect", "--format", "{{.RestartCount}}", id)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// ExpectedTargets counts the static scrape targets in a prometheus.yml (0
// when it uses service discovery or cannot be read: then "every active
// target up" is all the runner can check).
func ExpectedTargets(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var cfg struct {
		ScrapeConfigs []map[string]yaml.Node `yaml:"scrape_configs"`
	}
	if yaml.Unmarshal(data, &cfg) != nil {
		return 0
	}
	n := 0
	for _, sc := range cfg.ScrapeConfigs {
		for k := range sc {
			if strings.HasSuffix(k, "_sd_configs") {
				return 0
			}
		}
		static, ok := sc["static_configs"]
		if !ok {
			continue
		}
		var groups []struct {
			Targets []string `yaml:"targets"`
		}
		if static.Decode(&groups) != nil {
			return 0
		}
		for _, g := range groups {
			n += len(g.Targets)
		}
	}
	return n
}

// row is one line of the readiness display.
type row struct {
	name    string
	probe   string
	ready   bool
	failed  bool
	since   time.Duration
	detail  string
	exited  int // consecutive polls seen exited
	printed string
}

// waiter waits for every service and scrape target of a project.
type waiter struct {
	p        *Project
	out      io.Writer
	tty      bool
	start    time.Time
	rows     []*row
	byName   map[string]*row
	targets  *row
	amRow    *row
	prom     *Prom
	expected int
	drawn    int
	lastNote time.Time
	cache    []Container
	listedAt time.Time
}

func newWaiter(p *Project, out io.Writer, tty bool, start time.Time) *waiter {
	w := &waiter{p: p, out: out, tty: tty, start: start, byName: map[string]*row{}}
	for _, name := range p.File.ServiceNames() {
		r := &row{name: name, probe: probeFor(p.File.Services[name]), detail: "waiting for compose"}
		w.rows = append(w.rows, r)
		w.byName[name] = r
	}
	if s, ok := p.File.Services["prometheus"]; ok {
		if port, ok := s.PublishedFor(9090); ok {
			w.prom = &Prom{URL: "http://" + port.HostAddr(), Client: NoRedirectClient(2 * time.Second)}
			w.expected = ExpectedTargets(filepath.Join(p.Dir, "prometheus", "prometheus.yml"))
			w.targets = &row{name: "scrape targets", detail: "waiting for prometheus"}
			w.rows = append(w.rows, w.targets)
			if _, ok := p.File.Services["alertmanager"]; ok && promHasAlerting(filepath.Join(p.Dir, "prometheus", "prometheus.yml")) {
				w.amRow = &row{name: "alert delivery", detail: "waiting for prometheus"}
				w.rows = append(w.rows, w.amRow)
			}
		}
	}
	return w
}

// promHasAlerting reports whether prometheus.yml sends alerts to an Alertmanager.
func promHasAlerting(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var cfg struct {
		Alerting struct {
			Alertmanagers []any `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	return yaml.Unmarshal(data, &cfg) == nil && len(cfg.Alerting.Alertmanagers) > 0
}

// done reports whether every row is ready.
func (w *waiter) done() bool {
	for _, r := range w.rows {
		if !r.ready {
			return false
		}
	}
	return true
}

// failedRows returns the rows that failed for good.
func (w *waiter) failedRows() []*row {
	var out []*row
	for _, r := range w.rows {
		if r.failed {
			out = append(out, r)
		}
	}
	return out
}

func (w *waiter) setReady(r *row) {
	if !r.ready {
		r.ready, r.failed, r.since, r.detail = true, false, time.Since(w.start), "ready"
	}
}

// poll updates every row once.
func (w *waiter) poll(ctx context.Context, composeDone bool) {
	// docker ps is much quicker than compose ps, which loads the project.
	// While compose is still starting containers, ask the engine less often
	// (it is busy); the HTTP probes below still run every poll.
	cs := w.cache
	if w.cache == nil || composeDone || time.Since(w.listedAt) >= listEvery {
		var err error
		cs, err = listDocker(ctx, w.p.Engine.Docker, "label=com.docker.compose.project="+w.p.Name, "label=com.docker.compose.oneoff=False")
		if err != nil {
			return
		}
		w.cache, w.listedAt = cs, time.Now()
	}
	byService := map[string][]Container{}
	for _, c := range cs {
		byService[c.Service] = append(byService[c.Service], c)
	}
	for _, name := range w.p.File.ServiceNames() {
		r := w.byName[name]
		if r.ready {
			continue
		}
		w.pollService(ctx, r, byService[name], composeDone)
	}
	if w.targets != nil && !w.targets.ready && w.byName["prometheus"].ready {
		w.pollTargets(ctx)
	}
	if w.amRow != nil && !w.amRow.ready && w.byName["prometheus"].ready {
		if ams, err := w.prom.Alertmanagers(ctx); err == nil && len(ams) > 0 {
			w.setReady(w.amRow)
			w.amRow.detail = "ready (" + ams[0] + ")"
		} else {
			w.amRow.detail = "prometheus has not discovered alertmanager yet"
		}
	}
}

func (w *waiter) pollService(ctx context.Context, r *row, cs []Container, composeDone bool) {
	if len(cs) == 0 {
		if composeDone {
			r.detail = "no container"
		}
		return
	}
	for _, c := range cs {
		switch {
		case c.State == "exited" || c.State == "dead":
			r.exited++
			r.detail = fmt.Sprintf("%s (exit code %d)", c.State, c.ExitCode)
			// A restart policy brings it back within a poll or two; three
			// polls in a row exited means it stays down.
			if r.exited >= 3 {
				r.failed = true
			}
			return
		case c.Health == "unhealthy":
			r.detail, r.failed = "unhealthy", true
			return
		case c.State == "restarting":
			// A crash loop: the restart policy keeps bringing it back.
			n := restartCount(ctx, w.p.Engine.Docker, c.ID)
			r.detail = fmt.Sprintf("restarting (%d restarts)", n)
			if n >= crashLoopRestarts {
				r.detail = fmt.Sprintf("crash loop (%d restarts)", n)
				r.failed = true
			}
			return
		case c.State != "running":
			r.detail = c.State
			r.exited = 0
			return
		}
	}
	r.exited = 0
	if r.probe != "" {
		if err := Probe(ctx, NoRedirectClient(time.Second), r.probe); err != nil {
			r.detail = "GET " + pathOf(r.probe) + ": " + shortErr(err)
			return
		}
		w.setReady(r)
		return
	}
	for _, c := range cs {
		if c.Health == "starting" {
			r.detail = "health: starting"
			return
		}
	}
	w.setReady(r)
}

func (w *waiter) pollTargets(ctx context.Context) {
	ts, err := w.prom.Targets(ctx)
	if err != nil {
		w.targets.detail = shortErr(err)
		return
	}
	up := 0
	var down []string
	for _, t := range ts {
		if t.Health == "up" {
			up++
		} else {
			d := t.Job + " " + t.Instance + " " + t.Health
			if t.LastError != "" {
				d += ": " + t.LastError
			}
			down = append(down, d)
		}
	}
	total := len(ts)
	if w.expected > total {
		total = w.expected
	}
	w.targets.detail = fmt.Sprintf("%d/%d up", up, total)
	if len(down) > 0 {
		sort.Strings(down)
		w.targets.detail += " (" + down[0] + ")"
	}
	if len(ts) > 0 && up == total {
		w.setReady(w.targets)
		w.targets.detail = fmt.Sprintf("%d/%d up", up, total)
	}
}

// note prints a message above the progress rows.
func (w *waiter) note(msg string) {
	if msg == "" {
		return
	}
	if w.tty && w.drawn > 0 {
		fmt.Fprintf(w.out, "\033[%dA\033[J", w.drawn)
		w.drawn = 0
	}
	fmt.Fprintf(w.out, "  %s\n", msg)
}

// reset marks a service (and the scrape targets and alert delivery, which
// depend on Prometheus' configuration) as not ready again, after a reload.
func (w *waiter) reset(service string) {
	for _, r := range []*row{w.byName[service], w.targets, w.amRow} {
		if r != nil && r.ready {
			r.ready, r.printed, r.detail = false, "", "reloading"
		}
	}
}

// draw shows the rows: redrawn in place on a terminal, one line per change
// (and a reminder of what is pending every 10 s) otherwise.
func (w *waiter) draw(final bool) {
	if w.tty {
		if w.drawn > 0 {
			fmt.Fprintf(w.out, "\033[%dA", w.drawn)
		}
		width := 100
		if f, ok := w.out.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
				width = cols - 1
			}
		}
		for _, r := range w.rows {
			// A wrapped line would break the cursor-up redraw.
			line := []rune(w.line(r))
			if len(line) > width {
				line = append(line[:width-1], '…')
			}
			fmt.Fprintf(w.out, "\033[2K%s\n", string(line))
		}
		w.drawn = len(w.rows)
		return
	}
	for _, r := range w.rows {
		if (r.ready || r.failed) && r.printed != r.detail {
			fmt.Fprintln(w.out, w.line(r))
			r.printed = r.detail
		}
	}
	if !final && time.Since(w.lastNote) >= 10*time.Second && time.Since(w.start) >= 5*time.Second {
		w.lastNote = time.Now()
		var pending []string
		for _, r := range w.rows {
			if !r.ready && !r.failed {
				pending = append(pending, r.name+": "+r.detail)
			}
		}
		if len(pending) > 0 {
			fmt.Fprintf(w.out, "  … %4.0fs waiting for %s\n", time.Since(w.start).Seconds(), strings.Join(pending, "; "))
		}
	}
}

func (w *waiter) line(r *row) string {
	mark := "…"
	switch {
	case r.ready:
		mark = "✓"
	case r.failed:
		mark = "✗"
	}
	s := fmt.Sprintf("  %s %-22s %s", mark, r.name, r.detail)
	if r.ready {
		s += fmt.Sprintf(" (%.1fs)", r.since.Seconds())
	}
	return s
}

func pathOf(u string) string {
	if pu, err := url.Parse(u); err == nil {
		return pu.Path
	}
	return u
}

// shortErr trims Go's verbose network errors to their last part.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "dial tcp") {
		s = s[i+2:]
	}
	return s
}
