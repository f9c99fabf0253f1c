package bundle

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/render"
	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
)

const testStack = `name: shared
models:
  - name: diabetes
    kind: tfserving
    image: tensorflow/serving:2.14.1
    model_name: diabetes-prediction
    model_base_path: ./models/diabetes-prediction
smtp:
  mode: external
  host: smtp.example.com:587
  user: alerts
  password_file: secrets/smtp-password
  from_address: alerts@example.com
  recipients: [ops@example.com]
`

// stackDir writes a stack with a model folder and an SMTP password file,
// renders it, and returns the loaded stack and its deploy folder.
func stackDir(t *testing.T) (*stack.Stack, string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"stack.yaml": testStack,
		"models/diabetes-prediction/1/saved_model.pb":            "pb bytes",
		"models/diabetes-prediction/1/variables/variables.index": "index",
		"secrets/smtp-password":                                  "hunter2-secret",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := stack.Load(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.Apply(s, s.DefaultDeployDir()); err != nil {
		t.Fatal(err)
	}
	return s, s.DefaultDeployDir()
}

func stackOptions(t *testing.T, s *stack.Stack, deploy string) Options {
	t.Helper()
	files, err := StackFiles(s, deploy)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := runner.LoadComposeFile(filepath.Join(deploy, "compose.yaml"), s.Name)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Stack: s.Name, StackFile: "stack/stack.yaml", DeployDir: "stack/deploy", Stackgen: "test", Files: files, Secrets: Secrets(s, cf)}
}

func TestStackFilesAndSecrets(t *testing.T) {
	t.Setenv("STACKGEN_GRAFANA_ADMIN_PASSWORD", "")
	s, deploy := stackDir(t)
	o := stackOptions(t, s, deploy)
	var names []string
	for _, f := range o.Files {
		names = append(names, f.Name)
	}
	joined := strings.Join(names, " ")
	for _, want := range []string{"stack/stack.yaml", "stack/deploy/compose.yaml", "stack/deploy/prometheus/prometheus.yml",
		"stack/models/diabetes-prediction/1/saved_model.pb", "stack/models/diabetes-prediction/1/variables/variables.index"} {
		if !strings.Contains(" "+joined+" ", " "+want+" ") {
			t.Errorf("bundle lacks %s (has %s)", want, joined)
		}
	}
	if strings.Contains(joined, "smtp-password") {
		t.Errorf("the SMTP password file is bundled: %s", joined)
	}
	var buf bytes.Buffer
	if _, err := Write(&buf, o); err != nil {
		t.Fatal(err)
	}
	// No secret value anywhere in the archive (gunzipped).
	p := filepath.Join(t.TempDir(), "b.tgz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	var all bytes.Buffer
	if _, _, err := scan(p, nil, "", func(_ *Manifest, e entry, r io.Reader) error { _, err := all.ReadFrom(r); return err }); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(all.Bytes(), []byte("hunter2")) {
		t.Errorf("the secret value is in the bundle")
	}
	want := []Secret{
		{Env: "STACKGEN_GRAFANA_ADMIN_PASSWORD", Field: "grafana.admin_user"},
		{File: "secrets/smtp-password", Field: "smtp.password_file"},
	}
	var got []Secret
	for _, s := range o.Secrets {
		s.Why = ""
		got = append(got, s)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secrets = %+v, want %+v", got, want)
	}
}

func TestStackFilesRefusesOutsideAndSymlinks(t *testing.T) {
	s, deploy := stackDir(t)
	outside := t.TempDir()
	cases := []struct {
		name string
		edit func(t *testing.T)
		want string
	}{
		{"control", func(t *testing.T) {}, ""},
		{"model folder outside the stack folder", func(t *testing.T) { s.Models[0].ModelBasePath = outside }, "outside the stack folder"},
		{"symlink in a model folder", func(t *testing.T) {
			os.Symlink("/etc/passwd", filepath.Join(s.Dir(), "models/diabetes-prediction/1/link"))
			t.Cleanup(func() { os.Remove(filepath.Join(s.Dir(), "models/diabetes-prediction/1/link")) })
		}, "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			saved := s.Models[0].ModelBasePath
			defer func() { s.Models[0].ModelBasePath = saved }()
			c.edit(t)
			_, err := StackFiles(s, deploy)
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// Identical inputs give identical bytes, whatever the files' times, owners
// and the order they are given in; a changed byte changes the archive.
func TestWriteDeterministic(t *testing.T) {
	s, deploy := stackDir(t)
	o := stackOptions(t, s, deploy)
	write := func(o Options) []byte {
		var buf bytes.Buffer
		if _, err := Write(&buf, o); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a := write(o)
	// Touch every file and reverse the order given.
	for _, f := range o.Files {
		os.Chtimes(f.Path, time.Now(), time.Now().Add(-time.Hour))
	}
	rev := o
	rev.Files = nil
	for i := len(o.Files) - 1; i >= 0; i-- {
		rev.Files = append(rev.Files, o.Files[i])
	}
	b := write(rev)
	if !bytes.Equal(a, b) {
		t.Fatalf("two bundles of the same inputs differ (%d vs %d bytes)", len(a), len(b))
	}
	// Negative control: one changed byte gives another archive.
	os.WriteFile(filepath.Join(s.Dir(), "models/diabetes-prediction/1/saved_model.pb"), []byte("pb bytez"), 0o644)
	if c := write(o); bytes.Equal(a, c) {
		t.Fatal("a changed file gave the same archive")
	}
	// And a bundle written by Write verifies and extracts to the same files.
	p := filepath.Join(t.TempDir(), "x.stackgen.tgz")
	if _, err := WriteFile(p, o); err != nil {
		t.Fatal(err)
	}
	_, msum, err := Verify(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "shared")
	if _, err := Extract(t.Context(), p, ExtractOptions{Dir: dir, ManifestSHA256: msum}); err != nil {
		t.Fatal(err)
	}
	for _, f := range o.Files {
		want, _ := os.ReadFile(f.Path)
		got, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(f.Name, StackPrefix)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s extracted as %q (%v), want %q", f.Name, got, err, want)
		}
	}
}
