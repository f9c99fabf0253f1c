package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// volTar is a docker cp stream of a data/ folder owned by nobody (65534),
// as Prometheus' volume is.
func volTar(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "data/", Mode: 0o755, Uid: 65534, Gid: 65534, ModTime: time.Unix(1, 0)})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "data/wal/000001", Mode: 0o644, Size: int64(len(body)), Uid: 65534, Gid: 65534, ModTime: time.Unix(1, 0)})
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

// failAtEnd yields r and then fails, as a reader of changed bytes does.
type failAtEnd struct{ r io.Reader }

func (f failAtEnd) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("SHA-256 differs")
	}
	return n, err
}

// TestVolumeRoundTrip restores a volume from a tar, copies it out again
// (owners and bytes kept), keeps a volume that exists, and removes one whose
// bytes fail their check.
func TestVolumeRoundTrip(t *testing.T) {
	d, tag := testImage(t)
	ctx := context.Background()
	id, _, err := d.Inspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	uniq := fmt.Sprintf("sgbundle-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	a, b, c := uniq+"_a", uniq+"_b", uniq+"_c"
	t.Cleanup(func() { exec.Command(d.Path, "volume", "rm", "-f", a, b, c).Run() })

	labels := map[string]string{"com.docker.compose.project": uniq, "com.docker.compose.volume": "a"}
	done, err := d.Restore(ctx, Volume{Name: a, Labels: labels}, id, bytes.NewReader(volTar(t, "samples")))
	if err != nil || !done {
		t.Fatalf("restore into a new volume: %v, %v", done, err)
	}
	if got, ok, err := d.volumeLabels(ctx, a); err != nil || !ok || got["com.docker.compose.volume"] != "a" {
		t.Fatalf("restored volume labels %v (%v, %v)", got, ok, err)
	}
	src, err := d.SaveVolume(ctx, t.TempDir(), id, a)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "data/wal/000001" {
			body, _ := io.ReadAll(tr)
			if string(body) != "samples" || h.Uid != 65534 || h.Gid != 65534 {
				t.Errorf("copied out %q owned by %d:%d, want \"samples\" owned by 65534:65534", body, h.Uid, h.Gid)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("the copy of the volume lacks data/wal/000001")
	}
	// An existing volume is kept as it is.
	done, err = d.Restore(ctx, Volume{Name: a}, id, bytes.NewReader(volTar(t, "other")))
	if err != nil || done {
		t.Fatalf("restore over an existing volume: restored %v, %v; want kept", done, err)
	}
	// Bytes that fail their check: no volume is left.
	if _, err := d.Restore(ctx, Volume{Name: c}, id, failAtEnd{bytes.NewReader(volTar(t, "x"))}); err == nil {
		t.Fatal("a failing reader restored a volume")
	}
	if _, ok, _ := d.volumeLabels(ctx, c); ok {
		t.Fatal("a volume whose bytes failed their check was left behind")
	}
	// Control: a second restore from the copy works.
	g, _ := os.Open(src.Path)
	defer g.Close()
	if done, err := d.Restore(ctx, Volume{Name: b}, id, g); err != nil || !done {
		t.Fatalf("restore from the copy: %v, %v", done, err)
	}
}
