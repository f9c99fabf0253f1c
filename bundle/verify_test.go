package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// raw is one archive entry as a test writes it, bypassing Write's checks.
type raw struct {
	hdr  tar.Header
	body []byte
}

func reg(name, body string) raw {
	return raw{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: []byte(body)}
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// goodManifest describes the entries of goodEntries.
func goodManifest() Manifest {
	img := []byte("image tarball bytes")
	return Manifest{
		Format: Format, FormatVersion: FormatVersion, Stackgen: "test", Stack: "demo",
		StackFile: "stack/stack.yaml", DeployDir: "stack/deploy",
		Files: []File{
			{Path: "stack/deploy/compose.yaml", Size: 8, SHA256: sum([]byte("services")), Mode: 0o644},
			{Path: "stack/stack.yaml", Size: 10, SHA256: sum([]byte("name: demo")), Mode: 0o644},
		},
		Images:  []Image{{Path: "images/" + strings.Repeat("ab", 32) + ".tar", Size: int64(len(img)), SHA256: sum(img), ID: "sha256:" + strings.Repeat("ab", 32), Tags: []string{"x:1"}}},
		Secrets: []Secret{},
	}
}

func goodEntries() []raw {
	return []raw{
		reg("stack/deploy/compose.yaml", "services"),
		reg("stack/stack.yaml", "name: demo"),
		reg("images/"+strings.Repeat("ab", 32)+".tar", "image tarball bytes"),
	}
}

func manifestEntry(t *testing.T, m Manifest) raw {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return reg(ManifestName, string(b))
}

// archive writes entries as a .tgz into a temporary file; after, when set,
// edits the compressed bytes.
func archive(t *testing.T, entries []raw, after func([]byte) []byte) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if after != nil {
		b = after(b)
	}
	p := filepath.Join(t.TempDir(), "x.stackgen.tgz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarGzWith is goodEntries with the manifest m and tar-level edit applied.
func build(t *testing.T, edit func(m *Manifest, es []raw) []raw, after func([]byte) []byte) string {
	m := goodManifest()
	es := goodEntries()
	if edit != nil {
		es = edit(&m, es)
	}
	return archive(t, append([]raw{manifestEntry(t, m)}, es...), after)
}

// recLoader records the images it loaded (reading each to its end).
type recLoader struct{ loaded map[string][]byte }

func (l *recLoader) Load(_ context.Context, im Image, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if l.loaded == nil {
		l.loaded = map[string][]byte{}
	}
	l.loaded[im.ID] = b
	return nil
}

func TestVerifyRefusesTampering(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(m *Manifest, es []raw) []raw
		after func([]byte) []byte
		want  string // in the error; "" = accepted
	}{
		{name: "untampered control", want: ""},
		{name: "changed byte in a file", edit: func(m *Manifest, es []raw) []raw {
			es[1] = reg("stack/stack.yaml", "name: dema")
			return es
		}, want: "SHA-256"},
		{name: "changed byte in an image", edit: func(m *Manifest, es []raw) []raw {
			es[2] = reg(es[2].hdr.Name, "image tarball bytez")
			return es
		}, want: "SHA-256"},
		{name: "changed byte in the compressed stream", after: func(b []byte) []byte {
			b = append([]byte(nil), b...)
			b[len(b)/2] ^= 0xff
			return b
		}, want: "refused"},
		{name: "gzip trailer changed (CRC)", after: func(b []byte) []byte {
			b = append([]byte(nil), b...)
			b[len(b)-6] ^= 0xff
			return b
		}, want: "refused"},
		{name: "truncated in the middle", after: func(b []byte) []byte { return b[:len(b)/2] }, want: "refused"},
		{name: "truncated gzip trailer", after: func(b []byte) []byte { return b[:len(b)-4] }, want: "refused"},
		{name: "missing file", edit: func(m *Manifest, es []raw) []raw { return es[1:] }, want: "does not hold"},
		{name: "extra file", edit: func(m *Manifest, es []raw) []raw {
			return append(es, reg("stack/extra.txt", "hi"))
		}, want: "not in the manifest"},
		{name: "extra file also listed twice in archive", edit: func(m *Manifest, es []raw) []raw {
			return append(es, reg("stack/stack.yaml", "name: demo"))
		}, want: "twice"},
		{name: "path traversal ../x in the archive", edit: func(m *Manifest, es []raw) []raw {
			return append(es, reg("stack/../x", "hi"))
		}, want: "not a clean path"},
		{name: "path traversal ../x", edit: func(m *Manifest, es []raw) []raw {
			return append(es, reg("../x", "hi"))
		}, want: "is not under"},
		{name: "absolute path", edit: func(m *Manifest, es []raw) []raw {
			return append(es, reg("/etc/x", "hi"))
		}, want: "is not under"},
		{name: "path traversal listed in the manifest", edit: func(m *Manifest, es []raw) []raw {
			m.Files = append(m.Files, File{Path: "stack/../../x", Size: 2, SHA256: sum([]byte("hi")), Mode: 0o644})
			return append(es, reg("stack/../../x", "hi"))
		}, want: "manifest"},
		{name: "symlink out of the folder", edit: func(m *Manifest, es []raw) []raw {
			return append(es, raw{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "stack/deploy/link", Linkname: "/etc/passwd"}})
		}, want: "symlink"},
		{name: "symlink replacing a listed file", edit: func(m *Manifest, es []raw) []raw {
			es[1] = raw{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "stack/stack.yaml", Linkname: "../../etc/passwd"}}
			return es
		}, want: "symlink"},
		{name: "hard link", edit: func(m *Manifest, es []raw) []raw {
			return append(es, raw{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "stack/h", Linkname: "stack/stack.yaml"}})
		}, want: "hard link"},
		{name: "folder entry", edit: func(m *Manifest, es []raw) []raw {
			return append(es, raw{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "stack/d", Mode: 0o755}})
		}, want: "folder"},
		{name: "manifest lies about a size (smaller)", edit: func(m *Manifest, es []raw) []raw {
			m.Files[1].Size = 4
			return es
		}, want: "the manifest says 4"},
		{name: "manifest lies about a size (larger)", edit: func(m *Manifest, es []raw) []raw {
			m.Images[0].Size = 1 << 40
			return es
		}, want: "the manifest says"},
		{name: "manifest of another format", edit: func(m *Manifest, es []raw) []raw {
			m.Format = "other"
			return es
		}, want: "not a stackgen bundle"},
		{name: "newer format version", edit: func(m *Manifest, es []raw) []raw {
			m.FormatVersion = 2
			return es
		}, want: "format version 2"},
		{name: "bad image ID", edit: func(m *Manifest, es []raw) []raw {
			m.Images[0].ID = "latest"
			return es
		}, want: "image ID"},
		{name: "zeros after the archive beyond tar padding", after: func(b []byte) []byte {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write(make([]byte, 2<<20))
			gz.Close()
			return append(append([]byte(nil), b...), buf.Bytes()...)
		}, want: "bytes after the end"},
		{name: "tar padding after the archive (control)", after: func(b []byte) []byte {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write(make([]byte, 10240))
			gz.Close()
			return append(append([]byte(nil), b...), buf.Bytes()...)
		}, want: ""},
		{name: "data after the archive", after: func(b []byte) []byte {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write([]byte("appended"))
			gz.Close()
			return append(append([]byte(nil), b...), buf.Bytes()...)
		}, want: "after the end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := build(t, c.edit, c.after)
			_, _, err := Verify(p)
			t.Log(err)
			checkErr(t, err, c.want)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused a valid bundle: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted; want an error with %q", want)
	}
	var ie *InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is not an *InvalidError", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestVerifyForeignFiles(t *testing.T) {
	dir := t.TempDir()
	plainTgz := archive(t, []raw{reg("README", "hello")}, nil)
	notGzip := filepath.Join(dir, "x.zip")
	os.WriteFile(notGzip, []byte("PK\x03\x04 not a bundle"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	es := goodEntries()
	notFirst := archive(t, append([]raw{es[0], manifestEntry(t, goodManifest())}, es[1:]...), nil)
	cases := []struct{ name, path, want string }{
		{"tgz without a manifest", plainTgz, "not the manifest"},
		{"manifest not the first entry", notFirst, "not the manifest"},
		{"not gzip", notGzip, "not a gzip file"},
		{"empty file", empty, "not a gzip file"},
		{"missing file", filepath.Join(dir, "nope.tgz"), "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Verify(c.path)
			checkErr(t, err, c.want)
		})
	}
}

func TestExtract(t *testing.T) {
	p := build(t, nil, nil)
	m, msum, err := Verify(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "demo")
	var l recLoader
	if _, err := Extract(context.Background(), p, ExtractOptions{Dir: dir, ManifestSHA256: msum, Loader: &l}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"stack.yaml": "name: demo", "deploy/compose.yaml": "services"} {
		if b, err := os.ReadFile(filepath.Join(dir, path)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if got := string(l.loaded[m.Images[0].ID]); got != "image tarball bytes" {
		t.Errorf("loader got %q", got)
	}
	// Again into the same folder: an earlier extraction of this bundle is reused.
	os.WriteFile(filepath.Join(dir, "mine.txt"), []byte("kept"), 0o644)
	if _, err := Extract(context.Background(), p, ExtractOptions{Dir: dir, ManifestSHA256: msum}); err != nil {
		t.Fatalf("re-extracting into the earlier extraction: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "mine.txt")); string(b) != "kept" {
		t.Errorf("re-extraction lost a file of the user's")
	}
	// Another bundle into the same folder is refused; so is a foreign folder.
	other := build(t, func(m *Manifest, es []raw) []raw { m.Stackgen = "other"; return es }, nil)
	_, osum, err := Verify(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(context.Background(), other, ExtractOptions{Dir: dir, ManifestSHA256: osum}); err == nil || !strings.Contains(err.Error(), "not an extraction of this bundle") {
		t.Errorf("another bundle into an extraction folder: %v", err)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "x"), nil, 0o644)
	if _, err := CheckTarget(foreign, msum); err == nil {
		t.Errorf("a non-empty foreign folder was accepted")
	}
	if reuse, err := CheckTarget(t.TempDir(), msum); err != nil || reuse {
		t.Errorf("an empty folder: reuse %v, %v", reuse, err)
	}
}

// A change between Verify and Extract is caught in the second pass: the
// loader's reader fails, nothing is renamed into place.
func TestExtractCatchesChangeAfterVerify(t *testing.T) {
	good := build(t, nil, nil)
	_, msum, err := Verify(good)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(m *Manifest, es []raw) []raw
		want string
	}{
		{"image bytes changed", func(m *Manifest, es []raw) []raw {
			es[2] = reg(es[2].hdr.Name, "image tarball bytez")
			return es
		}, "SHA-256"},
		{"manifest changed", func(m *Manifest, es []raw) []raw { m.Stackgen = "evil"; return es }, "changed since it was verified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := build(t, c.edit, nil)
			dir := filepath.Join(t.TempDir(), "demo")
			var l recLoader
			_, err := Extract(context.Background(), bad, ExtractOptions{Dir: dir, ManifestSHA256: msum, Loader: &l})
			checkErr(t, err, c.want)
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("extraction folder exists after a refused extract: %v", err)
			}
			ents, _ := os.ReadDir(filepath.Dir(dir))
			if len(ents) != 0 {
				t.Errorf("staging left behind: %v", ents)
			}
			if len(l.loaded) != 0 && c.want == "SHA-256" {
				t.Errorf("the loader completed a load of changed bytes")
			}
		})
	}
}
