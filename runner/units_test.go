package runner

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/internal/testtool"
)

func TestProbeFor(t *testing.T) {
	cf := offline(t)
	for svc, want := range map[string]string{
		"prometheus":    "http://127.0.0.1:9090/-/ready",
		"alertmanager":  "http://127.0.0.1:9093/-/ready",
		"demo-exporter": "http://127.0.0.1:8000/readyz",
		"demo":          "http://127.0.0.1:5005/ping",
	} {
		if got := probeFor(cf.Services[svc]); got != want {
			t.Errorf("probeFor(%s) = %q, want %q", svc, got, want)
		}
	}
	// Not published: nothing to probe from the host.
	if got := probeFor(&Service{Role: "prometheus"}); got != "" {
		t.Errorf("unpublished prometheus probe = %q", got)
	}
	if u := healthcheckURL([]string{"CMD", "/stackgen", "healthcheck", "http://127.0.0.1:8025/healthz?x=1"}); u == nil || u.Port() != "8025" || u.RawQuery != "x=1" {
		t.Errorf("healthcheck URL = %v", u)
	}
	if u := healthcheckURL([]string{"CMD", "promtool", "query"}); u != nil {
		t.Errorf("non-stackgen healthcheck URL = %v", u)
	}
}

func TestExpectedTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "prometheus.yml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write(`scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ["localhost:9090"]}]
  - job_name: ml_model_exporter
    static_configs:
      - targets: ["a-exporter:8000", "b-exporter:8000"]
      - targets: ["c-exporter:8000"]
alerting:
  alertmanagers: [{static_configs: [{targets: ["alertmanager:9093"]}]}]
`)
	if n := ExpectedTargets(p); n != 4 {
		t.Errorf("ExpectedTargets = %d, want 4", n)
	}
	if !promHasAlerting(p) {
		t.Error("promHasAlerting = false")
	}
	p = write("scrape_configs:\n  - job_name: x\n    dns_sd_configs: [{names: [x]}]\n")
	if n := ExpectedTargets(p); n != 0 {
		t.Errorf("with service discovery: %d, want 0", n)
	}
	if promHasAlerting(p) {
		t.Error("promHasAlerting = true without alerting")
	}
	if n := ExpectedTargets(filepath.Join(dir, "missing.yml")); n != 0 {
		t.Errorf("missing file: %d", n)
	}
}

func TestCheckPorts(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.Addr().(*net.TCPAddr).Port
	free.Close()

	p := func(n int) Port { return Port{HostIP: "127.0.0.1", Published: n, Target: n, Protocol: "tcp"} }
	cf := &ComposeFile{Services: map[string]*Service{
		"prometheus": {Name: "prometheus", Ports: []Port{p(takenPort)}},
		"exporter":   {Name: "exporter", Ports: []Port{p(freePort)}},
		"grafana":    {Name: "grafana", Ports: []Port{p(3000)}},
		"dup":        {Name: "dup", Ports: []Port{p(freePort)}},
	}}
	others := []Container{{Name: "someone-elses-grafana", State: "running", Publishers: []Publisher{{URL: "0.0.0.0", PublishedPort: 3000, TargetPort: 3000, Protocol: "tcp"}}}}
	got := CheckPorts(cf, nil, others, net.Listen)
	if len(got) != 3 {
		t.Fatalf("conflicts = %v", got)
	}
	byService := map[string]PortConflict{}
	for _, c := range got {
		byService[c.Service] = c
	}
	if c := byService["prometheus"]; c.Err == nil || !strings.Contains(c.String(), "service prometheus") || !strings.Contains(c.String(), "another process") {
		t.Errorf("prometheus conflict: %v", c)
	}
	if c := byService["grafana"]; c.Holder != "someone-elses-grafana" || !strings.Contains(c.String(), "container someone-elses-grafana") {
		t.Errorf("grafana conflict: %v", c)
	}
	if c := byService["exporter"]; c.Err == nil || !strings.Contains(c.Err.Error(), "also published by service dup") {
		t.Errorf("duplicate port: %+v", c)
	}

	// The stack's own running container holding the port is no conflict.
	own := []Container{{Service: "prometheus", State: "running", Publishers: []Publisher{{URL: "127.0.0.1", PublishedPort: takenPort, TargetPort: takenPort, Protocol: "tcp"}}}}
	cf2 := &ComposeFile{Services: map[string]*Service{"prometheus": cf.Services["prometheus"]}}
	if got := CheckPorts(cf2, own, nil, net.Listen); len(got) != 0 {
		t.Errorf("own port reported: %v", got)
	}
	err = portConflictError(got[:0:0])
	var re *Error
	if !errors.As(portConflictError([]PortConflict{byService["prometheus"]}), &re) || re.Code != ExitPortInUse {
		t.Errorf("portConflictError code: %v", err)
	}
}

func TestMountsHash(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(conf, "prometheus.yml")
	if err := os.WriteFile(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	binds := []string{conf}
	idOnly, withContent := mountsHash(binds, false), mountsHash(binds, true)

	// A file rewritten inside the mounted directory: the container sees it.
	if err := os.WriteFile(file, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h := mountsHash(binds, false); h != idOnly {
		t.Error("in-place edit changed the identity hash")
	}
	if h := mountsHash(binds, true); h == withContent {
		t.Error("in-place edit did not change the content hash")
	}

	// The directory swapped for a new one: the container keeps the old one.
	if err := os.Rename(conf, conf+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if h := mountsHash(binds, false); h == idOnly {
		t.Error("swapped directory did not change the identity hash")
	}
	if mountsHash(nil, true) != "" {
		t.Error("no binds: want empty hash")
	}
}

func TestChanges(t *testing.T) {
	cf := &ComposeFile{Services: map[string]*Service{"a": {}, "b": {}, "c": {}}}
	before := []Container{{ID: "1", Service: "a"}, {ID: "2", Service: "b"}}
	after := []Container{{ID: "1", Service: "a"}, {ID: "3", Service: "b"}, {ID: "4", Service: "c"}}
	ch := changes(cf, before, after)
	want := map[string]string{"a": "unchanged", "b": "recreated", "c": "created"}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("changes = %v", ch)
	}
	if s := summarizeChanges(ch); s != "compose: created c; recreated b; unchanged a" {
		t.Errorf("summary = %q", s)
	}
}

func TestStaticELF(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF checks need a Linux build")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "static")
	cmd := exec.Command(goBin, "build", "-o", static, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := StaticELF(static, runtime.GOARCH); err != nil {
		t.Errorf("static binary rejected: %v", err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if err := StaticELF(static, other); err == nil || !strings.Contains(err.Error(), "built for") {
		t.Errorf("wrong architecture accepted: %v", err)
	}
	text := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := StaticELF(text, runtime.GOARCH); err == nil {
		t.Error("a shell script accepted")
	}
	// A dynamically linked system binary has PT_INTERP.
	for _, dyn := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		if p, err := filepath.EvalSymlinks(dyn); err == nil {
			if err := StaticELF(p, runtime.GOARCH); err != nil && strings.Contains(err.Error(), "dynamically linked") {
				return
			}
		}
	}
	t.Log("no dynamically linked system binary found to check")
}

func TestFindModule(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := findModule(filepath.Join(wd, "testdata-does-not-exist"))
	if root == "" || !isStackgenModule(filepath.Join(root, "go.mod")) {
		t.Errorf("findModule from %s = %q", wd, root)
	}
}

func TestCode(t *testing.T) {
	if Code(nil) != 0 || Code(errors.New("x")) != ExitFailure {
		t.Error("Code of plain errors")
	}
	e := newError(ExitNoEngine, "start it", "no engine")
	if Code(e) != ExitNoEngine || !strings.Contains(e.Error(), "start it") {
		t.Errorf("Code/Error = %d %q", Code(e), e.Error())
	}
	if Code(errImageMissing("stackgen/prometheus:2.42.0", "prometheus", "")) != ExitImageMissing {
		t.Error("errImageMissing code")
	}
	if !strings.Contains(errImageMissing("stackgen/prometheus:2.42.0", "prometheus", "").Error(), "scripts/setup.sh") {
		t.Error("errImageMissing for the local prometheus image does not point at setup.sh")
	}
}

// TestDockerEngine runs against a real engine when one answers.
func TestDockerEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testtool.Path(t, "bash scripts/setup.sh", "docker")
	e, err := DetectEngine(ctx)
	if err != nil {
		testtool.Missing(t, "no Docker engine answers: "+err.Error())
	}
	if e.ServerVersion == "" || e.Arch == "" {
		t.Errorf("engine = %+v", e)
	}
	c, err := DetectCompose(ctx, e)
	if err != nil {
		testtool.Missing(t, "no compose: "+err.Error())
	}
	if c.Version == "" || len(c.Cmd) == 0 {
		t.Errorf("compose = %+v", c)
	}
	if _, err := listDocker(ctx, e.Docker, "label=com.docker.compose.project=sgtest-none"); err != nil {
		t.Errorf("listDocker: %v", err)
	}
	if e.ImageExists(ctx, "stackgen-test/does-not-exist:none") {
		t.Error("ImageExists on a missing image")
	}
}
