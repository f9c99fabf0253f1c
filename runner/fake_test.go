package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeContainer is a container of the fake engine.
type fakeContainer struct {
	image                            string
	id, service, role, state, health string
	exit, restarts                   int
	started, finished                time.Time
	ports                            map[string]int // "8000/tcp" → host port
	logs                             string
	oneOff                           bool
	project                          string
	// onInspect changes the container each time it is inspected (a crash loop).
	onInspect func(c *fakeContainer)
}

// fakeDocker answers the docker CLI calls the runner makes, from a list of
// containers; compose up runs onUp.
type fakeDocker struct {
	mu         sync.Mutex
	containers []*fakeContainer
	calls      []string
	onUp       func(ctx context.Context, f *fakeDocker) error
	next       int
	// images answers `docker image ls`.
	images []string
	// created answers `docker image inspect --format {{json .Created}}`
	// (default: two days ago).
	created map[string]time.Time
	// noPlugin makes `docker compose version` fail; standalone is the
	// version `docker-compose version --short` prints ("" fails).
	noPlugin   bool
	standalone string
	// noEngine makes `docker version` fail with this stderr.
	noEngine string
}

func (f *fakeDocker) add(c *fakeContainer) *fakeContainer {
	if c.id == "" {
		f.next++
		c.id = fmt.Sprintf("%s-%d", c.service, f.next)
	}
	if c.project == "" {
		c.project = "sgtest-fake"
	}
	f.containers = append(f.containers, c)
	return c
}

func (f *fakeDocker) byService(svc string) *fakeContainer {
	for _, c := range f.containers {
		if c.service == svc {
			return c
		}
	}
	return nil
}

func (f *fakeDocker) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// install replaces run and runCombined with the fake and puts a dummy
// docker on PATH (Open looks it up; the fake answers every call).
func (f *fakeDocker) install(t *testing.T) {
	t.Helper()
	bin := t.TempDir()
	for _, name := range []string{"docker", "docker-compose"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv(ComposeEnv, "")
	t.Setenv("DOCKER_HOST", "")
	oldRun, oldComb := run, runCombined
	run = f.run
	runCombined = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		out, err := f.run(ctx, nil, name, args...)
		return out, err
	}
	t.Cleanup(func() { run, runCombined = oldRun, oldComb })
}

func (f *fakeDocker) run(ctx context.Context, _ []string, _ string, args ...string) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, strings.Join(args, " "))
	f.mu.Unlock()
	fail := func(msg string) ([]byte, error) {
		return nil, &cmdError{args: append([]string{"docker"}, args...), err: fmt.Errorf("exit status 1"), stderr: msg}
	}
	switch {
	case args[0] == "version" && len(args) > 1 && args[1] == "--short":
		if f.standalone == "" {
			return fail("not found")
		}
		return []byte(f.standalone + "\n"), nil
	case args[0] == "version":
		if f.noEngine != "" {
			return fail(f.noEngine)
		}
		return []byte("20.10.24|x86_64|linux\n"), nil
	case args[0] == "compose" && len(args) > 1 && args[1] == "version":
		if f.noPlugin {
			return fail("docker: 'compose' is not a docker command.")
		}
		return []byte("2.40.3\n"), nil
	case args[0] == "compose":
		switch args[len(args)-1] {
		case "--remove-orphans": // up -d --remove-orphans or down --remove-orphans
			if contains(args, "down") {
				f.mu.Lock()
				f.containers = nil
				f.mu.Unlock()
				return nil, nil
			}
			if f.onUp != nil {
				if err := f.onUp(ctx, f); err != nil {
					return fail(err.Error())
				}
			}
			return nil, nil
		}
		return nil, nil
	case args[0] == "ps":
		return f.ps(args[1:]), nil
	case args[0] == "container" && args[1] == "inspect":
		return f.inspect(args[2:])
	case args[0] == "image" && args[1] == "ls":
		return []byte(strings.Join(f.images, "\n")), nil
	case args[0] == "image" && args[1] == "inspect" && contains(args, "{{json .Created}}"):
		t, ok := f.created[args[len(args)-1]]
		if !ok {
			t = time.Now().Add(-48 * time.Hour)
		}
		b, _ := json.Marshal(t)
		return append(b, '\n'), nil
	case args[0] == "rmi":
		return nil, nil
	case args[0] == "image" || args[0] == "build" || args[0] == "buildx" || args[0] == "kill" || args[0] == "pull":
		return nil, nil
	case args[0] == "start":
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range args[1:] {
			for _, c := range f.containers {
				if c.id == id {
					c.state, c.started = "running", time.Now()
				}
			}
		}
		return nil, nil
	case args[0] == "rm":
		f.mu.Lock()
		defer f.mu.Unlock()
		var keep []*fakeContainer
		for _, c := range f.containers {
			if !contains(args, c.id) {
				keep = append(keep, c)
			}
		}
		f.containers = keep
		return nil, nil
	case args[0] == "logs":
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.containers {
			if c.id == args[len(args)-1] {
				return []byte(c.logs), nil
			}
		}
		return fail("no such container")
	case args[0] == "volume" || args[0] == "network":
		return nil, nil
	}
	return fail("fake docker: unexpected " + strings.Join(args, " "))
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (c *fakeContainer) imageName() string {
	if c.image == "" {
		return "img"
	}
	return c.image
}

func (c *fakeContainer) labels() map[string]string {
	l := map[string]string{labelProject: c.project, labelService: c.service, labelOneOff: "False"}
	if c.oneOff {
		l[labelOneOff] = "True"
	}
	if c.role != "" {
		l["io.stackgen.role"] = c.role
	}
	return l
}

func (f *fakeDocker) ps(args []string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.containers {
		ok := true
		for i := 0; i+1 < len(args); i++ {
			if args[i] != "--filter" {
				continue
			}
			k, v, _ := strings.Cut(args[i+1], "=")
			switch k {
			case "label":
				lk, lv, _ := strings.Cut(v, "=")
				if c.labels()[lk] != lv {
					ok = false
				}
			case "status":
				if c.state != v {
					ok = false
				}
			}
		}
		if ok {
			ids = append(ids, c.id)
		}
	}
	return []byte(strings.Join(ids, "\n"))
}

func (f *fakeDocker) inspect(ids []string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, id := range ids {
		for _, c := range f.containers {
			if c.id != id {
				continue
			}
			if c.onInspect != nil {
				c.onInspect(c)
			}
			state := map[string]any{"Status": c.state, "ExitCode": c.exit,
				"StartedAt": ts(c.started), "FinishedAt": ts(c.finished)}
			if c.health != "" {
				state["Health"] = map[string]any{"Status": c.health}
			}
			ports := map[string]any{}
			for spec, p := range c.ports {
				ports[spec] = []map[string]string{{"HostIp": "127.0.0.1", "HostPort": fmt.Sprint(p)}}
			}
			out = append(out, map[string]any{
				"Id": c.id, "Name": "/" + c.project + "-" + c.service + "-1", "RestartCount": c.restarts,
				"State":           state,
				"Config":          map[string]any{"Image": c.imageName(), "Labels": c.labels()},
				"NetworkSettings": map[string]any{"Ports": ports},
			})
		}
	}
	return json.Marshal(out)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// fakeProm is an httptest Prometheus: targets, alerts, query and reload.
type fakeProm struct {
	srv         *httptest.Server
	port        int
	expPort     int
	mu          sync.Mutex
	reloadCode  int
	reloadBody  string
	reloads     int
	reloadOK    float64
	targetsDown int
	alerts      string
	t           *testing.T
	exp         *httptest.Server
}

// startExporter answers /readyz on the exporter's port (the exporter runs).
func (fp *fakeProm) startExporter() {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.exp != nil {
		return
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", fp.expPort))
	if err != nil {
		fp.t.Errorf("exporter port: %v", err)
		return
	}
	fp.exp = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	fp.exp.Listener = l
	fp.exp.Start()
	fp.t.Cleanup(fp.exp.Close)
}

func newFakeProm(t *testing.T) *fakeProm {
	fp := &fakeProm{reloadCode: 200, reloadOK: 1, alerts: `[]`}
	mux := http.NewServeMux()
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ready") })
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		fp.mu.Lock()
		defer fp.mu.Unlock()
		fp.reloads++
		w.WriteHeader(fp.reloadCode)
		fmt.Fprint(w, fp.reloadBody)
	})
	mux.HandleFunc("/api/v1/targets", func(w http.ResponseWriter, _ *http.Request) {
		fp.mu.Lock()
		defer fp.mu.Unlock()
		health := func(i int) string {
			if i < fp.targetsDown {
				return "down"
			}
			return "up"
		}
		fmt.Fprintf(w, `{"status":"success","data":{"activeTargets":[
{"labels":{"job":"ml_model_exporter","instance":"demo-exporter:8000"},"scrapePool":"ml_model_exporter","scrapeUrl":"http://demo-exporter:8000/metrics","health":%q,"lastError":""},
{"labels":{"job":"prometheus","instance":"localhost:9090"},"scrapePool":"prometheus","scrapeUrl":"http://localhost:9090/metrics","health":%q,"lastError":""}],"droppedTargets":[]}}`, health(0), health(1))
	})
	mux.HandleFunc("/api/v1/alerts", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"status":"success","data":{"alerts":%s}}`, fp.alerts)
	})
	mux.HandleFunc("/api/v1/alertmanagers", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"activeAlertmanagers":[{"url":"http://alertmanager:9093/api/v2/alerts"}],"droppedAlertmanagers":[]}}`)
	})
	mux.HandleFunc("/api/v1/status/runtimeinfo", func(w http.ResponseWriter, _ *http.Request) {
		fp.mu.Lock()
		defer fp.mu.Unlock()
		fmt.Fprintf(w, `{"status":"success","data":{"startTime":"2026-12-01T03:00:00Z","CWD":"/prometheus","reloadConfigSuccess":%v,"lastConfigTime":"2026-12-01T03:00:00Z","corruptionCount":0,"goroutineCount":40,"GOMAXPROCS":2,"GOGC":"","GODEBUG":"","storageRetention":"15d"}}`, fp.reloadOK == 1)
	})
	fp.srv = httptest.NewServer(mux)
	t.Cleanup(fp.srv.Close)
	fp.port = fp.srv.Listener.Addr().(*net.TCPAddr).Port
	// The exporter's port is reserved but not listened on until
	// startExporter: a stopped exporter holds no port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp.expPort = l.Addr().(*net.TCPAddr).Port
	l.Close()
	fp.t = t
	return fp
}

// fakeStack writes a deploy folder whose Prometheus and exporter are
// published on the fake Prometheus' port (it answers /readyz too) and
// returns it.
func fakeStack(t *testing.T, fp *fakeProm) string {
	t.Helper()
	dir := t.TempDir()
	compose := fmt.Sprintf(`name: sgtest-fake
services:
  prometheus:
    image: stackgen/prometheus:2.42.0
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--web.enable-lifecycle"]
    labels: {io.stackgen.role: prometheus}
    volumes:
      - {type: bind, source: ./prometheus, target: /etc/prometheus, read_only: true}
    ports:
      - {host_ip: 127.0.0.1, target: 9090, published: "%d"}
  demo-exporter:
    image: stackgen:local
    pull_policy: never
    labels: {io.stackgen.role: exporter, io.stackgen.model: demo}
    healthcheck:
      test: ["CMD", "/stackgen", "healthcheck", "http://127.0.0.1:8000/readyz"]
    ports:
      - {host_ip: 127.0.0.1, target: 8000, published: "%d"}
  demo:
    image: stackgen:local
    pull_policy: never
    labels: {io.stackgen.role: model, io.stackgen.model: demo}
    healthcheck:
      test: ["CMD", "/stackgen", "healthcheck", "http://127.0.0.1:8080/ping"]
`, fp.port, fp.expPort)
	if err := os.MkdirAll(filepath.Join(dir, "prometheus"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		ComposeFileName:             compose,
		"prometheus/prometheus.yml": "scrape_configs:\n  - job_name: prometheus\n    static_configs: [{targets: [localhost:9090]}]\n  - job_name: ml_model_exporter\n    static_configs: [{targets: [demo-exporter:8000]}]\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runningStack adds the three services running and healthy.
func runningStack(f *fakeDocker, fp *fakeProm, started time.Time) {
	fp.startExporter()
	f.add(&fakeContainer{service: "prometheus", role: "prometheus", state: "running", started: started, ports: map[string]int{"9090/tcp": fp.port}})
	f.add(&fakeContainer{service: "demo-exporter", role: "exporter", state: "running", health: "healthy", started: started, ports: map[string]int{"8000/tcp": fp.expPort}})
	f.add(&fakeContainer{service: "demo", role: "model", state: "running", health: "healthy", started: started})
}
