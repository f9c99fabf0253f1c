package runner

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stackgen/stackgen/render"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/version"
)

// Status is the state of a running stack, as `stackgen status` reports it.
type Status struct {
	// Project is the compose project name.
	Project string `json:"project"`
	// Compose names the compose implementation.
	Compose string `json:"compose"`
	// Healthy is true when every service runs (and is healthy when it has a
	// healthcheck) and every scrape target is up.
	Healthy bool `json:"healthy"`
	// Services are the stack's services.
	Services []ServiceStatus `json:"services"`
	// Prometheus is the Prometheus view; nil when the stack has none published.
	Prometheus *PromStatus `json:"prometheus,omitempty"`
	// Alerts are the firing alerts; null when Prometheus could not be asked.
	Alerts []Alert `json:"alerts"`
	// Stackgen is the stackgen binary reporting.
	Stackgen version.Info `json:"stackgen"`
	// RenderedBy is the stackgen that rendered the deploy folder, from its
	// manifest (absent without one).
	RenderedBy *version.Info `json:"rendered_by,omitempty"`
	// Problems lists why the stack is not healthy, one line each.
	Problems []string `json:"problems,omitempty"`
	// Panels are the provisioned panel queries and rules checked against
	// the live Prometheus (when the caller checks them; see StatusOptions.Check).
	Panels []PanelStatus `json:"panels,omitempty"`
}

// PanelStatus is one dashboard panel query or rule whose result is not plain data.
type PanelStatus struct {
	// Dashboard and Panel name where the query is ("" for a rule).
	Dashboard string `json:"dashboard,omitempty"`
	Panel     string `json:"panel,omitempty"`
	// Rule names the alert rule ("" for a panel).
	Rule string `json:"rule,omitempty"`
	// Query is the PromQL.
	Query string `json:"query"`
	// Result is ok, no_traffic, error or unknown_metric.
	Result string `json:"result"`
	// Detail explains the result.
	Detail string `json:"detail,omitempty"`
}

// ServiceStatus is one service's state.
type ServiceStatus struct {
	// Service is the compose service name.
	Service string `json:"service"`
	// State is the container state (running, exited, ...), "missing" when
	// the service has no container, or "orphan" for a service no longer in
	// compose.yaml.
	State string `json:"state"`
	// Health is healthy, unhealthy, starting or "" (no healthcheck).
	Health string `json:"health,omitempty"`
	// Containers are the service's containers.
	Containers []Container `json:"containers"`
}

// PromStatus is what Prometheus reports.
type PromStatus struct {
	// URL is Prometheus' address on this host.
	URL string `json:"url"`
	// Error is set when Prometheus could not be asked.
	Error string `json:"error,omitempty"`
	// TargetsUp counts the targets up.
	TargetsUp int `json:"targets_up"`
	// TargetsTotal counts the active targets.
	TargetsTotal int `json:"targets_total"`
	// Targets are the active scrape targets.
	Targets []Target `json:"targets"`
	// ConfigError reports that Prometheus' last configuration reload failed.
	ConfigError bool `json:"config_error,omitempty"`
}

// StatusOptions configures GetStatus.
type StatusOptions struct {
	// Dir is the rendered deploy directory.
	Dir string
	// Project is the compose project name when compose.yaml is absent or has no name:.
	Project string
	// Check, when set, checks the provisioned panel queries and rules
	// against the live Prometheus; its results land in Status.Panels, and
	// errors among them make the stack unhealthy.
	Check func(ctx context.Context, prom *Prom) ([]PanelStatus, error)
}

// GetStatus collects the state of the stack.
func GetStatus(ctx context.Context, o StatusOptions) (*Status, error) {
	p, err := Open(ctx, o.Dir, o.Project, false)
	if err != nil {
		return nil, err
	}
	return p.Status(ctx, o)
}

// Status collects the state of the opened project.
func (p *Project) Status(ctx context.Context, o StatusOptions) (*Status, error) {
	cs, err := p.Containers(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Project: p.Name, Compose: p.Compose.String(), Healthy: true, Stackgen: version.Get()}
	if m, err := render.ReadManifest(p.Dir); err == nil {
		st.RenderedBy = &m.Stackgen
	}
	byService := map[string][]Container{}
	for _, c := range cs {
		byService[c.Service] = append(byService[c.Service], c)
	}
	var names []string
	declared := map[string]bool{}
	if p.File != nil {
		names = p.File.ServiceNames()
		for _, n := range names {
			declared[n] = true
		}
	}
	for svc := range byService {
		if !declared[svc] {
			names = append(names, svc)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		ss := ServiceStatus{Service: n, Containers: byService[n]}
		if ss.Containers == nil {
			ss.Containers = []Container{}
		}
		ss.State, ss.Health = summarize(ss.Containers)
		if p.File != nil && !declared[n] {
			ss.State = "orphan"
		}
		if ss.State != "running" || ss.Health == "unhealthy" || ss.Health == "starting" {
			st.problem(fmt.Sprintf("service %s is %s", n, strings.TrimSpace(ss.State+" "+ss.Health)))
		}
		st.Services = append(st.Services, ss)
	}
	if len(names) == 0 {
		st.problem("no service of the stack exists (run `stackgen up`)")
	}
	promURL := p.prometheusURL(cs)
	if promURL == "" {
		return st, nil
	}
	ps := &PromStatus{URL: promURL, Targets: []Target{}}
	st.Prometheus = ps
	prom := &Prom{URL: promURL, Client: NoRedirectClient(5 * time.Second)}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ts, err := prom.Targets(qctx)
	if err != nil {
		ps.Error = err.Error()
		st.problem("Prometheus does not answer at " + promURL)
		return st, nil
	}
	ps.Targets = ts
	ps.TargetsTotal = len(ts)
	for _, t := range ts {
		if t.Health == "up" {
			ps.TargetsUp++
		}
	}
	if ps.TargetsTotal == 0 {
		st.problem("Prometheus has no scrape targets")
	} else if ps.TargetsUp != ps.TargetsTotal {
		st.problem(fmt.Sprintf("%d of %d scrape targets are not up", ps.TargetsTotal-ps.TargetsUp, ps.TargetsTotal))
	}
	if ok, err := prom.ConfigLoaded(qctx); err == nil && !ok {
		ps.ConfigError = true
		st.problem("Prometheus refused its latest configuration and runs an older one (run `stackgen up` to see why)")
	}
	as, err := prom.Alerts(qctx)
	if err != nil {
		ps.Error = err.Error()
		st.problem("Prometheus does not answer for alerts: " + err.Error())
	} else {
		st.Alerts = []Alert{}
		for _, a := range as {
			if a.State == "firing" {
				st.Alerts = append(st.Alerts, a)
			}
		}
	}
	if o.Check != nil {
		// Dozens of queries: a budget of their own, not the 10 s above.
		cctx, ccancel := context.WithTimeout(ctx, 45*time.Second)
		defer ccancel()
		panels, err := o.Check(cctx, prom)
		if err != nil {
			st.problem("checking the panel queries: " + err.Error())
		}
		st.Panels = panels
		for _, pn := range panels {
			if pn.Result != "ok" && pn.Result != "no_traffic" {
				st.problem(fmt.Sprintf("%s: %s", pn.where(), pn.Result))
			}
		}
	}
	return st, nil
}

// where names a panel query's place: "dashboard / panel" or "rule NAME".
func (pn PanelStatus) where() string {
	if pn.Rule != "" {
		return "rule " + pn.Rule
	}
	return pn.Dashboard + " / " + pn.Panel
}

// problem records why the stack is unhealthy.
func (st *Status) problem(s string) {
	st.Healthy = false
	st.Problems = append(st.Problems, s)
}

// summarize reduces a service's containers to one state and health: the
// worst of them.
func summarize(cs []Container) (state, health string) {
	if len(cs) == 0 {
		return "missing", ""
	}
	state, health = "running", ""
	for _, c := range cs {
		if c.State != "running" {
			// The engine keeps the last health of a stopped container;
			// only a running one has a health worth showing.
			state = c.State
			continue
		}
		switch {
		case c.Health == "unhealthy":
			health = "unhealthy"
		case c.Health == "starting" && health != "unhealthy":
			health = "starting"
		case c.Health == "healthy" && health == "":
			health = "healthy"
		}
	}
	return state, health
}

// prometheusURL is the host address of the stack's Prometheus (the service
// with role prometheus): from compose.yaml, else from the running
// container's published port.
func (p *Project) prometheusURL(cs []Container) string {
	if p.File != nil {
		if s := p.File.Role(stack.RolePrometheus); s != nil {
			if port, ok := s.PublishedFor(9090); ok {
				return "http://" + port.HostAddr()
			}
		}
		return ""
	}
	for _, c := range cs {
		if c.Role != stack.RolePrometheus {
			continue
		}
		for _, pub := range c.Publishers {
			if pub.TargetPort == 9090 && pub.PublishedPort != 0 {
				return "http://" + Port{HostIP: pub.URL, Published: pub.PublishedPort}.HostAddr()
			}
		}
	}
	return ""
}

// WriteText prints the status as tables.
func (st *Status) WriteText(w io.Writer) {
	fmt.Fprintf(w, "stack %s (%s)\n", st.Project, st.Compose)
	if st.RenderedBy != nil && st.RenderedBy.Short() != st.Stackgen.Short() {
		fmt.Fprintf(w, "rendered by stackgen %s; this is %s (`stackgen up` renders and applies it again)\n", st.RenderedBy.Short(), st.Stackgen.Short())
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tPORTS")
	for _, s := range st.Services {
		var ports []string
		for _, c := range s.Containers {
			for _, p := range c.Publishers {
				ports = append(ports, fmt.Sprintf("%s->%d", Port{HostIP: p.URL, Published: p.PublishedPort}.HostAddr(), p.TargetPort))
			}
		}
		state := s.State
		if (state == "exited" || state == "dead") && len(s.Containers) == 1 {
			state = fmt.Sprintf("%s (%d)", state, s.Containers[0].ExitCode)
		}
		if len(s.Containers) > 1 {
			state = fmt.Sprintf("%s (%d)", state, len(s.Containers))
		}
		health := s.Health
		if health == "" {
			health = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Service, state, health, strings.Join(ports, ", "))
	}
	tw.Flush()
	if p := st.Prometheus; p != nil {
		fmt.Fprintf(w, "\nPrometheus %s: ", p.URL)
		if p.Error != "" {
			fmt.Fprintf(w, "unreachable: %s\n", p.Error)
		} else {
			fmt.Fprintf(w, "%d/%d targets up\n", p.TargetsUp, p.TargetsTotal)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tINSTANCE\tHEALTH\tLAST ERROR")
			for _, t := range p.Targets {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Job, t.Instance, t.Health, t.LastError)
			}
			tw.Flush()
		}
	}
	fmt.Fprintln(w)
	switch {
	case st.Alerts == nil && st.Prometheus != nil:
		fmt.Fprintln(w, "Alerts firing: unknown (Prometheus does not answer)")
	case st.Alerts == nil:
		fmt.Fprintln(w, "Alerts firing: unknown (the stack has no published Prometheus)")
	case len(st.Alerts) == 0:
		fmt.Fprintln(w, "Alerts firing: none")
	default:
		fmt.Fprintf(w, "Alerts firing: %d\n", len(st.Alerts))
		for _, a := range st.Alerts {
			lbl := []string{}
			for k, v := range a.Labels {
				if k != "alertname" {
					lbl = append(lbl, k+"="+v)
				}
			}
			sort.Strings(lbl)
			fmt.Fprintf(w, "  %s {%s} since %s %s\n", a.Name, strings.Join(lbl, ", "), a.ActiveAt.Format(time.RFC3339), a.Summary)
		}
	}
	// One line per panel or rule (a panel may have several queries; the
	// JSON output has each query).
	var quiet []string
	seen := map[string]bool{}
	for _, pn := range st.Panels {
		if pn.Result == "no_traffic" && !seen[pn.where()] {
			seen[pn.where()] = true
			quiet = append(quiet, "  "+pn.where())
		}
	}
	if len(quiet) > 0 {
		fmt.Fprintf(w, "\nEmpty only for lack of traffic (send some with `stackgen load`): %d\n%s\n", len(quiet), strings.Join(quiet, "\n"))
	}
	if len(st.Problems) > 0 {
		fmt.Fprintf(w, "\nNot healthy:\n  %s\n", strings.Join(st.Problems, "\n  "))
	}
}
