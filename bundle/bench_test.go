package bundle

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// discardLoader reads each image to its end, as docker load would.
type discardLoader struct{}

func (discardLoader) Load(_ context.Context, _ Image, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// BenchmarkBundle1GB writes, verifies and extracts a bundle holding a 1 GB
// "image" of random bytes (STACKGEN_BUNDLE_BENCH_MB changes the size) and
// reports the process' peak RSS: streaming keeps it far under the 100 MB
// goal whatever the size. Run: go test -bench Bundle1GB -run x ./bundle
func BenchmarkBundle1GB(b *testing.B) {
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("STACKGEN_BUNDLE_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	dir := b.TempDir()
	img := filepath.Join(dir, "image.tar")
	f, err := os.Create(img)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(mb)<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	size, sum, err := hashFile(img)
	if err != nil {
		b.Fatal(err)
	}
	stackFile := filepath.Join(dir, "stack.yaml")
	os.WriteFile(stackFile, []byte("name: bench\n"), 0o644)
	id := "sha256:" + strings.Repeat("cd", 32)
	o := Options{Stack: "bench", StackFile: "stack/stack.yaml", Stackgen: "bench",
		Files:  []Source{{Path: stackFile, Name: "stack/stack.yaml"}},
		Images: []ImageSource{{Path: img, Image: Image{Path: ImagePrefix + strings.Repeat("cd", 32) + ".tar", Size: size, SHA256: sum, ID: id, Tags: []string{"bench:1"}}}}}
	out := filepath.Join(dir, "bench.stackgen.tgz")
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := WriteFile(out, o); err != nil {
			b.Fatal(err)
		}
		_, msum, err := Verify(out)
		if err != nil {
			b.Fatal(err)
		}
		target := filepath.Join(dir, "x"+strconv.Itoa(i))
		if _, err := Extract(context.Background(), out, ExtractOptions{Dir: target, ManifestSHA256: msum, Loader: discardLoader{}}); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(target)
	}
	b.StopTimer()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
	if st, err := os.Stat(out); err == nil {
		b.ReportMetric(float64(st.Size())/float64(size), "compressed/raw")
	}
}
