// Package bundle writes and reads stackgen bundles: one deterministic
// .stackgen.tgz holding stack.yaml, the rendered deploy folder, the local
// files the stack refers to and the images it runs (as `docker save` writes
// them), described by a manifest with every entry's size and SHA-256.
//
// Reading is two streaming passes over the archive: Verify checks every
// entry against the manifest without writing anything; Extract reads it
// again, checking again while it writes files and feeds images to a loader.
// Neither pass holds the archive (or an entry) in memory.
package bundle

import (
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Format identifies a stackgen bundle manifest.
const Format = "stackgen-bundle"

// FormatVersion is the manifest format version this package writes and reads.
const FormatVersion = 1

// ManifestName is the archive's first entry: the JSON manifest.
const ManifestName = "stackgen-bundle.json"

// MarkerName is written into an extraction folder; it holds the manifest's
// SHA-256, so a later up --bundle recognises its own earlier extraction.
const MarkerName = ".stackgen-bundle"

// Entry name prefixes: stack files (relative to stack.yaml's folder) and
// image tarballs.
const (
	StackPrefix = "stack/"
	ImagePrefix = "images/"
)

// maxManifestSize bounds the manifest read into memory.
const maxManifestSize = 8 << 20

// Manifest describes a bundle. It is the archive's first entry.
type Manifest struct {
	// Format is always "stackgen-bundle".
	Format string `json:"format"`
	// FormatVersion is the manifest format version (FormatVersion).
	FormatVersion int `json:"format_version"`
	// Stackgen is the version of the stackgen that wrote the bundle.
	Stackgen string `json:"stackgen"`
	// Stack is the stack name (the default extraction folder).
	Stack string `json:"stack"`
	// StackFile is the stack file's entry name (e.g. "stack/stack.yaml").
	StackFile string `json:"stack_file"`
	// DeployDir is the rendered deploy folder's entry prefix (e.g. "stack/deploy").
	DeployDir string `json:"deploy_dir"`
	// Files are the stack files, sorted by path.
	Files []File `json:"files"`
	// Images are the image tarballs, sorted by path.
	Images []Image `json:"images"`
	// Volumes are data volume copies (bundle --data), sorted by path.
	Volumes []Volume `json:"volumes"`
	// HelperImage is the ID of the bundle's image whose containers (created,
	// never started) restore the volumes with docker cp: stackgen's own,
	// which has the passwd entries docker cp -a looks owners up in.
	HelperImage string `json:"helper_image,omitempty"`
	// Secrets are what the receiver must provide; never their values.
	Secrets []Secret `json:"secrets"`
}

// File is one regular file of the stack.
type File struct {
	// Path is the entry name, under StackPrefix.
	Path string `json:"path"`
	// Size in bytes.
	Size int64 `json:"size"`
	// SHA256 of the content, hex.
	SHA256 string `json:"sha256"`
	// Mode is 0644 or 0755.
	Mode int64 `json:"mode"`
}

// Image is one image tarball as `docker save` wrote it.
type Image struct {
	// Path is the entry name, under ImagePrefix.
	Path string `json:"path"`
	// Size in bytes.
	Size int64 `json:"size"`
	// SHA256 of the tarball, hex.
	SHA256 string `json:"sha256"`
	// ID is the image ID (sha256:…), the same on every engine.
	ID string `json:"id"`
	// Tags are the names the tarball carries (e.g. stackgen/prometheus:2.42.0).
	Tags []string `json:"tags"`
}

// Secret is a secret the receiver must provide before up.
type Secret struct {
	// Env is the environment variable holding it (or "").
	Env string `json:"env,omitempty"`
	// File is the file holding it, relative to stack.yaml (or "").
	File string `json:"file,omitempty"`
	// Field is the stack.yaml field that needs it.
	Field string `json:"field"`
	// Why says what uses it.
	Why string `json:"why"`
}

// entry is what Verify and Extract know of each archive entry.
type entry struct {
	name   string
	size   int64
	sha256 string
	mode   int64
	image  *Image
	volume *Volume
}

// index validates the manifest and returns its entries by name.
func (m *Manifest) index() (map[string]entry, error) {
	if m.Format != Format {
		return nil, fmt.Errorf("manifest format is %q, not %q: not a stackgen bundle", m.Format, Format)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("bundle format version %d; this stackgen reads version %d (use the stackgen that wrote it: %s)", m.FormatVersion, FormatVersion, m.Stackgen)
	}
	if m.Stack == "" {
		return nil, fmt.Errorf("manifest has no stack name")
	}
	idx := map[string]entry{}
	add := func(e entry, prefix string) error {
		if err := checkName(e.name, prefix); err != nil {
			return err
		}
		if e.size < 0 {
			return fmt.Errorf("%s: negative size %d", e.name, e.size)
		}
		if b, err := hex.DecodeString(e.sha256); err != nil || len(b) != 32 {
			return fmt.Errorf("%s: sha256 %q is not 64 hex digits", e.name, e.sha256)
		}
		if _, dup := idx[e.name]; dup {
			return fmt.Errorf("%s is listed twice", e.name)
		}
		if e.name == ManifestName {
			return fmt.Errorf("%s may not list itself", e.name)
		}
		idx[e.name] = e
		return nil
	}
	for _, f := range m.Files {
		if f.Mode != 0o644 && f.Mode != 0o755 {
			return nil, fmt.Errorf("%s: mode %o (bundles hold 0644 and 0755 files only)", f.Path, f.Mode)
		}
		if err := add(entry{name: f.Path, size: f.Size, sha256: f.SHA256, mode: f.Mode}, StackPrefix); err != nil {
			return nil, err
		}
	}
	for i := range m.Images {
		im := &m.Images[i]
		if !validImageID(im.ID) {
			return nil, fmt.Errorf("%s: image ID %q is not sha256:<64 hex digits>", im.Path, im.ID)
		}
		if err := add(entry{name: im.Path, size: im.Size, sha256: im.SHA256, image: im}, ImagePrefix); err != nil {
			return nil, err
		}
	}
	for i := range m.Volumes {
		v := &m.Volumes[i]
		if err := checkVolume(*v, m.Stack); err != nil {
			return nil, err
		}
		if e, ok := idx[ImagePrefix+strings.TrimPrefix(m.HelperImage, "sha256:")+".tar"]; !ok || e.image == nil || e.image.ID != m.HelperImage {
			return nil, fmt.Errorf("%s: helper_image %q is not an image of the bundle (volumes are restored with it)", v.Path, m.HelperImage)
		}
		if err := add(entry{name: v.Path, size: v.Size, sha256: v.SHA256, volume: v}, VolumePrefix); err != nil {
			return nil, err
		}
	}
	if e, ok := idx[m.StackFile]; !ok || e.image != nil || e.volume != nil {
		return nil, fmt.Errorf("stack_file %q is not one of the bundle's files", m.StackFile)
	}
	// No file may also be a folder of another ("stack/a" and "stack/a/b").
	names := make([]string, 0, len(idx))
	for n := range idx {
		names = append(names, n)
	}
	sort.Strings(names)
	for i := 1; i < len(names); i++ {
		if strings.HasPrefix(names[i], names[i-1]+"/") {
			return nil, fmt.Errorf("%s is a file and a folder (%s)", names[i-1], names[i])
		}
	}
	return idx, nil
}

// checkName accepts clean, relative, slash-separated names under prefix:
// no "..", no absolute paths, no empty or "." elements, no backslashes.
func checkName(name, prefix string) error {
	switch {
	case !strings.HasPrefix(name, prefix) || len(name) == len(prefix):
		return fmt.Errorf("entry %q is not under %s", name, prefix)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("entry %q is an absolute path", name)
	case strings.ContainsAny(name, "\\\x00"):
		return fmt.Errorf("entry %q holds a backslash or NUL", name)
	case path.Clean(name) != name:
		return fmt.Errorf("entry %q is not a clean path", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." || el == "." || el == "" {
			return fmt.Errorf("entry %q leaves its folder (path traversal)", name)
		}
	}
	return nil
}

func validImageID(id string) bool {
	h, ok := strings.CutPrefix(id, "sha256:")
	if !ok {
		return false
	}
	b, err := hex.DecodeString(h)
	return err == nil && len(b) == 32
}

// TotalSize is the bytes of every file and image in the bundle.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	for _, im := range m.Images {
		n += im.Size
	}
	for _, v := range m.Volumes {
		n += v.Size
	}
	return n
}
