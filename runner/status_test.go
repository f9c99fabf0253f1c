package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/render"
)

func TestStatus(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name        string
		setup       func(f *fakeDocker, fp *fakeProm)
		promDown    bool
		check       func(ctx context.Context, prom *Prom) ([]PanelStatus, error)
		wantHealthy bool
		want        []string
		notWant     []string
	}{
		{
			name:        "healthy",
			setup:       func(f *fakeDocker, fp *fakeProm) { runningStack(f, fp, old) },
			wantHealthy: true,
			want:        []string{"2/2 targets up", "Alerts firing: none\n", "demo-exporter"},
			notWant:     []string{"Not healthy"},
		},
		{
			name:     "prometheus does not answer",
			setup:    func(f *fakeDocker, fp *fakeProm) { runningStack(f, fp, old) },
			promDown: true,
			want:     []string{"unreachable", "Alerts firing: unknown (Prometheus does not answer)\n", "Prometheus does not answer at"},
			notWant:  []string{"Alerts firing: none"},
		},
		{
			name: "an exited service and a down target",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				c := f.byService("demo")
				c.state, c.exit, c.health = "exited", 137, "unhealthy"
				fp.targetsDown = 1
			},
			want:    []string{"service demo is exited\n", "1 of 2 scrape targets are not up", "exited (137)"},
			notWant: []string{"exited unhealthy"},
		},
		{
			name: "prometheus runs an older configuration",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				fp.reloadOK = 0
			},
			want: []string{"refused its latest configuration"},
		},
		{
			name: "firing alert and panels without traffic",
			setup: func(f *fakeDocker, fp *fakeProm) {
				runningStack(f, fp, old)
				fp.alerts = `[{"labels":{"alertname":"high_error_ratio","model":"demo"},"annotations":{"summary":"errors"},"state":"firing","activeAt":"2026-12-01T03:00:00Z","value":"0.5"},
{"labels":{"alertname":"pending_one"},"annotations":{},"state":"pending","activeAt":"2026-12-01T03:00:00Z","value":"1"}]`
			},
			check: func(ctx context.Context, prom *Prom) ([]PanelStatus, error) {
				return []PanelStatus{
					{Dashboard: "demo", Panel: "RPS", Query: "sum(rate(http_requests_total[1m]))", Result: "ok"},
					{Dashboard: "demo", Panel: "P95 latency", Query: "histogram_quantile(0.95, x)", Result: "no_traffic"},
				}, nil
			},
			wantHealthy: true,
			want:        []string{"Alerts firing: 1", "high_error_ratio {model=demo}", "Empty only for lack of traffic", "demo / P95 latency"},
			notWant:     []string{"pending_one", "demo / RPS"},
		},
		{
			name:  "a panel query that errors",
			setup: func(f *fakeDocker, fp *fakeProm) { runningStack(f, fp, old) },
			check: func(ctx context.Context, prom *Prom) ([]PanelStatus, error) {
				return []PanelStatus{{Dashboard: "demo", Panel: "CPU", Query: "rate(x[5m]", Result: "error", Detail: "parse error"}}, errors.New("one query failed")
			},
			want: []string{"demo / CPU: error", "checking the panel queries: one query failed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFakeProm(t)
			f := &fakeDocker{}
			tc.setup(f, fp)
			f.install(t)
			dir := fakeStack(t, fp)
			if tc.promDown {
				fp.srv.Close()
			}
			st, err := GetStatus(context.Background(), StatusOptions{Dir: dir, Check: tc.check})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			st.WriteText(&buf)
			text := buf.String()
			if st.Healthy != tc.wantHealthy {
				t.Errorf("healthy = %v, want %v\n%s", st.Healthy, tc.wantHealthy, text)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("status lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Errorf("status has %q:\n%s", w, text)
				}
			}
			if !strings.HasSuffix(text, "\n") {
				t.Errorf("status does not end with a newline: %q", text[len(text)-20:])
			}
			js, err := json.Marshal(st)
			if err != nil || !strings.Contains(string(js), `"stackgen":{"version":`) {
				t.Errorf("json = %s %v", js, err)
			}
		})
	}
}

func TestStatusWithoutComposeFile(t *testing.T) {
	fp := newFakeProm(t)
	f := &fakeDocker{}
	runningStack(f, fp, time.Now())
	f.add(&fakeContainer{service: "old-exporter", role: "exporter", state: "running"})
	f.install(t)
	st, err := GetStatus(context.Background(), StatusOptions{Dir: t.TempDir(), Project: "sgtest-fake"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Prometheus == nil || !strings.HasSuffix(st.Prometheus.URL, ":"+itoa(fp.port)) {
		t.Fatalf("prometheus from the container's published port: %+v", st.Prometheus)
	}
	if len(st.Services) != 4 || !st.Healthy {
		t.Errorf("services = %+v healthy %v problems %v", st.Services, st.Healthy, st.Problems)
	}
	// No project name anywhere: an error, not a guess.
	if _, err := GetStatus(context.Background(), StatusOptions{Dir: t.TempDir()}); err == nil {
		t.Error("status without a project name succeeded")
	}
}

func TestDown(t *testing.T) {
	for _, withFile := range []bool{true, false} {
		fp := newFakeProm(t)
		f := &fakeDocker{}
		runningStack(f, fp, time.Now())
		f.install(t)
		dir := t.TempDir()
		if withFile {
			dir = fakeStack(t, fp)
		}
		var out bytes.Buffer
		if err := Down(context.Background(), DownOptions{Dir: dir, Project: "sgtest-fake", Volumes: true, Out: &out}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "removed 3 container(s) and its volumes") {
			t.Errorf("down output: %s", out.String())
		}
		if withFile && !f.called("compose -p sgtest-fake") {
			t.Errorf("compose down not called: %v", f.calls)
		}
		if !withFile && !f.called("rm -f -v") {
			t.Errorf("containers not removed by label: %v", f.calls)
		}
	}
}

func TestStatusNamesTheRenderingStackgen(t *testing.T) {
	fp := newFakeProm(t)
	f := &fakeDocker{}
	runningStack(f, fp, time.Now())
	f.install(t)
	dir := fakeStack(t, fp)
	manifest := `{"format":1,"stack":"sgtest-fake","stackgen":{"version":"v9.9.9","go_version":"go1.26.8"},"services":[],"files":[],"alert_rules":[]}`
	if err := os.WriteFile(filepath.Join(dir, render.ManifestFile), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := GetStatus(context.Background(), StatusOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st.WriteText(&buf)
	if st.RenderedBy == nil || st.RenderedBy.Version != "v9.9.9" || !strings.Contains(buf.String(), "rendered by stackgen v9.9.9") {
		t.Errorf("rendered by = %+v\n%s", st.RenderedBy, buf.String())
	}
}
