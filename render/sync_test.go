package render

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const twoModels = "name: d\nmodels: [{name: demo, kind: demo}, {name: other, kind: demo}]\n"

func put(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every path under dir with its content ("/" for folders).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel] = "/"
			return nil
		}
		data, _ := os.ReadFile(p)
		out[rel] = string(data)
		return nil
	})
	return out
}

// TestRerenderNeverLosesUserFiles renders first, changes the folder as a
// user would, renders again and checks which files survive, go, are
// reported kept or removed, and what the manifest says.
func TestRerenderNeverLosesUserFiles(t *testing.T) {
	const obsolete = "grafana/dashboards/other.json"
	tests := []struct {
		name        string
		first       string
		change      func(t *testing.T, dir string)
		second      string
		survive     map[string]string // path → content after the second render
		gone        []string
		kept        []KeptFile
		removed     []string
		overwritten []string
		wantErr     string // the second render fails and changes nothing
	}{
		{
			name:  "user files survive",
			first: demo,
			change: func(t *testing.T, d string) {
				put(t, d, "NOTES.md", "mine")
				put(t, d, "prometheus/rules/mine.yml", "groups: []\n")
			},
			second:  demo,
			survive: map[string]string{"NOTES.md": "mine", "prometheus/rules/mine.yml": "groups: []\n"},
			kept:    []KeptFile{{"NOTES.md", KeptNotOurs}, {"prometheus/rules/mine.yml", KeptNotOurs}},
		},
		{
			name:    "a user folder survives whole",
			first:   demo,
			change:  func(t *testing.T, d string) { put(t, d, "notes/a/b.txt", "deep") },
			second:  demo,
			survive: map[string]string{"notes/a/b.txt": "deep"},
			kept:    []KeptFile{{"notes/", KeptNotOurs}},
		},
		{
			name:    "an unedited obsolete file is removed",
			first:   twoModels,
			change:  func(*testing.T, string) {},
			second:  demo,
			gone:    []string{obsolete},
			removed: []string{obsolete},
		},
		{
			name:    "an edited obsolete file survives",
			first:   twoModels,
			change:  func(t *testing.T, d string) { put(t, d, obsolete, "{\"edited\": true}") },
			second:  demo,
			survive: map[string]string{obsolete: "{\"edited\": true}"},
			kept:    []KeptFile{{obsolete, KeptEdited}},
		},
		{
			name:        "an edited rendered file is rendered again and reported",
			first:       demo,
			change:      func(t *testing.T, d string) { put(t, d, "prometheus/prometheus.yml", "edited") },
			second:      demo,
			overwritten: []string{"prometheus/prometheus.yml"},
		},
		{
			name:  "a user file where stackgen now writes stops the render",
			first: demo + "grafana: {enabled: false}\nalerting: {engine: prometheus}\n",
			change: func(t *testing.T, d string) {
				put(t, d, "grafana/provisioning/alerting/rules.yml", "mine")
				put(t, d, "prometheus/rules/alerts.yml", "untouched-sentinel")
			},
			second:  demo,
			wantErr: "grafana/provisioning/alerting/rules.yml was not written by stackgen",
		},
		{
			name:  "a user folder where stackgen writes a file stops the render",
			first: demo,
			change: func(t *testing.T, d string) {
				_ = os.Remove(filepath.Join(d, obsolete))
				put(t, d, obsolete+"/x", "mine")
			},
			second:  twoModels,
			wantErr: "is a folder where stackgen writes a file",
		},
		{
			name:    "a broken manifest stops the render",
			first:   twoModels,
			change:  func(t *testing.T, d string) { put(t, d, ManifestFile, "{\"format\": 1,\n\"files\": nope}") },
			second:  demo,
			wantErr: ManifestFile + ": line 2",
		},
		{
			name:  "pre-manifest folder: rendered files replaced, nothing else removed",
			first: twoModels,
			change: func(t *testing.T, d string) {
				if err := os.Remove(filepath.Join(d, ManifestFile)); err != nil {
					t.Fatal(err)
				}
				put(t, d, "prometheus/prometheus.yml", "old")
			},
			second:  demo,
			survive: map[string]string{obsolete: ""},
			kept:    []KeptFile{{obsolete, KeptUnlisted}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "deploy")
			writeStack(t, tt.first, out)
			tt.change(t, out)
			before := snapshot(t, out)
			res, err := Writer{Version: testVersion}.Write(load(t, tt.second), out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if after := snapshot(t, out); !reflect.DeepEqual(before, after) {
					t.Error("the folder changed although the render failed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range tt.survive {
				got, err := os.ReadFile(filepath.Join(out, p))
				if err != nil || (want != "" && string(got) != want) {
					t.Errorf("%s: %q, %v; want %q", p, got, err, want)
				}
			}
			for _, p := range tt.gone {
				if _, err := os.Stat(filepath.Join(out, p)); !os.IsNotExist(err) {
					t.Errorf("%s still there: %v", p, err)
				}
			}
			if !reflect.DeepEqual(res.Kept, tt.kept) || !reflect.DeepEqual(res.Removed, tt.removed) || !reflect.DeepEqual(res.Overwritten, tt.overwritten) {
				t.Errorf("kept %v removed %v overwritten %v\nwant %v %v %v", res.Kept, res.Removed, res.Overwritten, tt.kept, tt.removed, tt.overwritten)
			}
			m, err := ReadManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			var keptPaths []string
			for _, k := range tt.kept {
				keptPaths = append(keptPaths, k.Path)
			}
			if !reflect.DeepEqual(m.Kept, keptPaths) {
				t.Errorf("manifest kept %v, want %v", m.Kept, keptPaths)
			}
			for _, k := range tt.kept {
				if m.File(strings.TrimSuffix(k.Path, "/")) != nil {
					t.Errorf("manifest lists kept %s as written", k.Path)
				}
			}
			if len(res.Warnings()) != len(tt.kept)+len(tt.removed)+len(tt.overwritten) {
				t.Errorf("warnings %q", res.Warnings())
			}
			// Every file render wrote is on disk with the rendered content.
			for p, data := range res.Files {
				got, err := os.ReadFile(filepath.Join(out, p))
				if err != nil || string(got) != string(data) {
					t.Errorf("%s not as rendered: %v", p, err)
				}
			}
		})
	}
}

// TestKeptFileIsThenTheUsers: an edited obsolete file kept once is not the
// manifest's any more, so later renders keep it too (as the user's).
func TestKeptFileIsThenTheUsers(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deploy")
	writeStack(t, twoModels, out)
	put(t, out, "grafana/dashboards/other.json", "edited")
	writeStack(t, demo, out)
	res := writeStack(t, demo, out)
	want := []KeptFile{{"grafana/dashboards/other.json", KeptNotOurs}}
	if !reflect.DeepEqual(res.Kept, want) {
		t.Errorf("kept %v, want %v", res.Kept, want)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "grafana/dashboards/other.json")); string(data) != "edited" {
		t.Errorf("content %q", data)
	}
}
