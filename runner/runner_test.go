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
)

func TestParseComposePS(t *testing.T) {
	// Compose ≥ 2.21 prints one JSON object per line.
	lines := `{"Command":"\"/bin/prometheus --c…\"","CreatedAt":"2026-11-23 09:18:03 +0000 UTC","ExitCode":0,"Health":"healthy","ID":"aaa","Image":"stackgen/prometheus:2.42.0","Labels":"a=b,c=d","Name":"offline-prometheus-1","Project":"offline","Publishers":[{"URL":"127.0.0.1","TargetPort":9090,"PublishedPort":9090,"Protocol":"tcp"}],"Service":"prometheus","State":"running","Status":"Up 2 minutes (healthy)"}
{"ExitCode":1,"Health":"","ID":"bbb","Image":"stackgen:local","Name":"offline-mailcatcher-1","Publishers":[{"URL":"","TargetPort":1025,"PublishedPort":0,"Protocol":"tcp"}],"Service":"mailcatcher","State":"exited","Status":"Exited (1) 3 seconds ago"}
`
	// Compose 2.0–2.20 prints one JSON array.
	array := `[{"ID":"bbb","Name":"offline-mailcatcher-1","Service":"mailcatcher","State":"exited","Health":"","ExitCode":1,"Publishers":null,"Status":"Exited (1) 3 seconds ago"},
 {"ID":"aaa","Name":"offline-prometheus-1","Service":"prometheus","State":"running","Health":"","ExitCode":0,"Publishers":[{"URL":"127.0.0.1","TargetPort":9090,"PublishedPort":9090,"Protocol":"tcp"}],"Status":"Up 2 minutes (health: starting)"}]`
	for name, tc := range map[string]struct {
		in         string
		promHealth string
	}{
		"json lines": {lines, "healthy"},
		"array":      {array, "starting"}, // health read from the status
	} {
		t.Run(name, func(t *testing.T) {
			cs, err := ParseComposePS([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 2 {
				t.Fatalf("got %d containers, want 2", len(cs))
			}
			mc, prom := cs[0], cs[1]
			if mc.Service != "mailcatcher" || mc.State != "exited" || mc.ExitCode != 1 || len(mc.Publishers) != 0 {
				t.Errorf("mailcatcher = %+v", mc)
			}
			want := []Publisher{{URL: "127.0.0.1", TargetPort: 9090, PublishedPort: 9090, Protocol: "tcp"}}
			if prom.Service != "prometheus" || prom.State != "running" || prom.Health != tc.promHealth || !reflect.DeepEqual(prom.Publishers, want) {
				t.Errorf("prometheus = %+v", prom)
			}
		})
	}
	if cs, err := ParseComposePS([]byte("\n")); err != nil || len(cs) != 0 {
		t.Errorf("empty output: %v %v", cs, err)
	}
	if _, err := ParseComposePS([]byte("{broken")); err == nil {
		t.Error("broken JSON: no error")
	}
}

func TestParseDockerPS(t *testing.T) {
	out := "id1\toffline-prometheus-1\trunning\tUp 5 minutes (healthy)\t127.0.0.1:9090->9090/tcp\tprometheus\tstackgen/prometheus:2.42.0\toffline\n" +
		"id2\tother\trunning\tUp 1 second\t0.0.0.0:8000-8001->8000-8001/tcp, :::8000-8001->8000-8001/tcp, 1025/tcp\t\tnginx\t\n" +
		"id3\toffline-demo-1\texited\tExited (137) 2 seconds ago\t\tdemo\tstackgen:local\toffline\n"
	cs := ParseDockerPS([]byte(out))
	if len(cs) != 3 {
		t.Fatalf("got %d containers", len(cs))
	}
	// Sorted by service: "" (other), demo, prometheus.
	other, demo, prom := cs[0], cs[1], cs[2]
	if prom.Health != "healthy" || prom.State != "running" || len(prom.Publishers) != 1 || prom.Publishers[0].PublishedPort != 9090 || prom.Publishers[0].URL != "127.0.0.1" {
		t.Errorf("prometheus = %+v", prom)
	}
	if demo.ExitCode != 137 || demo.State != "exited" {
		t.Errorf("demo = %+v", demo)
	}
	wantPorts := []Publisher{
		{URL: "0.0.0.0", TargetPort: 8000, PublishedPort: 8000, Protocol: "tcp"},
		{URL: "0.0.0.0", TargetPort: 8001, PublishedPort: 8001, Protocol: "tcp"},
		{URL: "::", TargetPort: 8000, PublishedPort: 8000, Protocol: "tcp"},
		{URL: "::", TargetPort: 8001, PublishedPort: 8001, Protocol: "tcp"},
	}
	if !reflect.DeepEqual(other.Publishers, wantPorts) {
		t.Errorf("other ports = %+v", other.Publishers)
	}
}

const testCompose = `# Rendered by stackgen
name: offline
services:
  prometheus:
    image: stackgen/prometheus:2.42.0
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--web.enable-lifecycle"]
    healthcheck:
      test: ["CMD", "promtool", "query", "instant", "http://127.0.0.1:9090", "vector(1)"]
    volumes:
      - type: bind
        source: ./prometheus
        target: /etc/prometheus
      - type: volume
        source: prometheus-data
        target: /prometheus
    ports:
      - mode: ingress
        host_ip: 127.0.0.1
        target: 9090
        published: "9090"
        protocol: tcp
  demo-exporter:
    image: stackgen:local
    pull_policy: never
    healthcheck:
      test: ["CMD", "/stackgen", "healthcheck", "http://127.0.0.1:8000/readyz"]
    ports:
      - "127.0.0.1:8000:8000"
  model:
    build: ./model
    command: serve --port 8080
    volumes:
      - ./models:/models:ro
      - data:/data
    ports:
      - "8080"
      - "[::1]:7000-7001:7000-7001/udp"
`

func TestParseComposeFile(t *testing.T) {
	cf, err := ParseComposeFile([]byte(testCompose), "/deploy")
	if err != nil {
		t.Fatal(err)
	}
	if cf.Name != "offline" || !reflect.DeepEqual(cf.ServiceNames(), []string{"demo-exporter", "model", "prometheus"}) {
		t.Fatalf("name %q services %v", cf.Name, cf.ServiceNames())
	}
	prom := cf.Services["prometheus"]
	if !prom.HasFlag("--web.enable-lifecycle") || prom.HasFlag("--web.enable-admin-api") {
		t.Errorf("flags: %v", prom.Command)
	}
	if !reflect.DeepEqual(prom.Binds, []string{"/deploy/prometheus"}) {
		t.Errorf("prometheus binds = %v", prom.Binds)
	}
	if p, ok := prom.PublishedFor(9090); !ok || p.HostAddr() != "127.0.0.1:9090" || p.BindAddr() != "127.0.0.1:9090" {
		t.Errorf("prometheus port = %+v %v", p, ok)
	}
	exp := cf.Services["demo-exporter"]
	if exp.PullPolicy != "never" || exp.Ports[0] != (Port{HostIP: "127.0.0.1", Published: 8000, Target: 8000, Protocol: "tcp"}) {
		t.Errorf("exporter = %+v", exp)
	}
	m := cf.Services["model"]
	if !m.HasBuild || !reflect.DeepEqual(m.Command, []string{"serve", "--port", "8080"}) || !reflect.DeepEqual(m.Binds, []string{"/deploy/models"}) {
		t.Errorf("model = %+v", m)
	}
	wantPorts := []Port{
		{Target: 8080, Protocol: "tcp"},
		{HostIP: "::1", Published: 7000, Target: 7000, Protocol: "udp"},
		{HostIP: "::1", Published: 7001, Target: 7001, Protocol: "udp"},
	}
	if !reflect.DeepEqual(m.Ports, wantPorts) {
		t.Errorf("model ports = %+v", m.Ports)
	}
	if _, ok := m.PublishedFor(8080); ok {
		t.Error("an unpublished port counts as published")
	}
	if got := (Port{Published: 80}).HostAddr(); got != "127.0.0.1:80" {
		t.Errorf("HostAddr of every-interface port = %s", got)
	}
	for _, bad := range []string{"1:2:3:4", "a:80", "80-81:90"} {
		if _, err := parseShortPort(bad); err == nil {
			t.Errorf("parseShortPort(%q): no error", bad)
		}
	}
}

func TestV1Compatible(t *testing.T) {
	cf, err := ParseComposeFile([]byte(testCompose+`    depends_on:
      prometheus:
        condition: service_healthy
        required: true
`), "/deploy")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cf.V1Compatible()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseComposeFile(out, "/deploy")
	if err != nil {
		t.Fatal(err)
	}
	if again.Name != "" || len(again.Services) != 3 {
		t.Errorf("after WithoutName: name %q, %d services", again.Name, len(again.Services))
	}
	for _, gone := range []string{"name: offline", "required:", "host_ip:", "mode: ingress"} {
		if strings.Contains(string(out), gone) {
			t.Errorf("%s still there:\n%s", gone, out)
		}
	}
	if got := again.Services["prometheus"].Ports; len(got) != 1 || got[0] != (Port{HostIP: "127.0.0.1", Published: 9090, Target: 9090, Protocol: "tcp"}) {
		t.Errorf("prometheus ports after V1Compatible: %+v", got)
	}
	if !strings.Contains(string(out), "condition: service_healthy") {
		t.Errorf("depends_on condition lost:\n%s", out)
	}
}

func TestProbeFor(t *testing.T) {
	cf, err := ParseComposeFile([]byte(testCompose), "/deploy")
	if err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string]string{
		"prometheus":    "http://127.0.0.1:9090/-/ready",
		"demo-exporter": "http://127.0.0.1:8000/readyz",
		"model":         "", // no probe known, and nothing published on its port
	} {
		if got := probeFor(cf.Services[svc]); got != want {
			t.Errorf("probeFor(%s) = %q, want %q", svc, got, want)
		}
	}
	if u := healthcheckURL([]string{"CMD-SHELL", "/stackgen healthcheck http://127.0.0.1:8025/healthz?x=1 --timeout 2s"}); u == nil || u.Port() != "8025" || u.RawQuery != "x=1" {
		t.Errorf("CMD-SHELL healthcheck URL = %v", u)
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
	e, err := DetectEngine(ctx)
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	if e.ServerVersion == "" || e.Arch == "" {
		t.Errorf("engine = %+v", e)
	}
	c, err := DetectCompose(ctx, e)
	if err != nil {
		t.Skipf("no compose: %v", err)
	}
	if c.Version == "" || len(c.Cmd) == 0 {
		t.Errorf("compose = %+v", c)
	}
	if _, err := listDocker(ctx, e.Docker, "label=com.docker.compose.project=stackgen-test-none"); err != nil {
		t.Errorf("listDocker: %v", err)
	}
	if e.ImageExists(ctx, "stackgen-test/does-not-exist:none") {
		t.Error("ImageExists on a missing image")
	}
}
