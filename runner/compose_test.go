package runner

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module root (runner/..).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// offline loads the committed examples/offline/deploy/compose.yaml with compose-go.
func offline(t *testing.T) *ComposeFile {
	t.Helper()
	cf, err := LoadComposeFile(filepath.Join(repoRoot(t), "examples", "offline", "deploy", ComposeFileName), "")
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func TestLoadComposeFileKnowsServicesByLabel(t *testing.T) {
	cf := offline(t)
	if cf.Name != "offline" {
		t.Errorf("name = %q", cf.Name)
	}
	for _, tc := range []struct {
		role, service string
		target, port  int
	}{
		{"prometheus", "prometheus", 9090, 9090},
		{"alertmanager", "alertmanager", 9093, 9093},
		{"exporter", "demo-exporter", 8000, 8000},
		{"model", "demo", 8080, 5005},
		{"mailcatcher", "mailcatcher", 8025, 8025},
	} {
		s := cf.Role(tc.role)
		if s == nil || s.Name != tc.service {
			t.Errorf("Role(%s) = %+v, want service %s", tc.role, s, tc.service)
			continue
		}
		p, ok := s.PublishedFor(tc.target)
		if !ok || p.Published != tc.port || p.HostIP != "127.0.0.1" || p.HostAddr() != "127.0.0.1:"+itoa(tc.port) {
			t.Errorf("%s: published for %d = %+v %v", tc.service, tc.target, p, ok)
		}
	}
	if cf.Role("grafana") != nil {
		t.Error("offline stack has no grafana")
	}
	prom := cf.Services["prometheus"]
	if !prom.HasFlag("--web.enable-lifecycle") || prom.HasFlag("--web.enable-admin-api") {
		t.Errorf("prometheus flags: %v", prom.Command)
	}
	if len(prom.Binds) != 1 || !filepath.IsAbs(prom.Binds[0]) || !strings.HasSuffix(prom.Binds[0], filepath.Join("deploy", "prometheus")) {
		t.Errorf("prometheus binds = %v", prom.Binds)
	}
	if got := cf.Services["demo-exporter"]; got.Model != "demo" || got.Image != DefaultStackgenImage || got.PullPolicy != "never" {
		t.Errorf("exporter = %+v", got)
	}
}

func TestLoadComposeFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", "name: x\nservices:\n  a:\n    image: busybox\n    imagee: y\n", "imagee"},
		{"bad port", "name: x\nservices:\n  a:\n    image: busybox\n    ports: [\"abc:def\"]\n", "def"},
		{"not yaml", "services: [\n", "compose.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+"-compose.yaml")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadComposeFile(path, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want one naming %s and %q", err, path, tc.want)
			}
		})
	}
	if _, err := LoadComposeFile(filepath.Join(dir, "missing.yaml"), ""); err == nil {
		t.Error("missing file loaded")
	}
	// A file without name: takes the given project name.
	path := filepath.Join(dir, "noname.yaml")
	if err := os.WriteFile(path, []byte("services:\n  a:\n    image: busybox\n    ports: [\"127.0.0.1:8000-8001:9000-9001\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := LoadComposeFile(path, "sgtest-noname")
	if err != nil {
		t.Fatal(err)
	}
	if cf.Name != "sgtest-noname" {
		t.Errorf("name = %q", cf.Name)
	}
	if p, ok := cf.Services["a"].PublishedFor(9001); !ok || p.Published != 8001 {
		t.Errorf("range port = %+v %v (ports %+v)", p, ok, cf.Services["a"].Ports)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
