package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ExtractOptions configures Extract.
type ExtractOptions struct {
	// Dir is the folder to extract the stack files into.
	Dir string
	// ManifestSHA256 is what Verify returned: the archive must not have
	// changed since.
	ManifestSHA256 string
	// Loader loads the images (nil: images are checked but not loaded).
	Loader Loader
	// Restorer restores the data volumes (nil: checked, not restored).
	Restorer Restorer
	// Progress, when set, gets a line per volume restored or kept.
	Progress io.Writer
	// Meter, when set, follows the bytes read (a terminal display).
	Meter Progress
}

// CheckTarget reports whether dir can receive the bundle whose manifest has
// SHA-256 sum: it is absent or empty (reuse false), or an earlier extraction
// of the same bundle (reuse true: its files are rewritten in place, other
// files are kept). Any other folder is refused.
func CheckTarget(dir, sum string) (reuse bool, err error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("extraction folder %s: %w", dir, err)
	}
	if len(ents) == 0 {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, MarkerName))
	if err == nil && strings.TrimSpace(string(b)) == sum {
		return true, nil
	}
	return false, fmt.Errorf("extraction folder %s is not empty and is not an extraction of this bundle; choose another folder with -o DIR, or remove it", dir)
}

// Extract reads the bundle at path a second time, checking every entry
// again, and writes the stack files under opts.Dir (the StackPrefix
// removed) and hands the images to opts.Loader. A fresh folder is written
// beside opts.Dir and renamed into place once complete; an earlier
// extraction of the same bundle is updated file by file (each written and
// renamed). Writes go through os.Root, so no symlink can lead outside the
// folder. Call Verify first: nothing should be loaded from an archive that
// was not verified whole.
func Extract(ctx context.Context, path string, o ExtractOptions) (*Manifest, error) {
	reuse, err := CheckTarget(o.Dir, o.ManifestSHA256)
	if err != nil {
		return nil, err
	}
	target := o.Dir
	if !reuse {
		if err := os.MkdirAll(filepath.Dir(o.Dir), 0o755); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		if target, err = os.MkdirTemp(filepath.Dir(o.Dir), "."+filepath.Base(o.Dir)+".extract-"); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		defer os.RemoveAll(target) // gone once renamed
		if err := os.Chmod(target, 0o755); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
	}
	root, err := os.OpenRoot(target)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	m, sum, err := scan(path, o.Meter, "extracting", func(m0 *Manifest, e entry, r io.Reader) error {
		if e.volume != nil {
			if o.Restorer == nil {
				return nil
			}
			// The archive's images come before its volumes: the helper
			// image is loaded by now.
			done, err := o.Restorer.Restore(ctx, *e.volume, m0.HelperImage, r)
			if err != nil {
				return fmt.Errorf("restore volume %s: %w", e.volume.Name, err)
			}
			if o.Progress != nil {
				if o.Meter != nil {
					fmt.Fprint(o.Progress, "\r\033[K")
				}
				if done {
					fmt.Fprintf(o.Progress, "  restored volume %s (%s)\n", e.volume.Name, HumanSize(e.size))
				} else {
					fmt.Fprintf(o.Progress, "  kept volume %s: it exists already (`stackgen down --volumes` removes it, then up --bundle restores the bundle's data)\n", e.volume.Name)
				}
			}
			return nil
		}
		if e.image != nil {
			if o.Loader == nil {
				return nil
			}
			if err := o.Loader.Load(ctx, *e.image, r); err != nil {
				return fmt.Errorf("load image %s: %w", strings.Join(e.image.Tags, ", "), err)
			}
			return nil
		}
		return writeRooted(root, strings.TrimPrefix(e.name, StackPrefix), e.mode, r)
	})
	if err != nil {
		return nil, err
	}
	if sum != o.ManifestSHA256 {
		return nil, &InvalidError{File: path, Err: fmt.Errorf("the archive changed since it was verified")}
	}
	if err := writeRooted(root, MarkerName, 0o644, strings.NewReader(sum+"\n")); err != nil {
		return nil, err
	}
	if !reuse {
		if err := os.Remove(o.Dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("extract: %w", err)
		}
		if err := os.Rename(target, o.Dir); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
	}
	return m, nil
}

// writeRooted writes name (slash-separated, relative) inside root through a
// temporary file renamed into place.
func writeRooted(root *os.Root, name string, mode int64, r io.Reader) error {
	name = path.Clean(name)
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
	}
	tmp := name + ".stackgen-tmp"
	f, err := root.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fs.FileMode(mode))
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Chmod(tmp, fs.FileMode(mode))
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("extract %s: %w", name, err)
	}
	return nil
}
