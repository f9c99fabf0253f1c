package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strings"
)

// InvalidError is a bundle refused by Verify or Extract: not a bundle, a
// foreign or newer format, tampered, truncated, extra or missing entries,
// unsafe names or entry types. Nothing was extracted or loaded.
type InvalidError struct {
	// File is the archive.
	File string
	// Err says what is wrong.
	Err error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("bundle %s is refused: %v", e.File, e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// Loader loads an image tarball into an engine. r yields the tarball and
// fails at its end when the bytes differ from the manifest: a Loader must
// read r to its end and abandon the load when reading fails.
type Loader interface {
	Load(ctx context.Context, im Image, r io.Reader) error
}

// Verify reads the bundle at path once, streaming, and checks it against its
// manifest: the manifest is the first entry and a known format; every other
// entry is a regular file the manifest lists, with the listed size and
// SHA-256; no listed entry is missing; names are clean and relative; the gzip
// checksum holds and nothing follows the archive. It returns the manifest and
// the SHA-256 of its bytes (Extract checks it again). Every refusal is an
// *InvalidError.
func Verify(path string) (*Manifest, string, error) {
	return VerifyWith(path, nil)
}

// VerifyWith is Verify showing its progress on p (nil: none).
func VerifyWith(path string, p Progress) (*Manifest, string, error) {
	return scan(path, p, "verifying", func(*Manifest, entry, io.Reader) error { return nil })
}

// scan is one streaming pass over the bundle; each gets every entry after
// its manifest checks, with a reader that fails at its end when the content
// differs from the manifest (scan drains what each leaves unread).
func scan(path string, p Progress, label string, each func(*Manifest, entry, io.Reader) error) (*Manifest, string, error) {
	bad := func(format string, args ...any) error {
		return &InvalidError{File: path, Err: fmt.Errorf(format, args...)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", &InvalidError{File: path, Err: err}
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, "", bad("not a gzip file (%v): a bundle is a .stackgen.tgz written by `stackgen bundle`", err)
	}
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	if err != nil {
		return nil, "", bad("not a tar archive (%v)", err)
	}
	if hdr.Name != ManifestName || !isRegular(hdr) {
		return nil, "", bad("first entry is %q, not the manifest %s: not a stackgen bundle", hdr.Name, ManifestName)
	}
	if hdr.Size > maxManifestSize {
		return nil, "", bad("manifest of %d bytes is over the %d byte limit", hdr.Size, maxManifestSize)
	}
	mj, err := io.ReadAll(tr)
	if err != nil {
		return nil, "", bad("reading the manifest: %v (truncated?)", err)
	}
	msum := sha256.Sum256(mj)
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, "", bad("manifest: %v", err)
	}
	idx, err := m.index()
	if err != nil {
		return nil, "", bad("manifest: %v", err)
	}
	if p != nil {
		p.Start(label, m.TotalSize())
		defer p.Done()
	}
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", bad("after %d entries: %v (truncated or corrupt)", len(seen), err)
		}
		name := hdr.Name
		if err := checkName(name, StackPrefix); err != nil && checkName(name, ImagePrefix) != nil && checkName(name, VolumePrefix) != nil {
			return nil, "", bad("%v", err)
		}
		if !isRegular(hdr) {
			what := map[byte]string{tar.TypeSymlink: "a symlink", tar.TypeLink: "a hard link", tar.TypeDir: "a folder", tar.TypeChar: "a device", tar.TypeBlock: "a device", tar.TypeFifo: "a FIFO"}[hdr.Typeflag]
			if what == "" {
				what = fmt.Sprintf("of type %q", hdr.Typeflag)
			}
			return nil, "", bad("entry %s is %s: bundles hold regular files only", name, what)
		}
		e, ok := idx[name]
		if !ok {
			return nil, "", bad("entry %s is not in the manifest (extra file)", name)
		}
		if seen[name] {
			return nil, "", bad("entry %s appears twice", name)
		}
		seen[name] = true
		if hdr.Size != e.size {
			return nil, "", bad("entry %s holds %d bytes; the manifest says %d", name, hdr.Size, e.size)
		}
		var r io.Reader = tr
		if p != nil {
			r = counter{tr, p}
		}
		hr := &hashReader{r: r, h: sha256.New(), e: e}
		if err := each(&m, e, hr); err != nil {
			if hr.err != nil {
				return nil, "", bad("%v", hr.err)
			}
			return nil, "", err
		}
		if _, err := io.Copy(io.Discard, hr); err != nil {
			return nil, "", bad("%v", err)
		}
	}
	var missing []string
	for n := range idx {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		more := ""
		if len(missing) > 5 {
			more = fmt.Sprintf(" and %d more", len(missing)-5)
			missing = missing[:5]
		}
		return nil, "", bad("the manifest lists %s%s, which the archive does not hold (truncated or edited)", strings.Join(missing, ", "), more)
	}
	// Reading the gzip stream to its end checks its CRC and length; only
	// tar's zero padding may follow the end of the archive.
	if err := drainZeros(gz); err != nil {
		return nil, "", bad("%v", err)
	}
	return &m, hex.EncodeToString(msum[:]), nil
}

func isRegular(h *tar.Header) bool {
	return h.Typeflag == tar.TypeReg || h.Typeflag == '\x00'
}

// maxPadding bounds the zeros accepted after the end of the archive (tar
// writers pad to their record size, 10 KiB by default).
const maxPadding = 1 << 20

// drainZeros reads r to its end and fails on any non-zero byte or more than
// maxPadding bytes.
func drainZeros(r io.Reader) error {
	buf := make([]byte, 32<<10)
	total := 0
	for {
		n, err := r.Read(buf)
		if total += n; total > maxPadding {
			return fmt.Errorf("more than %d bytes after the end of the archive", maxPadding)
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("data after the end of the archive")
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("at the end of the archive: %v (truncated or corrupt)", err)
		}
	}
}

// hashReader hashes an entry as it is read and fails at its end when the
// SHA-256 differs from the manifest's.
type hashReader struct {
	r    io.Reader
	h    hash.Hash
	e    entry
	n    int64
	done bool
	err  error
}

func (v *hashReader) Read(p []byte) (int, error) {
	if v.done {
		return 0, io.EOF
	}
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	n, err = v.check(p, n, err)
	if err != nil && !errors.Is(err, io.EOF) {
		v.err = err
	}
	return n, err
}

func (v *hashReader) check(p []byte, n int, err error) (int, error) {
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		if v.n != v.e.size {
			return n, fmt.Errorf("entry %s: %d of %d bytes (truncated)", v.e.name, v.n, v.e.size)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.e.sha256 {
			return n, fmt.Errorf("entry %s: SHA-256 %s, the manifest says %s (changed or corrupt)", v.e.name, got[:16], v.e.sha256[:16])
		}
		v.done = true
		return n, io.EOF
	}
	if err != nil {
		return n, fmt.Errorf("entry %s: %w (truncated or corrupt)", v.e.name, err)
	}
	return n, nil
}
