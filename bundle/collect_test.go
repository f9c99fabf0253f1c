package bundle

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stackgen/stackgen/render"
	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
)

// TestImageRefs checks which images each --images mode bundles, on a
// rendered stack with a demo model, a model built from a folder and the
// default Prometheus and Grafana images.
func TestImageRefs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "server"), 0o755)
	os.WriteFile(filepath.Join(dir, "server", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(`name: refs
models:
  - name: demo
    kind: demo
  - name: built
    kind: custom
    build: server
    predict_path: /predict
    health_path: /health
`), 0o644)
	s, err := stack.Load(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.Apply(s, s.DefaultDeployDir()); err != nil {
		t.Fatal(err)
	}
	cf, err := runner.LoadComposeFile(filepath.Join(s.DefaultDeployDir(), "compose.yaml"), s.Name)
	if err != nil {
		t.Fatal(err)
	}
	sg := "stackgen:v1-0123456789ab"
	cases := []struct {
		mode    string
		want    []string
		wantErr bool
	}{
		{mode: ImagesLocal, want: []string{"refs-built:local", sg}},
		{mode: ImagesAll, want: []string{stack.DefaultGrafanaImage, stack.DefaultPrometheusImage, "refs-built:local", sg}},
		{mode: ImagesNone, want: nil},
		{mode: "some", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			got, err := ImageRefs(cf, c.mode, sg)
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			if !c.wantErr && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("images %v, want %v", got, c.want)
			}
		})
	}
	// The models' build folder travels in the bundle.
	files, err := StackFiles(s, s.DefaultDeployDir())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range files {
		found = found || f.Name == "stack/server/Dockerfile"
	}
	if !found {
		t.Errorf("the build folder is not bundled: %v", files)
	}
}
