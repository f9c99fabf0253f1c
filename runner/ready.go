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

	"github.com/stackgen/stackgen/stack"
)

// probe is an HTTP readiness check of a service from the host.
type probe struct {
	// target is the container port; path the HTTP path.
	target int
	path   string
}

// roleProbes are the readiness endpoints of the stack's third-party
// services, by io.stackgen.role (the conventions fixed for rendered stacks).
var roleProbes = map[string]probe{
	stack.RolePrometheus:   {9090, "/-/ready"},
	stack.RoleAlertmanager: {9093, "/-/ready"},
	stack.RoleGrafana:      {3000, "/api/health"},
}

// probeFor returns the host URL that tells whether a service is ready, or ""
// when it has none (the container's own health then decides). stackgen's own
// services (`/stackgen healthcheck URL`) are probed on their healthcheck's
// path; Prometheus, Alertmanager and Grafana on their readiness endpoints.
// Only published ports can be probed from the host.
func probeFor(s *Service) string {
	pr, ok := roleProbes[s.Role]
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

// healthcheckURL extracts the URL from a ["CMD", "/stackgen", "healthcheck",
// URL] test (the exec form compose-go returns; the rendered stacks never use
// a shell form).
func healthcheckURL(test []string) *url.URL {
	args := test
	if len(args) > 0 && args[0] == "CMD" {
		args = args[1:]
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

// crashLoopRestarts is the number of restarts during this up at which a
// restarting container counts as failed.
const crashLoopRestarts = 3

// ExpectedTargets counts the static scrape targets in a prometheus.yml (0
// when it uses service discovery or cannot be read: then "every active
// target up" is all the runner can check). It reads the two keys it needs
// with yaml.v3 rather than Prometheus' config package, which would link the
// AWS, Azure, GCP and Kubernetes SDKs of its service discovery into the
// binary (the rendered file is checked with config.Load and promtool in the
// prometheus package's tests).
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
	role    string
	probe   string
	ready   bool
	failed  bool
	since   time.Duration
	detail  string
	exited  int // consecutive polls seen exited after exiting during this up
	printed string
}

// waiter waits for every service and scrape target of a project. It judges
// containers from the moment this up started: restarts are counted from
// then, and a container that stopped before is compose's to start, not a
// failure.
type waiter struct {
	p        *Project
	out      io.Writer
	tty      bool
	start    time.Time
	rows     []*row
	byName   map[string]*row
	promRow  *row
	targets  *row
	amRow    *row
	prom     *Prom
	expected int
	drawn    int
	lastNote time.Time
	cache    []Container
	listedAt time.Time
	// baseline is each container's restart count when this up started.
	baseline map[string]int
	// list lists the project's containers (listDocker in production).
	list func(ctx context.Context) ([]Container, error)
	// probe checks a readiness URL (Probe in production).
	probe func(ctx context.Context, url string) error
}

func newWaiter(p *Project, out io.Writer, tty bool, start time.Time, before []Container) *waiter {
	w := &waiter{p: p, out: out, tty: tty, start: start, byName: map[string]*row{}, baseline: map[string]int{}}
	w.list = func(ctx context.Context) ([]Container, error) {
		return listDocker(ctx, p.Engine.Docker, projectFilters(p.Name)...)
	}
	w.probe = func(ctx context.Context, u string) error { return Probe(ctx, NoRedirectClient(time.Second), u) }
	for _, c := range before {
		w.baseline[c.ID] = c.RestartCount
	}
	for _, name := range p.File.ServiceNames() {
		s := p.File.Services[name]
		r := &row{name: name, role: s.Role, probe: probeFor(s), detail: "waiting for compose"}
		w.rows = append(w.rows, r)
		w.byName[name] = r
		if s.Role == stack.RolePrometheus && w.promRow == nil {
			w.promRow = r
		}
	}
	if s := p.File.Role(stack.RolePrometheus); s != nil {
		if port, ok := s.PublishedFor(9090); ok {
			w.prom = &Prom{URL: "http://" + port.HostAddr(), Client: NoRedirectClient(2 * time.Second)}
			promYML := filepath.Join(p.Dir, "prometheus", "prometheus.yml")
			w.expected = ExpectedTargets(promYML)
			w.targets = &row{name: "scrape targets", detail: "waiting for prometheus"}
			w.rows = append(w.rows, w.targets)
			if p.File.Role(stack.RoleAlertmanager) != nil && promHasAlerting(promYML) {
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
	// While compose is still starting containers, ask the engine less often
	// (it is busy); the HTTP probes below still run every poll.
	cs := w.cache
	if w.cache == nil || composeDone || time.Since(w.listedAt) >= listEvery {
		var err error
		cs, err = w.list(ctx)
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
	promReady := w.promRow != nil && w.promRow.ready
	if w.targets != nil && !w.targets.ready && promReady {
		w.pollTargets(ctx)
	}
	if w.amRow != nil && !w.amRow.ready && promReady {
		if ams, err := w.prom.Alertmanagers(ctx); err == nil && len(ams) > 0 {
			w.setReady(w.amRow)
			w.amRow.detail = "ready (" + ams[0] + ")"
		} else {
			w.amRow.detail = "prometheus has not discovered alertmanager yet"
		}
	}
}

// startedThisUp reports whether c (re)started after this up began; the
// engine's clock and ours may differ by a little.
func (w *waiter) startedThisUp(t time.Time) bool {
	return !t.IsZero() && t.After(w.start.Add(-time.Second))
}

func (w *waiter) pollService(ctx context.Context, r *row, cs []Container, composeDone bool) {
	if len(cs) == 0 {
		if composeDone {
			r.detail = "no container"
		}
		return
	}
	for _, c := range cs {
		restarts := c.RestartCount - w.baseline[c.ID]
		if restarts >= crashLoopRestarts {
			// Even when caught running between two crashes.
			r.detail = fmt.Sprintf("crash loop (%d restarts during this up)", restarts)
			r.failed = true
			return
		}
		switch {
		case c.State == "exited" || c.State == "dead":
			r.detail = fmt.Sprintf("%s (exit code %d)", c.State, c.ExitCode)
			if !w.startedThisUp(c.FinishedAt) {
				// Stopped or killed before this up: compose starts it.
				r.detail += ", to be started"
				r.exited = 0
				return
			}
			// It ran and stopped during this up. A restart policy brings it
			// back within a poll or two; three polls in a row exited (after
			// compose finished) means it stays down.
			if composeDone {
				r.exited++
			}
			if r.exited >= 3 {
				r.failed = true
			}
			return
		case c.State == "restarting":
			r.detail = fmt.Sprintf("restarting (%d restarts during this up)", restarts)
			return
		case c.State != "running":
			r.detail = c.State
			r.exited = 0
			return
		case c.Health == "unhealthy" && (composeDone || w.startedThisUp(c.StartedAt)):
			r.detail, r.failed = "unhealthy", true
			return
		}
	}
	r.exited = 0
	if r.probe != "" {
		if err := w.probe(ctx, r.probe); err != nil {
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
