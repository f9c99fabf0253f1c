package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// promConfigError is what Prometheus 2.42 logs for an alert template it
// refuses (recorded from the real binary; TestCauseLinesFromRealPrometheus
// checks the same against it).
const promConfigError = `ts=2026-12-01T03:21:39.970Z caller=main.go:1200 level=info msg="Loading configuration file" filename=/etc/prometheus/prometheus.yml
ts=2026-12-01T03:21:39.972Z caller=manager.go:1015 level=error component="rule manager" msg="loading groups failed" err="/etc/prometheus/rules/alerts.yml: group \"demo\", rule 1, \"high_error_ratio\": annotation \"summary\": template: __alert_high_error_ratio:1: unclosed action"
ts=2026-12-01T03:21:39.972Z caller=main.go:1218 level=error msg="Failed to apply configuration" err="error loading rules, previous rule set restored"
ts=2026-12-01T03:21:39.972Z caller=main.go:1127 level=error err="error loading config from \"/etc/prometheus/prometheus.yml\": one or more errors occurred while applying the new configuration (--config.file=\"/etc/prometheus/prometheus.yml\")"
`

func TestUp(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	var killedProm *fakeProm
	for _, tc := range []struct {
		name string
		// setup adds the containers present before up and configures the fakes.
		setup func(f *fakeDocker, fp *fakeProm)
		// onUp is what compose up does.
		onUp     func(ctx context.Context, f *fakeDocker) error
		wantCode int
		want     []string // in the error (or, on success, in the output)
		check    func(t *testing.T, f *fakeDocker, fp *fakeProm)
	}{
		{
			name:  "unchanged stack reloads prometheus",
			setup: func(f *fakeDocker, fp *fakeProm) { runningStack(f, fp, old) },
			want:  []string{"compose: unchanged", "prometheus: configuration reloaded"},
			check: func(t *testing.T, f *fakeDocker, fp *fakeProm) {
				if fp.reloads != 1 {
					t.Errorf("reloads = %d, want 1", fp.reloads)
				}
			},
		},
		{
			name: "reload refused is exit 1 with the cause",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				f.byService("prometheus").logs = promConfigError
				fp.reloadCode, fp.reloadBody = 500, "failed to reload config: one or more errors occurred while applying the new configuration"
			},
			wantCode: ExitFailure,
			want:     []string{"prometheus refused its configuration", "unclosed action", "HTTP 500", "previous configuration"},
		},
		{
			name: "reload accepted but config not loaded is exit 1",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				f.byService("prometheus").logs = promConfigError
				fp.reloadOK = 0
			},
			wantCode: ExitFailure,
			want:     []string{"prometheus refused its configuration", "unclosed action"},
		},
		{
			name: "a killed exporter is started again",
			setup: func(f *fakeDocker, fp *fakeProm) {
				f.add(&fakeContainer{service: "prometheus", role: "prometheus", state: "running", started: old})
				f.add(&fakeContainer{service: "demo", role: "model", state: "running", health: "healthy", started: old})
				f.add(&fakeContainer{service: "demo-exporter", role: "exporter", state: "exited", exit: 137, started: old, finished: time.Now().Add(-2 * time.Second)})
				killedProm = fp
			},
			onUp: func(ctx context.Context, f *fakeDocker) error {
				// compose takes a moment, as the real one does, then starts it.
				time.Sleep(600 * time.Millisecond)
				killedProm.startExporter()
				f.mu.Lock()
				defer f.mu.Unlock()
				c := f.byService("demo-exporter")
				c.state, c.started, c.health = "running", time.Now(), "healthy"
				return nil
			},
			want: []string{"compose: unchanged"},
		},
		{
			name: "a stopped container compose leaves alone is started by up",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				c := f.byService("demo")
				c.state, c.exit, c.health, c.finished = "exited", 0, "", old.Add(time.Minute)
			},
			want: []string{"started 1 stopped container"},
			check: func(t *testing.T, f *fakeDocker, fp *fakeProm) {
				if c := f.byService("demo"); c.state != "running" {
					t.Errorf("demo state = %s", c.state)
				}
			},
		},
		{
			name: "restarts before this up do not count",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				f.byService("prometheus").restarts = 6
			},
			want: []string{"compose: unchanged"},
		},
		{
			name: "an exporter crash loop during up is exit 7 with its log",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				c := f.byService("demo-exporter")
				c.logs = "panic: listen tcp :8000: bind: address already in use"
				c.onInspect = func(c *fakeContainer) { c.state, c.restarts = "restarting", c.restarts+1 }
			},
			wantCode: ExitUnhealthy,
			want:     []string{"demo-exporter", "crash loop", "panic: listen tcp"},
		},
		{
			name: "a crash loop caught running between crashes is still one",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				c := f.byService("demo")
				c.onInspect = func(c *fakeContainer) { c.state, c.health, c.restarts = "running", "starting", c.restarts+1 }
			},
			wantCode: ExitUnhealthy,
			want:     []string{"demo", "crash loop"},
		},
		{
			name: "a prometheus crash loop on its configuration is exit 1 with the cause",
			setup: func(f *fakeDocker, fp *fakeProm) {
				c := f.add(&fakeContainer{service: "prometheus", role: "prometheus", state: "running", started: old})
				c.logs = strings.Repeat(promConfigError, 5) + strings.Repeat("ts=x level=info msg=\"Stopping scrape manager...\"\n", 30)
				c.onInspect = func(c *fakeContainer) { c.state, c.restarts = "restarting", c.restarts+1 }
			},
			onUp: func(ctx context.Context, f *fakeDocker) error {
				f.mu.Lock()
				f.add(&fakeContainer{service: "demo", role: "model", state: "running", health: "healthy", started: time.Now()})
				f.add(&fakeContainer{service: "demo-exporter", role: "exporter", state: "created"})
				f.mu.Unlock()
				<-ctx.Done() // compose waits for a dependency until cancelled
				return ctx.Err()
			},
			wantCode: ExitFailure,
			want:     []string{"configuration was refused", "unclosed action"},
			check: func(t *testing.T, f *fakeDocker, fp *fakeProm) {
				for _, c := range f.containers {
					if c.state == "created" {
						t.Errorf("%s left in state created", c.service)
					}
				}
				if !f.called("rm -f") {
					t.Error("never-started containers not removed")
				}
			},
		},
		{
			name:  "compose failure is exit 1 with its message",
			setup: func(f *fakeDocker, fp *fakeProm) { runningStack(f, fp, old) },
			onUp: func(ctx context.Context, f *fakeDocker) error {
				return errors.New("Error response from daemon: invalid mount config")
			},
			wantCode: ExitFailure,
			want:     []string{"compose up failed", "invalid mount config"},
		},
		{
			name: "timeout is exit 7 naming what is not ready",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				fp.targetsDown = 1
			},
			wantCode: ExitUnhealthy,
			want:     []string{"not ready within", "scrape targets"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProm(t)
			f := &fakeDocker{onUp: tc.onUp}
			tc.setup(f, fp)
			f.install(t)
			dir := fakeStack(t, fp)
			var out bytes.Buffer
			res, err := Up(context.Background(), UpOptions{Dir: dir, Timeout: 4 * time.Second, StackgenImage: "sgtest/stackgen:fixed", Out: &out})
			text := out.String()
			if err != nil {
				text += "\nERROR: " + err.Error()
			}
			if got := Code(err); got != tc.wantCode {
				t.Fatalf("exit code %d, want %d\n%s", got, tc.wantCode, text)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			if err == nil && (res == nil || len(res.Endpoints) == 0 || !strings.HasSuffix(res.Endpoints[0].URL, "/predict")) {
				t.Errorf("result = %+v", res)
			}
			if tc.check != nil {
				tc.check(t, f, fp)
			}
		})
	}
}

func TestUpCancelledRemovesCreated(t *testing.T) {
	fp := newFakeProm(t)
	f := &fakeDocker{}
	f.onUp = func(ctx context.Context, f *fakeDocker) error {
		f.mu.Lock()
		f.add(&fakeContainer{service: "demo-exporter", role: "exporter", state: "created"})
		f.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	f.add(&fakeContainer{service: "prometheus", role: "prometheus", state: "running", started: time.Now()})
	f.install(t)
	dir := fakeStack(t, fp)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	_, err := Up(ctx, UpOptions{Dir: dir, Timeout: time.Minute, StackgenImage: "sgtest/stackgen:fixed"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	for _, c := range f.containers {
		if c.state == "created" {
			t.Errorf("%s left in state created after Ctrl-C", c.service)
		}
	}
}
