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

	"github.com/stackgen/stackgen/stack"
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
	// StackgenImage is the stack's stackgen_image. Empty or
	// DefaultStackgenImage: up builds a content-tagged image (ContentTag)
	// and runs stackgen's services from it; any other name is used as it is.
	StackgenImage string
	// SourceHint is where to look for stackgen's module source when the
	// image must be built from source (e.g. the stack.yaml directory).
	SourceHint string
	// Out receives progress (usually stderr).
	Out io.Writer
	// TTY redraws progress in place.
	TTY bool
	// AfterReady, when set, runs once everything is ready, with the stack's
	// Prometheus (nil when it publishes none); an error fails up.
	AfterReady func(ctx context.Context, prom *Prom) error
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
	// Image is the image running stackgen's own services.
	Image string
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
	if o.Out == nil {
		o.Out = io.Discard
	}
	p, err := Open(ctx, o.Dir, o.Project, true)
	if err != nil {
		return nil, err
	}
	return p.Up(ctx, o)
}

// Up runs the opened project; see the package function Up.
func (p *Project) Up(ctx context.Context, o UpOptions) (*UpResult, error) {
	start := time.Now()
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	fmt.Fprintf(o.Out, "stack %s: docker %s (%s), %s\n", p.Name, p.Engine.ServerVersion, p.Engine.Arch, p.Compose)

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

	res := &UpResult{Project: p.Name, Compose: p.Compose.String(), Image: p.StackgenImage, Changes: map[string]string{}}
	upCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	fmt.Fprintf(o.Out, "  compose up -d (checks done in %.2fs)\n", time.Since(start).Seconds())
	upStart := time.Now()
	composeErr := make(chan error, 1)
	go func() {
		_, err := p.compose(upCtx, "up", "-d", "--remove-orphans")
		composeErr <- err
	}()
	composeDone := false
	// abort stops compose and removes what it created but could not start,
	// so an interrupted up leaves no container in state created.
	abort := func() {
		cancel()
		if !composeDone {
			<-composeErr
			composeDone = true
		}
		p.removeCreated(context.WithoutCancel(ctx), o.Out)
	}

	w := newWaiter(p, o.Out, o.TTY, upStart, before)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-composeErr:
			composeDone = true
			if err != nil {
				w.poll(context.WithoutCancel(ctx), true)
				w.draw(true)
				p.removeCreated(context.WithoutCancel(ctx), o.Out)
				switch {
				case ctx.Err() != nil: // interrupted
					return nil, ctx.Err()
				case upCtx.Err() != nil: // compose killed at the deadline
					return nil, p.notReady(ctx, w, fmt.Sprintf("not ready within %s (compose up still running)", o.Timeout), o)
				}
				return nil, p.upFailed(ctx, w, err, o)
			}
			if err := p.afterCompose(ctx, w, before, res); err != nil {
				w.draw(true)
				return nil, err
			}
		case <-upCtx.Done():
			w.poll(context.WithoutCancel(ctx), composeDone)
			w.draw(true)
			abort()
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
			w.draw(true)
			abort()
			return nil, p.notReady(ctx, w, "failed", o)
		}
		if composeDone && w.done() {
			w.draw(true)
			break
		}
	}
	if w.prom != nil {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		loaded, err := w.prom.ConfigLoaded(cctx)
		ccancel()
		if err == nil && !loaded {
			return nil, p.configRefused(ctx, stack.RolePrometheus, upStart, "")
		}
	}
	if o.AfterReady != nil {
		actx, acancel := context.WithTimeout(ctx, time.Minute)
		err := o.AfterReady(actx, w.prom)
		acancel()
		if err != nil {
			return nil, err
		}
	}
	if p.StackgenImage != "" {
		if gone := p.Engine.pruneImages(ctx, p.StackgenImage); len(gone) > 0 {
			fmt.Fprintf(o.Out, "  removed unused stackgen image(s) %s\n", strings.Join(gone, ", "))
		}
	}
	res.Endpoints = endpoints(p.File)
	res.Elapsed = time.Since(start)
	return res, nil
}

// afterCompose runs once compose up succeeded: it records what compose
// changed, starts containers compose left stopped, and makes unchanged
// Prometheus and Alertmanager reload their configuration. A configuration
// they refuse is an error (exit 1) naming the cause.
func (p *Project) afterCompose(ctx context.Context, w *waiter, before []Container, res *UpResult) error {
	after, err := listDocker(ctx, p.Engine.Docker, projectFilters(p.Name)...)
	if err != nil {
		return nil
	}
	res.Changes = changes(p.File, before, after)
	w.note(summarizeChanges(res.Changes))
	var stopped []string
	for _, c := range after {
		if c.State == "exited" || c.State == "created" {
			stopped = append(stopped, c.ID)
		}
	}
	if len(stopped) > 0 {
		if _, err := run(ctx, nil, p.Engine.Docker, append([]string{"start"}, stopped...)...); err == nil {
			w.note(fmt.Sprintf("started %d stopped container(s)", len(stopped)))
		}
	}
	for _, role := range []string{stack.RolePrometheus, stack.RoleAlertmanager} {
		s := p.File.Role(role)
		if s == nil || res.Changes[s.Name] != "unchanged" {
			continue
		}
		at := time.Now()
		msg, err := p.reload(ctx, s, after)
		if err != nil {
			var re *ReloadError
			if errors.As(err, &re) {
				return p.configRefused(ctx, role, at, re.Error())
			}
		}
		w.note(msg)
		// A reload may add targets: check them again.
		w.reset(s.Name)
	}
	return nil
}

// removeCreated removes the project's containers compose created but never
// started (an interrupted or failed up), so none is left in state created.
func (p *Project) removeCreated(ctx context.Context, out io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := listDocker(ctx, p.Engine.Docker, append(projectFilters(p.Name), "status=created")...)
	if err != nil || len(cs) == 0 {
		return
	}
	ids := make([]string, 0, len(cs))
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.State == "created" {
			ids = append(ids, c.ID)
			names = append(names, c.Service)
		}
	}
	if len(ids) == 0 {
		return
	}
	if _, err := run(ctx, nil, p.Engine.Docker, append([]string{"rm", "-f"}, ids...)...); err == nil {
		fmt.Fprintf(out, "  removed never-started container(s) of %s\n", strings.Join(names, ", "))
	}
}

// ensureImages builds the stackgen image and checks that every other image
// is present (pulling it when a registry answers).
func (p *Project) ensureImages(ctx context.Context, o UpOptions) error {
	contentTagged := o.StackgenImage == "" || o.StackgenImage == DefaultStackgenImage
	needStackgen := false
	images := map[string]string{} // image → first service using it
	for _, name := range p.File.ServiceNames() {
		s := p.File.Services[name]
		switch {
		case s.Image == "":
		case s.Image == DefaultStackgenImage && contentTagged:
			needStackgen = true
		case !s.HasBuild:
			if _, ok := images[s.Image]; !ok {
				images[s.Image] = name
			}
		}
	}
	if needStackgen {
		if err := p.stackgenImage(ctx, o); err != nil {
			return err
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

// stackgenImage sets p.StackgenImage to the content-tagged image of this
// stackgen, building it unless o.NoBuild.
func (p *Project) stackgenImage(ctx context.Context, o UpOptions) error {
	t := time.Now()
	if o.NoBuild {
		img, err := p.Engine.existingContentImage(ctx)
		if err != nil {
			return err
		}
		p.StackgenImage = img
		return nil
	}
	img, how, err := p.Engine.BuildContentImage(ctx, o.SourceHint)
	if err != nil {
		return err
	}
	p.StackgenImage = img
	fmt.Fprintf(o.Out, "  ✓ %-22s %s (%.1fs)\n", "image "+img, how, time.Since(t).Seconds())
	return nil
}

// reload makes an unchanged Prometheus or Alertmanager re-read its
// configuration with POST /-/reload (Prometheus needs
// --web.enable-lifecycle), else SIGHUP. It returns a note for the user; a
// *ReloadError when the server refused the configuration.
func (p *Project) reload(ctx context.Context, s *Service, after []Container) (string, error) {
	id := ""
	for _, c := range after {
		if c.Service == s.Name && c.State == "running" {
			id = c.ID
		}
	}
	if id == "" {
		return "", nil
	}
	target := roleProbes[s.Role].target
	if port, ok := s.PublishedFor(target); ok && (s.Role != stack.RolePrometheus || s.HasFlag("--web.enable-lifecycle")) {
		err := Reload(ctx, "http://"+port.HostAddr())
		if err == nil {
			return s.Name + ": configuration reloaded (POST /-/reload)", nil
		}
		var re *ReloadError
		if errors.As(err, &re) {
			return "", err
		}
	}
	if _, err := run(ctx, nil, p.Engine.Docker, "kill", "--signal", "HUP", id); err != nil {
		return s.Name + ": configuration reload (SIGHUP) failed: " + err.Error(), nil
	}
	return s.Name + ": configuration reloaded (SIGHUP)", nil
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
		s := cf.Services[name]
		for _, p := range s.Ports {
			if p.Published == 0 || proto(p.Protocol) != "tcp" {
				continue
			}
			u := "http://" + p.HostAddr()
			switch {
			case s.Role == stack.RoleExporter:
				u += "/predict"
			case s.Role == stack.RoleMailcatcher && p.Target == 1025:
				u = "smtp://" + p.HostAddr()
			}
			out = append(out, Endpoint{Service: name, URL: u})
		}
	}
	return out
}
