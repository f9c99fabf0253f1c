package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/grafana"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/version"
)

var update = flag.Bool("update", false, "rewrite the committed examples/*/deploy folders")

// exampleVersion is the stackgen version recorded in the committed
// examples/*/deploy manifests: -update renders them with this fixed value so
// they do not change with every commit, and TestExamplesAreFresh ignores the
// manifest's "stackgen" field (a folder re-rendered by bin/stackgen, with
// the real version, is fresh too). Everything else in the manifest is compared.
var exampleVersion = version.Info{Version: "example", GoVersion: "example"}

// TestExamplesAreFresh fails when a committed examples/*/deploy folder differs
// from what the current code renders (run with -update to refresh them).
func TestExamplesAreFresh(t *testing.T) {
	stacks, err := filepath.Glob("../examples/*/stack.yaml")
	if err != nil || len(stacks) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, path := range stacks {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			s, err := stack.Load(path)
			if err != nil {
				t.Fatalf("example does not validate:\n%v", err)
			}
			out := s.DefaultDeployDir()
			if *update {
				if _, err := (Writer{Version: exampleVersion}).Write(s, out); err != nil {
					t.Fatal(err)
				}
				// A committed example is a function of its stack.yaml alone:
				// rule deletions pending from an earlier version of it are
				// dropped.
				if err := dropPending(out); err != nil {
					t.Fatal(err)
				}
				return
			}
			files, err := Render(s, out)
			if err != nil {
				t.Fatal(err)
			}
			onDisk := map[string]bool{}
			_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(out, p)
					onDisk[filepath.ToSlash(rel)] = true
				}
				return nil
			})
			for _, p := range files.Paths() {
				got, err := os.ReadFile(filepath.Join(out, p))
				if err != nil || !bytes.Equal(got, files[p]) {
					t.Errorf("%s/%s is stale; run: go test ./render -update", out, p)
				}
				delete(onDisk, p)
			}
			delete(onDisk, ManifestFile)
			for p := range onDisk {
				t.Errorf("%s/%s is no longer rendered; run: go test ./render -update", out, p)
			}
			disk, err := ReadManifest(out)
			if err != nil {
				t.Fatalf("%v; run: go test ./render -update", err)
			}
			want, err := NewManifest(s, out, files, disk.Stackgen)
			if err != nil {
				t.Fatal(err)
			}
			if disk.StackgenVersion != disk.Stackgen.Short() {
				t.Errorf("%s: stackgen_version %q, want %q", ManifestFile, disk.StackgenVersion, disk.Stackgen.Short())
			}
			wantData, _ := want.Marshal()
			gotData, _ := os.ReadFile(filepath.Join(out, ManifestFile))
			if !bytes.Equal(gotData, wantData) {
				t.Errorf("%s/%s is stale (want, apart from \"stackgen\"):\n%s\nrun: go test ./render -update", out, ManifestFile, wantData)
			}
		})
	}
}

// dropPending clears a manifest's pending rule deletions and removes the
// deleteRules file, whatever the stack.
func dropPending(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if len(m.PendingRuleDeletions) == 0 && m.File(alerting.GrafanaDeletedRulesPath) == nil {
		return nil
	}
	m.PendingRuleDeletions = nil
	var files []ManifestEntry
	for _, f := range m.Files {
		if f.Path != alerting.GrafanaDeletedRulesPath {
			files = append(files, f)
		}
	}
	m.Files = files
	_ = os.Remove(filepath.Join(dir, alerting.GrafanaDeletedRulesPath))
	return writeManifest(dir, m)
}

const demo = "name: d\nmodels: [{name: demo, kind: demo}]\n"

func load(t *testing.T, src string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(src), filepath.Join(t.TempDir(), "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRenderIsDeterministic(t *testing.T) {
	s := load(t, demo)
	out := t.TempDir()
	a, err := Render(s, out)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b, err := Render(s, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) {
			t.Fatalf("file count differs: %d vs %d", len(a), len(b))
		}
		for p := range a {
			if !bytes.Equal(a[p], b[p]) {
				t.Fatalf("%s differs between two renders", p)
			}
		}
	}
}

func TestWriteLayout(t *testing.T) {
	s := load(t, demo)
	out := filepath.Join(t.TempDir(), "deploy")
	if _, err := Write(s, out); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"compose.yaml",
		"prometheus/prometheus.yml",
		"grafana/provisioning/datasources/prometheus.yml",
		"grafana/provisioning/dashboards/stackgen.yml",
		"grafana/dashboards/demo.json",
	} {
		st, err := os.Stat(filepath.Join(out, p))
		if err != nil {
			t.Errorf("missing %s: %v", p, err)
			continue
		}
		if st.Mode().Perm()&0o004 == 0 {
			t.Errorf("%s is not world-readable (%v); containers run as nobody", p, st.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "prometheus/rules")); err != nil {
		t.Errorf("prometheus/rules folder missing: %v", err)
	}
}

// TestRewriteKeepsFolders re-renders into an existing folder: stale files go,
// hidden files stay, and bind-mounted folders keep their identity.
func TestRewriteKeepsFolders(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deploy")
	if _, err := Write(load(t, demo), out); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(filepath.Join(out, "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, ".env"), []byte("KEEP=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noGrafana := "name: d\nmodels: [{name: demo, kind: demo}]\ngrafana: {enabled: false}\nalerting: {engine: prometheus}\n"
	if _, err := Write(load(t, noGrafana), out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "grafana")); !os.IsNotExist(err) {
		t.Errorf("grafana/ should be gone after disabling Grafana: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, ".env")); err != nil {
		t.Errorf("hidden file removed: %v", err)
	}
	after, err := os.Stat(filepath.Join(out, "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("prometheus/ was replaced; a running container's bind mount would go stale")
	}
	if _, err := os.Stat(filepath.Join(out, "alertmanager/alertmanager.yml")); err != nil {
		t.Errorf("alertmanager config missing: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".deploy.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary folders left behind: %v", leftovers)
	}
}

func TestRefusesForeignFolder(t *testing.T) {
	out := t.TempDir()
	mine := filepath.Join(out, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Write(load(t, demo), out)
	if err == nil || !strings.Contains(err.Error(), "not rendered by stackgen") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if data, _ := os.ReadFile(mine); string(data) != "mine" {
		t.Error("user file changed")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("folder now has %d entries, want the user's 1", len(entries))
	}
}

// TestGrafanaFilesHangTogether checks, for every example with Grafana, that
// the alert rules use the data source the datasource file provisions, and
// the dashboards too (Grafana itself cannot run here).
func TestGrafanaFilesHangTogether(t *testing.T) {
	stacks, _ := filepath.Glob("../examples/*/stack.yaml")
	for _, path := range stacks {
		s, err := stack.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Grafana.IsEnabled() {
			continue
		}
		files, err := Render(s, s.DefaultDeployDir())
		if err != nil {
			t.Fatal(err)
		}
		var ds grafana.DatasourceFileContent
		if err := yaml.Unmarshal(files[grafana.DatasourceFile], &ds); err != nil {
			t.Fatal(err)
		}
		var uids []string
		for _, d := range ds.Datasources {
			uids = append(uids, d.UID)
		}
		if err := alerting.CheckGrafana(files, uids); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		for p, data := range files {
			if !strings.HasPrefix(p, "grafana/dashboards/") {
				continue
			}
			if err := grafana.CheckDashboard(p, data); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			var doc any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			refs := datasourceUIDs(doc, nil)
			if len(refs) == 0 {
				t.Errorf("%s: %s names no data source", path, p)
			}
			for _, uid := range refs {
				if !contains(uids, uid) {
					t.Errorf("%s: %s refers to data source uid %q, not provisioned", path, p, uid)
				}
			}
		}
	}
}

// datasourceUIDs collects the uid of every "datasource" object in a dashboard.
func datasourceUIDs(v any, out []string) []string {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if ds, ok := c.(map[string]any); ok && k == "datasource" {
				uid, _ := ds["uid"].(string)
				out = append(out, uid)
			}
			out = datasourceUIDs(c, out)
		}
	case []any:
		for _, c := range x {
			out = datasourceUIDs(c, out)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRemovedAlertIsDeletedFromGrafana: dropping an alert from stack.yaml
// renders a deleteRules entry for its rule on the next render.
func TestRemovedAlertIsDeletedFromGrafana(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deploy")
	with := demo + "alerts:\n  - {name: slow_custom, kind: custom, expr: 'up > 2'}\n"
	if _, err := Write(load(t, with), out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, alerting.GrafanaDeletedRulesPath)); !os.IsNotExist(err) {
		t.Fatalf("first render wrote a deleteRules file: %v", err)
	}
	if _, err := Write(load(t, demo), out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, alerting.GrafanaDeletedRulesPath))
	if err != nil {
		t.Fatalf("no deleteRules file after removing an alert: %v", err)
	}
	if !strings.Contains(string(data), "slow_custom") || strings.Contains(string(data), "high_error_ratio") {
		t.Errorf("deleteRules should name only the removed rule:\n%s", data)
	}
}

// TestRewriteKeepsUnchangedFiles re-renders the same stack: a file whose
// content did not change keeps its inode (a file bind-mounted on its own,
// like a model's drift baseline, would otherwise make every `up` recreate
// its container), and a changed file is replaced.
func TestRewriteKeepsUnchangedFiles(t *testing.T) {
	const drift = "name: d\nmodels: [{name: demo, kind: demo, drift: {}}]\n"
	out := filepath.Join(t.TempDir(), "deploy")
	if _, err := Write(load(t, drift), out); err != nil {
		t.Fatal(err)
	}
	baselinePath := filepath.Join(out, "exporter", "demo.baseline.json")
	composePath := filepath.Join(out, "compose.yaml")
	stat := func(p string) os.FileInfo {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	baseBefore, composeBefore := stat(baselinePath), stat(composePath)
	if _, err := Write(load(t, drift), out); err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(baseBefore, stat(baselinePath)) {
		t.Error("an unchanged baseline was replaced by a copy: its container would be recreated on every up")
	}
	if !os.SameFile(composeBefore, stat(composePath)) {
		t.Error("an unchanged compose.yaml was replaced by a copy")
	}
	// Negative control: a changed stack replaces compose.yaml.
	if _, err := Write(load(t, drift+"exporter: {timeout: 7s}\n"), out); err != nil {
		t.Fatal(err)
	}
	if os.SameFile(composeBefore, stat(composePath)) {
		t.Error("a changed compose.yaml kept its old inode: was it written at all?")
	}
	if data, _ := os.ReadFile(composePath); !strings.Contains(string(data), "7s") {
		t.Error("compose.yaml does not carry the new timeout")
	}
}
