package bundle

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/internal/testtool"
)

// testImage builds a tiny FROM scratch image with unique content, tagged
// sgbundle-test:<unique>, removed at the end of the test.
func testImage(t *testing.T) (Docker, string) {
	t.Helper()
	docker := testtool.Path(t, "bash scripts/setup.sh", "docker")
	if out, err := exec.Command(docker, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		testtool.Missing(t, "no Docker engine answers (bash scripts/setup.sh starts one): "+strings.TrimSpace(string(out)))
	}
	dir := t.TempDir()
	uniq := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY hello /hello\n# as stackgen's image: docker cp -a would chown to this user\nUSER 65534:65534\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hello"), []byte(strings.Repeat("hello "+uniq+"\n", 2000)), 0o644)
	tag := "sgbundle-test:" + uniq
	cmd := exec.Command(docker, "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag).Run() })
	return Docker{Path: docker}, tag
}

func rmi(t *testing.T, d Docker, ref string) {
	t.Helper()
	if out, err := exec.Command(d.Path, "rmi", "-f", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker rmi %s: %v %s", ref, err, out)
	}
}

// TestDockerRoundTrip bundles a real image, removes it, and loads it back
// from the bundle; a bundle whose image bytes changed loads nothing.
func TestDockerRoundTrip(t *testing.T) {
	d, tag := testImage(t)
	ctx := context.Background()
	id, ok, err := d.Inspect(ctx, tag)
	if err != nil || !ok {
		t.Fatalf("inspect %s: %v %v", tag, ok, err)
	}
	tmp := t.TempDir()
	a, err := d.Save(ctx, tmp, id, []string{tag})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Save(ctx, tmp, id, []string{tag})
	if err != nil {
		t.Fatal(err)
	}
	if a.Image.SHA256 != b.Image.SHA256 {
		t.Errorf("docker save is not byte-stable (%s vs %s): bundles of the same images would differ", a.Image.SHA256[:12], b.Image.SHA256[:12])
	}
	stackFile := filepath.Join(tmp, "stack.yaml")
	os.WriteFile(stackFile, []byte("name: x\n"), 0o644)
	good := filepath.Join(tmp, "good.stackgen.tgz")
	o := Options{Stack: "x", StackFile: "stack/stack.yaml", Stackgen: "test", Files: []Source{{Path: stackFile, Name: "stack/stack.yaml"}}, Images: []ImageSource{a}}
	if _, err := WriteFile(good, o); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(tmp, "bad.stackgen.tgz")
	flipImageByte(t, good, bad)

	rmi(t, d, tag)
	// The tampered bundle: Verify refuses it; and even a second pass alone
	// (no Verify) kills docker load before its input ends: no image.
	if _, _, err := Verify(bad); err == nil {
		t.Fatal("a bundle with a changed image byte verified")
	}
	_, goodSum, err := Verify(good)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Extract(ctx, bad, ExtractOptions{Dir: filepath.Join(tmp, "bad"), ManifestSHA256: goodSum, Loader: d})
	if err == nil {
		t.Fatal("extracting a bundle with a changed image byte succeeded")
	}
	if _, ok, _ := d.Inspect(ctx, tag); ok {
		t.Fatalf("the changed image was loaded as %s", tag)
	}
	// The good bundle loads the image with its ID.
	if _, err := Extract(ctx, good, ExtractOptions{Dir: filepath.Join(tmp, "x"), ManifestSHA256: goodSum, Loader: d}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := d.Inspect(ctx, tag)
	if err != nil || !ok || got != id {
		t.Fatalf("after up --bundle's load: %s is %q (%v, %v), want %s", tag, got, ok, err, id)
	}
}

// flipImageByte copies the bundle at src to dst with one byte of its image
// entry changed (the manifest unchanged).
func flipImageByte(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	gr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	gw := gzip.NewWriter(out)
	tr, tw := tar.NewReader(gr), tar.NewWriter(gw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, ImagePrefix) {
			body[len(body)/2] ^= 1
		}
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.Close()
	gw.Close()
}
