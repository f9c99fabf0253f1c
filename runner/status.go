package runner

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
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
	// Alerts are the firing alerts.
	Alerts []Alert `json:"alerts"`
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
}

// StatusOptions configures GetStatus.
type StatusOptions struct {
	// Dir is the rendered deploy directory.
	Dir string
	// Project is the compose project name when compose.yaml is absent or has no name:.
	Project string
}

// GetStatus collects the state of the stack.
func GetStatus(ctx context.Context, o StatusOptions) (*Status, error) {
	p, err := Open(ctx, o.Dir, o.Project, false)
	if err != nil {
		return nil, err
	}
	cs, err := p.Containers(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Project: p.Name, Compose: p.Compose.String(), Healthy: true, Alerts: []Alert{}}
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
			st.Healthy = false
		}
		st.Services = append(st.Services, ss)
	}
	if len(names) == 0 {
		st.Healthy = false
	}
	if promURL := p.prometheusURL(cs); promURL != "" {
		ps := &PromStatus{URL: promURL, Targets: []Target{}}
		st.Prometheus = ps
		prom := &Prom{URL: promURL, Client: NoRedirectClient(5 * time.Second)}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if ts, err := prom.Targets(qctx); err != nil {
			ps.Error = err.Error()
			st.Healthy = false
		} else {
			sort.Slice(ts, func(i, j int) bool {
				if ts[i].Job != ts[j].Job {
					return ts[i].Job < ts[j].Job
				}
				return ts[i].Instance < ts[j].Instance
			})
			ps.Targets = ts
			ps.TargetsTotal = len(ts)
			for _, t := range ts {
				if t.Health == "up" {
					ps.TargetsUp++
				}
			}
			if ps.TargetsUp != ps.TargetsTotal || ps.TargetsTotal == 0 {
				st.Healthy = false
			}
		}
		if as, err := prom.Alerts(qctx); err == nil {
			for _, a := range as {
				if a.State == "firing" {
					st.Alerts = append(st.Alerts, a)
				}
			}
		}
	}
	return st, nil
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
			state = c.State
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

// prometheusURL is the host address of the stack's Prometheus: from
// compose.yaml, else from the running container's published port.
func (p *Project) prometheusURL(cs []Container) string {
	if p.File != nil {
		if s, ok := p.File.Services["prometheus"]; ok {
			if port, ok := s.PublishedFor(9090); ok {
				return "http://" + port.HostAddr()
			}
		}
		return ""
	}
	for _, c := range cs {
		if c.Service != "prometheus" {
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
	fmt.Fprintf(w, "stack %s (%s)\n\n", st.Project, st.Compose)
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
	if len(st.Alerts) == 0 {
		fmt.Fprintln(w, "Alerts firing: none")
	} else {
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
}
