package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"
)

// UpOptions configures Up.
type UpOptions struct {
	// Dir is the rendered deploy directory (with compose.yaml).
	Dir string
	// Project is the compose project name when compose.yaml has no name:.
	Project string
	// Timeout bounds compose up plus the readiness wait (default 3m).
	Timeout time.Duration
	// NoBuild skips building the stackgen image (it must exist).
	NoBuild bool
	// StackgenImage is the image of stackgen's own services (default stackgen:local).
	StackgenImage string
	// SourceHint is where to look for stackgen's module source when the
	// image must be built from source (e.g. the stack.yaml directory).
	SourceHint string
	// Out receives progress (usually stderr).
	Out io.Writer
	// TTY redraws progress in place.
	TTY bool
}

// Endpoint is a published service address to show the user.
type Endpoint struct {
	// Service is the compose service.
	Service string `json:"service"`
	// URL is the address on this host.
	URL string `json:"url"`
}

// UpResult is what Up did.
type UpResult struct {
	// Project is the compose project name.
	Project string
	// Compose names the compose implementation used.
	Compose string
	// Changes maps each service to created, recreated or unchanged.
	Changes map[string]string
	// Endpoints are the published addresses, by service.
	Endpoints []Endpoint
	// Elapsed is the time from the start of Up to everything ready.
	Elapsed time.Duration
}

// pollInterval is how often readiness is checked.
const pollInterval = 250 * time.Millisecond

// Up runs the rendered stack in o.Dir and waits until every service is ready
// and every Prometheus scrape target is up. See the Exit* codes for failures.
func Up(ctx context.Context, o UpOptions) (*UpResult, error) {
	start := time.Now()
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.StackgenImage == "" {
		o.StackgenImage = DefaultStackgenImage
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	p, err := Open(ctx, o.Dir, o.Project, true)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "stack %s: docker %s (%s), %s\n", p.Name, p.Engine.ServerVersion, p.Engine.Arch, p.Compose)

	labelFilter := "label=com.docker.compose.project=" + p.Name
	// Listing containers and checking images are independent: overlap them.
	var all []Container
	listErr := make(chan error, 1)
	go func() {
		var err error
		all, err = listDocker(ctx, p.Engine.Docker)
		listErr <- err
	}()
	imgErr := p.ensureImages(ctx, o)
	if err := <-listErr; err != nil {
		return nil, err
	}
	if imgErr != nil {
		return nil, imgErr
	}
	var before, others []Container
	for _, c := range all {
		switch {
		case c.Project == p.Name:
			if !c.OneOff {
				before = append(before, c)
			}
		case c.State == "running":
			others = append(others, c)
		}
	}
	if !p.Engine.Remote {
		if cs := CheckPorts(p.File, before, others, net.Listen); len(cs) > 0 {
			return nil, portConflictError(cs)
		}
	}

	res := &UpResult{Project: p.Name, Compose: p.Compose.String(), Changes: map[string]string{}}
	upCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	fmt.Fprintf(o.Out, "  compose up -d (checks done in %.2fs)\n", time.Since(start).Seconds())
	upStart := time.Now()
	composeErr := make(chan error, 1)
	go func() {
		_, err := p.compose(upCtx, "up", "-d", "--remove-orphans")
		composeErr <- err
	}()

	w := newWaiter(p, o.Out, o.TTY, upStart)
	composeDone := false
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-composeErr:
			composeDone = true
			if err != nil {
				w.poll(upCtx, true)
				w.draw(true)
				return nil, p.upFailed(ctx, w, err, o)
			}
			after, err := listDocker(ctx, p.Engine.Docker, labelFilter, "label=com.docker.compose.oneoff=False")
			if err == nil {
				res.Changes = changes(p.File, before, after)
				w.note(summarizeChanges(res.Changes))
				for _, svc := range []string{"prometheus", "alertmanager"} {
					if res.Changes[svc] == "unchanged" {
						if msg := p.reload(ctx, svc, after); msg != "" {
							w.note(msg)
						}
						// A reload may add targets: check them again.
						w.reset(svc)
					}
				}
			}
		case <-upCtx.Done():
			w.poll(ctx, composeDone)
			w.draw(true)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, p.notReady(ctx, w, fmt.Sprintf("not ready within %s", o.Timeout), o)
		case <-tick.C:
		}
		w.poll(upCtx, composeDone)
		w.draw(false)
		if len(w.failedRows()) > 0 {
			// Do not wait for compose: with depends_on conditions it would
			// wait for the failed service's healthcheck retries.
			cancel()
			w.draw(true)
			return nil, p.notReady(ctx, w, "failed", o)
		}
		if composeDone && w.done() {
			w.draw(true)
			break
		}
	}
	res.Endpoints = endpoints(p.File)
	res.Elapsed = time.Since(start)
	return res, nil
}

// ensureImages builds the stackgen image and checks that every other image
// is present (pulling it when a registry answers).
func (p *Project) ensureImages(ctx context.Context, o UpOptions) error {
	needStackgen := false
	images := map[string]string{} // image → first service using it
	for _, name := range p.File.ServiceNames() {
		s := p.File.Services[name]
		switch {
		case s.Image == "":
		case s.Image == o.StackgenImage:
			needStackgen = true
		case !s.HasBuild:
			if _, ok := images[s.Image]; !ok {
				images[s.Image] = name
			}
		}
	}
	if needStackgen {
		if o.NoBuild {
			if !p.Engine.ImageExists(ctx, o.StackgenImage) {
				return &Error{Code: ExitImageMissing,
					Err: fmt.Errorf("image %s is not present and --no-build was given", o.StackgenImage),
					Fix: "Run `stackgen up` without --no-build to build it from this binary, or `docker load -i` a saved copy."}
			}
		} else {
			t := time.Now()
			how, err := p.Engine.BuildStackgenImage(ctx, o.StackgenImage, o.SourceHint)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "  ✓ %-22s %s (%.1fs)\n", "image "+o.StackgenImage, how, time.Since(t).Seconds())
		}
	}
	if len(images) == 0 {
		return nil
	}
	names := make([]string, 0, len(images))
	for img := range images {
		names = append(names, img)
	}
	sort.Strings(names)
	// One call when everything is present (the common case).
	if _, err := run(ctx, nil, p.Engine.Docker, append([]string{"image", "inspect", "--format", "{{.Id}}"}, names...)...); err == nil {
		return nil
	}
	for _, img := range names {
		if p.Engine.ImageExists(ctx, img) {
			continue
		}
		svc := images[img]
		if p.File.Services[svc].PullPolicy == "never" {
			return errImageMissing(img, svc, "")
		}
		fmt.Fprintf(o.Out, "  … pulling %s (service %s)\n", img, svc)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, err := run(pctx, nil, p.Engine.Docker, "pull", "-q", img)
		cancel()
		if err != nil {
			msg := err.Error()
			var ce *cmdError
			if errors.As(err, &ce) {
				msg = strings.TrimSpace(ce.stderr)
			}
			return errImageMissing(img, svc, msg)
		}
	}
	return nil
}

// reload makes an unchanged Prometheus or Alertmanager re-read its
// configuration: POST /-/reload when possible (Prometheus needs
// --web.enable-lifecycle), else SIGHUP. It returns a note for the user.
func (p *Project) reload(ctx context.Context, service string, after []Container) string {
	s := p.File.Services[service]
	if s == nil {
		return ""
	}
	id := ""
	for _, c := range after {
		if c.Service == service && c.State == "running" {
			id = c.ID
		}
	}
	if id == "" {
		return ""
	}
	target := wellKnownProbes[service].target
	if port, ok := s.PublishedFor(target); ok && (service != "prometheus" || s.HasFlag("--web.enable-lifecycle")) {
		if err := Reload(ctx, "http://"+port.HostAddr()); err == nil {
			return service + ": configuration reloaded (POST /-/reload)"
		} else if strings.Contains(err.Error(), "HTTP 4") || strings.Contains(err.Error(), "HTTP 5") {
			return service + ": configuration reload failed: " + err.Error()
		}
	}
	if _, err := run(ctx, nil, p.Engine.Docker, "kill", "--signal", "HUP", id); err != nil {
		return service + ": configuration reload (SIGHUP) failed: " + err.Error()
	}
	return service + ": configuration reloaded (SIGHUP)"
}

// upFailed turns a failed compose up into an error, with the logs of the
// services involved.
func (p *Project) upFailed(ctx context.Context, w *waiter, err error, o UpOptions) error {
	msg := err.Error()
	var ce *cmdError
	if errors.As(err, &ce) {
		msg = strings.TrimSpace(lastLines(ce.stderr, 20))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return p.notReady(ctx, w, fmt.Sprintf("not ready within %s (compose up still running)", o.Timeout), o)
	}
	if strings.Contains(msg, "unhealthy") || strings.Contains(msg, "exited") {
		// depends_on: condition: service_healthy failed.
		for _, r := range w.rows {
			if strings.Contains(msg, r.name) && !r.ready {
				r.failed = true
			}
		}
		return p.notReady(ctx, w, "compose up failed: "+msg, o)
	}
	if strings.Contains(msg, "address already in use") || strings.Contains(msg, "port is already allocated") {
		return &Error{Code: ExitPortInUse, Err: fmt.Errorf("compose up failed: %s", msg),
			Fix: "A published port is taken: stop what holds it or change the port in stack.yaml."}
	}
	return &Error{Code: ExitFailure, Err: fmt.Errorf("compose up failed: %s", msg),
		Fix: fmt.Sprintf("Check the rendered files in %s; `stackgen status` shows what runs.", p.Dir)}
}

// notReady builds the exit-7 error, printing the last log lines of every
// service that is not ready and the scrape targets that are down.
func (p *Project) notReady(ctx context.Context, w *waiter, why string, o UpOptions) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cs, _ := listDocker(ctx, p.Engine.Docker, "label=com.docker.compose.project="+p.Name, "label=com.docker.compose.oneoff=False")
	var bad []string
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
			logs := p.Logs(ctx, c.ID, 20)
			if strings.TrimSpace(logs) == "" {
				logs = "(no log output yet)"
			}
			fmt.Fprintf(o.Out, "\n--- last log lines of %s (%s, %s) ---\n%s\n", c.Name, c.State, c.Status, logs)
		}
	}
	return &Error{Code: ExitUnhealthy,
		Err: fmt.Errorf("%s: %s", why, strings.Join(bad, ", ")),
		Fix: fmt.Sprintf("See the log lines above; `stackgen status` shows the current state and `docker compose -p %s logs SERVICE` the full logs. "+
			"Slow machine? Raise --timeout.", p.Name)}
}

// changes compares container IDs before and after compose up.
func changes(cf *ComposeFile, before, after []Container) map[string]string {
	ids := func(cs []Container, svc string) string {
		var l []string
		for _, c := range cs {
			if c.Service == svc {
				l = append(l, c.ID)
			}
		}
		sort.Strings(l)
		return strings.Join(l, ",")
	}
	out := map[string]string{}
	for _, svc := range cf.ServiceNames() {
		b, a := ids(before, svc), ids(after, svc)
		switch {
		case b == "":
			out[svc] = "created"
		case a != b:
			out[svc] = "recreated"
		default:
			out[svc] = "unchanged"
		}
	}
	return out
}

// summarizeChanges formats changes, e.g. "compose: created a, b; unchanged c".
func summarizeChanges(ch map[string]string) string {
	groups := map[string][]string{}
	for svc, what := range ch {
		groups[what] = append(groups[what], svc)
	}
	var parts []string
	for _, what := range []string{"created", "recreated", "unchanged"} {
		if l := groups[what]; len(l) > 0 {
			sort.Strings(l)
			parts = append(parts, what+" "+strings.Join(l, ", "))
		}
	}
	return "compose: " + strings.Join(parts, "; ")
}

// endpoints lists the published HTTP addresses of the stack.
func endpoints(cf *ComposeFile) []Endpoint {
	var out []Endpoint
	for _, name := range cf.ServiceNames() {
		for _, p := range cf.Services[name].Ports {
			if p.Published == 0 || proto(p.Protocol) != "tcp" {
				continue
			}
			u := "http://" + p.HostAddr()
			switch {
			case strings.HasSuffix(name, "-exporter"):
				u += "/predict"
			case name == "mailcatcher" && p.Target == 1025:
				u = "smtp://" + p.HostAddr()
			}
			out = append(out, Endpoint{Service: name, URL: u})
		}
	}
	return out
}
