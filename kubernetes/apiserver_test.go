package kubernetes

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

const script = "../scripts/kube-apiserver.sh"

// apiServer is a real etcd + kube-apiserver started by scripts/kube-apiserver.sh.
type apiServer struct {
	t       *testing.T
	kubectl string
	config  string
}

// startAPIServer starts the API server on free loopback ports and installs
// the prometheus-operator CRDs of the Go types' version; it is stopped when
// the test ends.
func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	out, err := exec.Command("bash", script, "bindir").Output()
	if err != nil {
		t.Fatalf("%s bindir: %v", script, err)
	}
	bin := strings.TrimSpace(string(out))
	for _, b := range []string{"kube-apiserver", "kubectl", "etcd"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			testtool.Missing(t, "no "+b+" in "+bin+": run scripts/kube-apiserver.sh build (about 6-8 min once)")
		}
	}
	dir := t.TempDir()
	ports := freePorts(t, 3)
	cmd := exec.Command("bash", script, "start", dir)
	cmd.Env = append(os.Environ(),
		"KUBE_APISERVER_PORT="+strconv.Itoa(ports[0]),
		"KUBE_ETCD_PORT="+strconv.Itoa(ports[1]),
		"KUBE_ETCD_PEER_PORT="+strconv.Itoa(ports[2]))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	t.Cleanup(func() {
		if err := exec.Command("bash", script, "stop", dir).Run(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("%s start: %v\n%s", script, err, stderr.String())
	}
	a := &apiServer{t: t, kubectl: filepath.Join(bin, "kubectl"), config: strings.TrimSpace(string(out))}
	crds, err := exec.Command("bash", script, "crds").Output()
	if err != nil {
		t.Fatalf("%s crds: %v", script, err)
	}
	a.mustRun("apply", "--server-side", "-f", strings.TrimSpace(string(crds)))
	a.mustRun("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	return a
}

// freePorts returns n loopback ports free at the time of the call.
func freePorts(t *testing.T, n int) []int {
	var ports []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func (a *apiServer) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, a.kubectl, append([]string{"--kubeconfig", a.config}, args...)...).CombinedOutput()
}

func (a *apiServer) mustRun(args ...string) []byte {
	a.t.Helper()
	out, err := a.run(args...)
	if err != nil {
		a.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// writeRendering writes files into a new folder and returns it.
func writeRendering(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for p, data := range files {
		if err := os.WriteFile(filepath.Join(dir, p), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAPIServerAcceptsEveryExample: every manifest of every example (and of
// testdata/full.yaml, which uses every feature) passes a real API server's
// strict server-side dry run, CRD schemas included; deliberately broken
// manifests are rejected, so the check cannot pass vacuously.
func TestAPIServerAcceptsEveryExample(t *testing.T) {
	a := startAPIServer(t)
	stacks := map[string]*stack.Stack{}
	for _, ex := range examples {
		stacks[ex] = loadExample(t, ex)
	}
	full, err := stack.Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stacks["full"] = full
	created := map[string]bool{}
	for _, name := range append(append([]string{}, examples...), "full") {
		s := stacks[name]
		t.Run(name, func(t *testing.T) {
			files := render(t, s)
			if ns := s.Kubernetes.Namespace; !created[ns] {
				// A dry run creates nothing, so the namespace the others go in must exist.
				a.mustRun("create", "namespace", ns)
				created[ns] = true
			}
			out, err := a.run("apply", "--dry-run=server", "--validate=strict", "-k", writeRendering(t, files))
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server -k: %v\n%s", err, out)
			}
			// Every object was sent: one "(server dry run)" line per manifest.
			if n, want := bytes.Count(out, []byte("(server dry run)")), len(files)-1; n != want {
				t.Errorf("%d objects applied, want %d:\n%s", n, want, out)
			}
		})
	}

	// Negative controls: each breaks one rendered manifest of testdata/full.yaml.
	files := render(t, full)
	tests := []struct {
		name, file, old, new, wantErr string
	}{
		{"unknown field", "demo-deployment.yaml", "  replicas: 2\n", "  replicas: 2\n  replicaz: 2\n", "replicaz"},
		{"replicas not a number", "demo-deployment.yaml", "  replicas: 2\n", "  replicas: two\n", "replicas"},
		{"ServiceMonitor port as a number", "demo-servicemonitor.yaml", "port: exporter", "port: 8000", "port"},
		{"bad scrape interval", "demo-servicemonitor.yaml", "interval: 5s", "interval: thirty", "interval"},
		{"Service port out of range", "demo-service.yaml", "port: 8000", "port: 80000", "port"},
		{"bad resource quantity", "demo-deployment.yaml", "cpu: 250m", "cpu: lots", "quantit"},
		{"AlertmanagerConfig secret without key", "alertmanagerconfig.yaml", "key: smtp-password", "kee: smtp-password", "kee"},
	}
	for _, tc := range tests {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			broken := map[string][]byte{}
			for p, d := range files {
				broken[p] = d
			}
			if !bytes.Contains(broken[tc.file], []byte(tc.old)) {
				t.Fatalf("%s has no %q to break", tc.file, tc.old)
			}
			broken[tc.file] = bytes.Replace(broken[tc.file], []byte(tc.old), []byte(tc.new), 1)
			out, err := a.run("apply", "--dry-run=server", "--validate=strict", "-k", writeRendering(t, broken))
			if err == nil {
				t.Fatalf("a broken %s was accepted:\n%s", tc.file, out)
			}
			if !strings.Contains(string(out), tc.wantErr) {
				t.Errorf("error does not name %q:\n%s", tc.wantErr, out)
			}
		})
	}
}
