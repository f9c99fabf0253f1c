package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/internal/testtool"
)

// TestCauseLinesFromRealPrometheus starts Debian's Prometheus on an alert
// whose summary template does not parse and checks that the cause is
// picked out of its log.
func TestCauseLinesFromRealPrometheus(t *testing.T) {
	prom := testtool.Path(t, "apt-get install prometheus", "prometheus")
	dir := t.TempDir()
	files := map[string]string{
		"prometheus.yml": "global: {scrape_interval: 5s}\nrule_files: [rules.yml]\n",
		"rules.yml":      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n    annotations:\n      summary: '{{ .Invalid'\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:0").CombinedOutput()
	if err == nil {
		t.Fatalf("prometheus accepted the bad template:\n%s", out)
	}
	// Three restarts' worth of log, with startup noise after the cause.
	logs := strings.Repeat(string(out), 3)
	causes := causeLines(logs, 6)
	joined := strings.Join(causes, "\n")
	if !strings.Contains(joined, "unclosed action") || !strings.Contains(joined, "rule 1") {
		t.Errorf("cause not found in:\n%s\n--- picked:\n%s", out, joined)
	}
	if len(causes) != 3 {
		t.Errorf("want the 3 distinct error lines once each, got %d:\n%s", len(causes), joined)
	}
	// Negative control: a log without errors has no cause.
	if c := causeLines("level=info msg=ready\nlevel=warn msg=slow\n", 6); len(c) != 0 {
		t.Errorf("causes of a clean log: %v", c)
	}
}

func TestParseInspect(t *testing.T) {
	data := `[{"Id":"a1","Name":"/x-prometheus-1","RestartCount":2,
  "State":{"Status":"running","ExitCode":0,"StartedAt":"2026-12-01T03:00:00.123456789Z","FinishedAt":"0001-01-01T00:00:00Z","Health":{"Status":"healthy"}},
  "Config":{"Image":"stackgen/prometheus:2.42.0","Labels":{"com.docker.compose.project":"x","com.docker.compose.service":"prometheus","com.docker.compose.oneoff":"False","io.stackgen.role":"prometheus"}},
  "NetworkSettings":{"Ports":{"9090/tcp":[{"HostIp":"127.0.0.1","HostPort":"9090"}],"9091/tcp":null}}},
 {"Id":"b2","Name":"/x-demo-exporter-1","RestartCount":0,
  "State":{"Status":"created","ExitCode":0,"StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"},
  "Config":{"Image":"stackgen:local","Labels":{"com.docker.compose.project":"x","com.docker.compose.service":"demo-exporter","com.docker.compose.oneoff":"True"}},
  "NetworkSettings":{"Ports":{}},
  "HostConfig":{"PortBindings":{"8000/tcp":[{"HostIp":"127.0.0.1","HostPort":"8000"}]}}},
 {"Id":"c3","Name":"/x-demo-1","State":{"Status":"exited","ExitCode":137,"StartedAt":"2026-12-01T02:00:00Z","FinishedAt":"2026-12-01T02:30:00Z"},
  "Config":{"Labels":{"com.docker.compose.service":"demo"}}}]`
	cs, err := ParseInspect([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d containers", len(cs))
	}
	byID := map[string]Container{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	p := byID["a1"]
	if p.Name != "x-prometheus-1" || p.Role != "prometheus" || p.Health != "healthy" || p.RestartCount != 2 || p.StartedAt.Nanosecond() != 123456789 ||
		!p.FinishedAt.IsZero() || len(p.Publishers) != 1 || p.Publishers[0].PublishedPort != 9090 || p.Project != "x" || p.OneOff {
		t.Errorf("prometheus = %+v", p)
	}
	e := byID["b2"]
	if e.State != "created" || !e.OneOff || len(e.Publishers) != 1 || e.Publishers[0].TargetPort != 8000 || !e.StartedAt.IsZero() {
		t.Errorf("created exporter = %+v", e)
	}
	if d := byID["c3"]; d.State != "exited" || d.ExitCode != 137 || d.Status != "exited (137)" || d.FinishedAt.Hour() != 2 {
		t.Errorf("exited = %+v", d)
	}
	if cs[0].Service != "demo" {
		t.Errorf("not sorted by service: %s", cs[0].Service)
	}
	if _, err := ParseInspect([]byte(`{"not":"a list"}`)); err == nil {
		t.Error("garbage parsed")
	}
	if cs, err := ParseInspect(nil); err != nil || cs != nil {
		t.Errorf("empty = %v %v", cs, err)
	}
}

func TestProm(t *testing.T) {
	fp := newFakeProm(t)
	p := &Prom{URL: fp.srv.URL}
	ctx := context.Background()
	ts, err := p.Targets(ctx)
	if err != nil || len(ts) != 2 || ts[0].Job != "ml_model_exporter" || ts[1].Job != "prometheus" || ts[0].Health != "up" {
		t.Errorf("targets = %+v %v", ts, err)
	}
	if ams, err := p.Alertmanagers(ctx); err != nil || len(ams) != 1 {
		t.Errorf("alertmanagers = %v %v", ams, err)
	}
	if ok, err := p.ConfigLoaded(ctx); !ok || err != nil {
		t.Errorf("config loaded = %v %v", ok, err)
	}
	fp.reloadOK = 0
	if ok, err := p.ConfigLoaded(ctx); ok || err != nil {
		t.Errorf("failed reload: config loaded = %v %v", ok, err)
	}
	if err := Reload(ctx, fp.srv.URL); err != nil {
		t.Errorf("reload: %v", err)
	}
	fp.reloadCode, fp.reloadBody = 500, "failed to reload config: bad rules"
	err = Reload(ctx, fp.srv.URL)
	re, ok := err.(*ReloadError)
	if !ok || re.Status != 500 || re.Cause != "failed to reload config: bad rules" {
		t.Errorf("refused reload = %#v", err)
	}
	// An API error comes back as an error naming Prometheus.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"not ready"}`))
	}))
	defer bad.Close()
	bp := &Prom{URL: bad.URL}
	if _, err := bp.Targets(ctx); err == nil || !strings.Contains(err.Error(), bad.URL) {
		t.Errorf("targets from a failing server: %v", err)
	}
	if _, err := bp.Alerts(ctx); err == nil {
		t.Error("alerts from a failing server succeeded")
	}
	if _, err := bp.ConfigLoaded(ctx); err == nil {
		t.Error("query on a failing server succeeded")
	}
	bad.Close()
	if err := Reload(ctx, bad.URL); err == nil {
		t.Error("reload of a closed server succeeded")
	}
	if err := Probe(ctx, NoRedirectClient(time.Second), bad.URL); err == nil {
		t.Error("probe of a closed server succeeded")
	}
}

func TestOverride(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	compose := `name: sgtest-ov
services:
  grafana:
    image: grafana/grafana:12.1.1
    labels: {io.stackgen.role: grafana}
    secrets: [grafana_admin_password]
  demo-exporter:
    image: stackgen:local
    labels: {io.stackgen.role: exporter}
  other:
    image: sgtest/other:1
secrets:
  grafana_admin_password:
    environment: SGTEST_SECRET
`
	if err := os.WriteFile(filepath.Join(dir, ComposeFileName), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	override := func(secret string) map[string]map[string]any {
		t.Helper()
		t.Setenv("SGTEST_SECRET", secret)
		cf, err := LoadComposeFile(filepath.Join(dir, ComposeFileName), "")
		if err != nil {
			t.Fatal(err)
		}
		p := &Project{File: cf, Dir: dir, StackgenImage: "stackgen:devel-abc-0123456789ab"}
		data, err := p.overrideYAML()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), secret) {
			t.Fatalf("secret value in the override file:\n%s", data)
		}
		var doc struct {
			Services map[string]map[string]any `yaml:"services"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Services
	}
	a := override("first-secret-value")
	if a["demo-exporter"]["image"] != "stackgen:devel-abc-0123456789ab" {
		t.Errorf("stackgen image not overridden: %v", a["demo-exporter"])
	}
	if _, ok := a["other"]; ok {
		t.Errorf("other service overridden: %v", a["other"])
	}
	label := func(s map[string]map[string]any) any {
		l, _ := s["grafana"]["labels"].(map[string]any)
		return l[SecretsLabel]
	}
	if label(a) == nil {
		t.Fatalf("no secrets label: %v", a["grafana"])
	}
	if label(override("first-secret-value")) != label(a) {
		t.Error("same secret, different label: the service would be recreated at every up")
	}
	if label(override("second-secret-value")) == label(a) {
		t.Error("changed secret, same label: the running service would keep the old secret")
	}
}

func TestContentTag(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	_ = os.WriteFile(a, []byte("binary one"), 0o755)
	_ = os.WriteFile(b, []byte("binary two"), 0o755)
	ta, err := ContentTag(a)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := ContentTag(b)
	if !regexp.MustCompile(`^stackgen:[A-Za-z0-9_.-]+-[0-9a-f]{12}$`).MatchString(ta) {
		t.Errorf("tag %q is not stackgen:<version>-<12 hex>", ta)
	}
	if ta == tb {
		t.Error("different binaries, same tag")
	}
	if again, _ := ContentTag(a); again != ta {
		t.Error("same binary, different tag")
	}
	if _, err := ContentTag(filepath.Join(dir, "missing")); err == nil {
		t.Error("tag of a missing file")
	}
	if got := tagSafe("v1.2.3+incompatible"); got != "v1.2.3-incompatible" {
		t.Errorf("tagSafe = %q", got)
	}
}

func TestPruneImages(t *testing.T) {
	f := &fakeDocker{
		images:  []string{"stackgen:v1-aaaaaaaaaaaa", "stackgen:v1-bbbbbbbbbbbb", "stackgen:v2-cccccccccccc", "other/labelled:1", "stackgen:v1-dddddddddddd"},
		created: map[string]time.Time{"stackgen:v1-dddddddddddd": time.Now().Add(-time.Hour)},
	}
	f.add(&fakeContainer{service: "demo", state: "exited", image: "stackgen:v1-bbbbbbbbbbbb", project: "sgtest-other"})
	f.install(t)
	e := &Engine{Docker: "docker"}
	got := e.pruneImages(context.Background(), "stackgen:v2-cccccccccccc")
	// Only the old image no container uses: not the current one, not another
	// repository, not a recent build of another checkout (dddd).
	if len(got) != 1 || got[0] != "stackgen:v1-aaaaaaaaaaaa" {
		t.Errorf("pruned %v", got)
	}
	if f.called("rmi -f") {
		t.Error("forced removal")
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name     string
		f        *fakeDocker
		force    string
		wantCode int
		want     string // in the error, or the compose String() on success
	}{
		{name: "plugin", f: &fakeDocker{}, want: "docker compose 2.40.3"},
		{name: "standalone v2", f: &fakeDocker{noPlugin: true, standalone: "2.29.1"}, want: "docker-compose 2.29.1"},
		{name: "forced standalone", f: &fakeDocker{standalone: "v2.30.0"}, force: "docker-compose", want: "docker-compose 2.30.0"},
		{name: "compose 1.x refused", f: &fakeDocker{noPlugin: true, standalone: "1.29.2"}, wantCode: ExitNoCompose, want: "end-of-life"},
		{name: "no compose", f: &fakeDocker{noPlugin: true}, wantCode: ExitNoCompose, want: "no compose implementation"},
		{name: "bad STACKGEN_COMPOSE", f: &fakeDocker{}, force: "podman compose", wantCode: ExitNoCompose, want: "STACKGEN_COMPOSE"},
		{name: "no engine", f: &fakeDocker{noEngine: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"}, wantCode: ExitNoEngine, want: "no Docker engine answers"},
		{name: "no permission", f: &fakeDocker{noEngine: "permission denied while trying to connect to the Docker daemon socket"}, wantCode: ExitNoEngine, want: "usermod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.install(t)
			t.Setenv(ComposeEnv, tc.force)
			p, err := Open(context.Background(), t.TempDir(), "sgtest-detect", false)
			if got := Code(err); got != tc.wantCode {
				t.Fatalf("code %d, want %d: %v", got, tc.wantCode, err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q lacks %q", err, tc.want)
				}
				return
			}
			if p.Compose.String() != tc.want || p.Engine.Arch != "amd64" || p.Name != "sgtest-detect" {
				t.Errorf("compose %q engine %+v name %q", p.Compose, p.Engine, p.Name)
			}
		})
	}
	// A required compose.yaml that is missing says to render first.
	f := &fakeDocker{}
	f.install(t)
	if _, err := Open(context.Background(), t.TempDir(), "sgtest-detect", true); err == nil || !strings.Contains(err.Error(), "stackgen render") {
		t.Errorf("missing compose.yaml: %v", err)
	}
}

func TestEndpointsAndPortErrors(t *testing.T) {
	cf := offline(t)
	got := map[string]string{}
	for _, e := range endpoints(cf) {
		got[e.Service] = e.URL
	}
	if got["demo-exporter"] != "http://127.0.0.1:8000/predict" || got["prometheus"] != "http://127.0.0.1:9090" || got["mailcatcher"] != "http://127.0.0.1:8025" {
		t.Errorf("endpoints = %v", got)
	}
	one := portConflictError([]PortConflict{{Service: "prometheus", Port: Port{HostIP: "127.0.0.1", Published: 9090}, Holder: "other-prometheus-1"}})
	if Code(one) != ExitPortInUse || !strings.Contains(one.Error(), "docker stop other-prometheus-1") {
		t.Errorf("one conflict: %v", one)
	}
}
