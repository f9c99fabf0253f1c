package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/version"
)

var testVersion = version.Info{Version: "v9.8.7", Commit: "0123456789abcdef", GoVersion: "go1.26"}

const offline = "name: off\nmodels: [{name: demo, kind: demo}]\ngrafana: {enabled: false}\nalerting: {engine: prometheus}\nsmtp: {mode: local}\n"

func writeStack(t *testing.T, src, out string) *Result {
	t.Helper()
	res, err := Writer{Version: testVersion}.Write(load(t, src), out)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// diskFiles hashes every file under dir except the manifest, independently
// of the code under test.
func diskFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ManifestFile {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestManifestDescribesTheFolder(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		services  []ManifestService
		engine    string
		wantRules []string // a subset of AlertRules
	}{
		{"grafana", demo, []ManifestService{
			{Name: "demo", Role: stack.RoleModel, Model: "demo"},
			{Name: "demo-exporter", Role: stack.RoleExporter, Model: "demo"},
			{Name: "grafana", Role: stack.RoleGrafana},
			{Name: "mailcatcher", Role: stack.RoleMailcatcher},
			{Name: "prometheus", Role: stack.RolePrometheus},
		}, stack.EngineGrafana, []string{"high_error_ratio-demo"}},
		{"prometheus engine", offline, []ManifestService{
			{Name: "alertmanager", Role: stack.RoleAlertmanager},
			{Name: "demo", Role: stack.RoleModel, Model: "demo"},
			{Name: "demo-exporter", Role: stack.RoleExporter, Model: "demo"},
			{Name: "mailcatcher", Role: stack.RoleMailcatcher},
			{Name: "prometheus", Role: stack.RolePrometheus},
		}, stack.EnginePrometheus, []string{"high_error_ratio", "exporter_down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "deploy")
			res := writeStack(t, tt.src, out)
			m, err := ReadManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, res.Manifest) {
				t.Errorf("manifest on disk differs from the one returned:\n%+v\n%+v", m, res.Manifest)
			}
			if m.Format != 1 || m.Stack != load(t, tt.src).Name || m.Stackgen != testVersion || m.StackgenVersion != "v9.8.7" {
				t.Errorf("format %d, stack %q, stackgen %+v", m.Format, m.Stack, m.Stackgen)
			}
			if !reflect.DeepEqual(m.Services, tt.services) {
				t.Errorf("services = %+v\nwant %+v", m.Services, tt.services)
			}
			disk := diskFiles(t, out)
			listed := map[string]string{}
			for i, f := range m.Files {
				listed[f.Path] = f.SHA256
				if i > 0 && m.Files[i-1].Path >= f.Path {
					t.Errorf("files not sorted at %s", f.Path)
				}
				if st, err := os.Stat(filepath.Join(out, f.Path)); err != nil || st.Size() != f.Size {
					t.Errorf("%s: size %d listed, on disk %v %v", f.Path, f.Size, st, err)
				}
			}
			if !reflect.DeepEqual(listed, disk) {
				t.Errorf("manifest lists %v\nfolder holds %v", listed, disk)
			}
			if m.AlertEngine != tt.engine {
				t.Errorf("alert_engine = %q, want %q", m.AlertEngine, tt.engine)
			}
			for _, r := range tt.wantRules {
				if !contains(m.AlertRules, r) {
					t.Errorf("alert_rules %v lacks %q", m.AlertRules, r)
				}
			}
			if !sort.StringsAreSorted(m.AlertRules) || len(m.Kept) != 0 || len(m.PendingRuleDeletions) != 0 {
				t.Errorf("alert_rules %v, kept %v, pending %v", m.AlertRules, m.Kept, m.PendingRuleDeletions)
			}
		})
	}
}

func TestReadManifestErrors(t *testing.T) {
	tests := []struct {
		name     string
		content  string // "" = no manifest
		notExist bool
		want     string
	}{
		{"absent", "", true, "no such file"},
		{"broken JSON", "{\n  \"format\": 1,\n  \"files\": [,]\n}\n", false, "line 3"},
		{"wrong type", "{\n  \"format\": \"one\"\n}\n", false, "field format"},
		{"future format", "{\"format\": 2}\n", false, "format 2"},
		{"path outside", "{\"format\": 1, \"files\": [{\"path\": \"../x\"}]}\n", false, "files[0].path"},
		{"folder outside", "{\"format\": 1, \"dirs\": [\"/etc\"]}\n", false, "dirs[0]"},
		{"valid", "{\"format\": 1, \"stack\": \"x\"}\n", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := ReadManifest(dir)
			if tt.want == "" {
				if err != nil || m.Stack != "x" {
					t.Fatalf("m = %+v, err = %v", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", !tt.notExist, tt.notExist)
			}
			if tt.content != "" && !strings.Contains(err.Error(), ManifestFile) {
				t.Errorf("err %v does not name the file", err)
			}
		})
	}
}

// TestPendingRuleDeletions: removed Grafana rules stay pending (and in the
// deleteRules file) across renders until MarkApplied; a rule that comes back
// leaves the list.
func TestPendingRuleDeletions(t *testing.T) {
	withCustom := demo + "alerts:\n  - {name: slow_custom, kind: custom, expr: 'up > 2'}\n"
	noGrafana := "name: d\nmodels: [{name: demo, kind: demo}]\ngrafana: {enabled: false}\nalerting: {engine: prometheus}\n"
	type step struct {
		src         string // render this stack; "" = MarkApplied
		wantPending bool   // the custom rule's uid is pending (manifest and deleteRules file)
		wantFile    bool   // the deleteRules file exists
		others      bool   // other uids are pending too
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"two renders keep the deletion", []step{{withCustom, false, false, false}, {demo, true, true, false}, {demo, true, true, false}}},
		{"MarkApplied clears it", []step{{withCustom, false, false, false}, {demo, true, true, false}, {"", false, false, false}, {demo, false, false, false}}},
		{"a re-added rule leaves the list", []step{{withCustom, false, false, false}, {demo, true, true, false}, {withCustom, false, false, false}}},
		// Grafana off: every rule it held is pending, and stays so until an
		// `up` with Grafana; rules provisioned again leave the list.
		{"MarkApplied without Grafana keeps it", []step{{withCustom, false, false, false}, {noGrafana, true, false, true}, {"", true, false, true}, {demo, true, true, false}}},
		{"nothing removed, nothing pending", []step{{demo, false, false, false}, {demo, false, false, false}, {"", false, false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "deploy")
			const customUID = "slow_custom" // a stack-wide custom rule's uid is its name
			for i, st := range tt.steps {
				if st.src == "" {
					if err := MarkApplied(out); err != nil {
						t.Fatalf("step %d: MarkApplied: %v", i, err)
					}
				} else {
					res := writeStack(t, st.src, out)
					if st.src == withCustom && !contains(res.Manifest.AlertRules, customUID) {
						t.Fatalf("rule %s not provisioned: %v", customUID, res.Manifest.AlertRules)
					}
				}
				m, err := ReadManifest(out)
				if err != nil {
					t.Fatal(err)
				}
				if got := contains(m.PendingRuleDeletions, customUID); got != st.wantPending {
					t.Errorf("step %d: pending %v, want %s pending: %v", i, m.PendingRuleDeletions, customUID, st.wantPending)
				}
				if len(m.PendingRuleDeletions) > 1 && !st.others {
					t.Errorf("step %d: pending %v, want only the custom rule", i, m.PendingRuleDeletions)
				}
				data, err := os.ReadFile(filepath.Join(out, alerting.GrafanaDeletedRulesPath))
				if (err == nil) != st.wantFile {
					t.Fatalf("step %d: deleteRules file exists: %v, want %v", i, err == nil, st.wantFile)
				}
				if (m.File(alerting.GrafanaDeletedRulesPath) != nil) != st.wantFile {
					t.Errorf("step %d: manifest lists the deleteRules file: %v, want %v", i, !st.wantFile, st.wantFile)
				}
				if st.wantFile && !strings.Contains(string(data), "uid: "+customUID+"\n") {
					t.Errorf("step %d: deleteRules file lacks %s:\n%s", i, customUID, data)
				}
			}
		})
	}
}

func TestMarkAppliedWithoutManifest(t *testing.T) {
	if err := MarkApplied(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
}

// TestNoSecretInDeployFolder: the SMTP and Grafana passwords from the
// environment and from smtp.password_file appear in no rendered file and not
// in the manifest.
func TestNoSecretInDeployFolder(t *testing.T) {
	const secret = "s3cr3t-Sentinel-42"
	t.Setenv("STACKGEN_SMTP_PASSWORD", secret)
	t.Setenv("STACKGEN_GRAFANA_ADMIN_PASSWORD", secret)
	dir := t.TempDir()
	pw := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(pw, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	srcs := []string{
		demo + "smtp: {host: 'smtp.example.com:587', user: u, from_address: a@example.com, recipients: [b@example.com]}\n",
		offline[:strings.Index(offline, "smtp:")] + "smtp: {host: 'smtp.example.com:587', user: u, password_file: " + pw + ", from_address: a@example.com, recipients: [b@example.com]}\n",
	}
	for i, src := range srcs {
		out := filepath.Join(dir, "deploy", string(rune('a'+i)))
		writeStack(t, src, out)
		found := false
		_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(p)
				if strings.Contains(string(data), secret) {
					t.Errorf("%s holds the secret", p)
				}
				found = found || filepath.Base(p) == ManifestFile
			}
			return nil
		})
		if !found {
			t.Errorf("%s: no manifest written", out)
		}
	}
}
