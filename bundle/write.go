package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source is a file on disk to put into the bundle under Name.
type Source struct {
	// Path on disk.
	Path string
	// Name is the entry name, under StackPrefix.
	Name string
}

// ImageSource is an image tarball already spooled to disk (see SaveImage).
type ImageSource struct {
	// Path of the spooled tarball.
	Path string
	// Image describes it; Path, Size and SHA256 are the tarball's.
	Image Image
}

// Options is what Write puts into a bundle.
type Options struct {
	// Stack is the stack name.
	Stack string
	// StackFile is the stack file's entry name.
	StackFile string
	// DeployDir is the deploy folder's entry prefix.
	DeployDir string
	// Stackgen is the writing stackgen's version.
	Stackgen string
	// Files are the stack's files.
	Files []Source
	// Images are the spooled image tarballs.
	Images []ImageSource
	// Volumes are the spooled data volume copies.
	Volumes []VolumeSource
	// HelperImage is the image ID restoring the volumes (see Manifest).
	HelperImage string
	// Secrets the receiver must provide.
	Secrets []Secret
	// Progress, when set, gets one line per image or volume written.
	Progress io.Writer
	// Meter, when set, follows the bytes written (a terminal display).
	Meter Progress
}

// epoch is every entry's modification time: bundles do not depend on when
// or where their files were written.
var epoch = time.Unix(0, 0).UTC()

// Write streams a deterministic bundle to w: the manifest first, then the
// files and the images, each sorted by name, with fixed times, owners and
// modes, gzip without name or timestamp. The same inputs give the same
// bytes. Each file is hashed, then copied while hashed again; a file that
// changed in between fails the write.
func Write(w io.Writer, o Options) (*Manifest, error) {
	m := &Manifest{Format: Format, FormatVersion: FormatVersion, Stackgen: o.Stackgen, Stack: o.Stack,
		StackFile: o.StackFile, DeployDir: o.DeployDir, Files: []File{}, Images: []Image{}, Volumes: []Volume{}, Secrets: o.Secrets, HelperImage: o.HelperImage}
	if m.Secrets == nil {
		m.Secrets = []Secret{}
	}
	paths := map[string]string{}
	for _, s := range o.Files {
		st, err := os.Lstat(s.Path)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", s.Path, err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("bundle %s: not a regular file (%v): bundles carry regular files only", s.Path, st.Mode().Type())
		}
		size, sum, err := hashFile(s.Path)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", s.Path, err)
		}
		mode := int64(0o644)
		if st.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		m.Files = append(m.Files, File{Path: s.Name, Size: size, SHA256: sum, Mode: mode})
		paths[s.Name] = s.Path
	}
	for _, im := range o.Images {
		m.Images = append(m.Images, im.Image)
		paths[im.Image.Path] = im.Path
	}
	for _, v := range o.Volumes {
		m.Volumes = append(m.Volumes, v.Volume)
		paths[v.Volume.Path] = v.Path
	}
	sort.Slice(m.Volumes, func(i, j int) bool { return m.Volumes[i].Path < m.Volumes[j].Path })
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	sort.Slice(m.Images, func(i, j int) bool { return m.Images[i].Path < m.Images[j].Path })
	if _, err := m.index(); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	mj = append(mj, '\n')

	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	if err := writeEntry(tw, ManifestName, 0o644, int64(len(mj)), "", bytes.NewReader(mj)); err != nil {
		return nil, err
	}
	type item struct {
		name, sum  string
		size, mode int64
	}
	var items []item
	for _, f := range m.Files {
		items = append(items, item{f.Path, f.SHA256, f.Size, f.Mode})
	}
	for _, im := range m.Images {
		items = append(items, item{im.Path, im.SHA256, im.Size, 0o644})
	}
	for _, v := range m.Volumes {
		items = append(items, item{v.Path, v.SHA256, v.Size, 0o644})
	}
	if o.Meter != nil {
		o.Meter.Start("writing", m.TotalSize())
	}
	for _, it := range items {
		f, err := os.Open(paths[it.name])
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", paths[it.name], err)
		}
		var r io.Reader = f
		if o.Meter != nil {
			r = counter{f, o.Meter}
		}
		err = writeEntry(tw, it.name, it.mode, it.size, it.sum, r)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", paths[it.name], err)
		}
		if o.Progress != nil && o.Meter == nil && !strings.HasPrefix(it.name, StackPrefix) {
			fmt.Fprintf(o.Progress, "  + %s (%s)\n", it.name, HumanSize(it.size))
		}
	}
	if o.Meter != nil {
		o.Meter.Done()
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return m, nil
}

// writeEntry writes one regular file entry of size bytes from r, checking
// that r holds exactly size bytes with SHA-256 sum (unless sum is "").
func writeEntry(tw *tar.Writer, name string, mode, size int64, sum string, r io.Reader) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size,
		ModTime: epoch, Uid: 0, Gid: 0, Uname: "root", Gname: "root",
		Format: tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(tw, io.TeeReader(io.LimitReader(r, size), h))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("changed while bundling: %d bytes instead of %d", n, size)
	}
	if sum != "" && hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("changed while bundling (SHA-256 differs from the first read)")
	}
	return nil
}

// hashFile returns a file's size and hex SHA-256.
func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// WriteFile writes the bundle to out atomically: into a temporary file
// beside it, renamed over out only when complete (nothing is left on error).
func WriteFile(out string, o Options) (*Manifest, error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	defer os.Remove(tmp.Name())
	m, err := Write(tmp, o)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	return m, nil
}

// HumanSize formats n bytes as B, KB, MB or GB (powers of 1000).
func HumanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
