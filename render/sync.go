package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stackgen/stackgen/compose"
)

// Result is what Writer.Write did to the deploy folder, for the user to be
// told.
type Result struct {
	// Dir is the deploy folder.
	Dir string
	// Files are the files written (ManifestFile aside).
	Files Files
	// Manifest is the manifest written.
	Manifest *Manifest
	// Removed are files an earlier render wrote, no longer rendered and
	// unchanged since: they were deleted.
	Removed []string
	// Kept are paths in the folder left alone, with the reason.
	Kept []KeptFile
	// Overwritten are files an earlier render wrote that were edited since
	// and have now been rendered again: the edits are gone (stack.yaml is
	// where changes belong).
	Overwritten []string
}

// KeptFile is a path render left alone, and why.
type KeptFile struct {
	// Path is relative to the deploy folder; a trailing "/" marks a folder.
	Path string
	// Reason is one of the Kept* constants.
	Reason string
}

// Reasons a file is kept.
const (
	// KeptNotOurs: the manifest does not list it; a user put it there.
	KeptNotOurs = "not written by stackgen"
	// KeptEdited: an earlier render wrote it, it was edited since, and it is
	// no longer rendered; it is the user's now.
	KeptEdited = "written by stackgen and edited since; no longer rendered, so left to you"
	// KeptUnlisted: the folder was rendered by a stackgen without manifests,
	// so whether it wrote this file is unknown.
	KeptUnlisted = "not rendered now; the folder has no manifest to tell whether stackgen wrote it"
)

// Warnings are one line per kept, removed or overwritten file, for a command
// to print.
func (r *Result) Warnings() []string {
	var out []string
	for _, k := range r.Kept {
		out = append(out, fmt.Sprintf("kept %s: %s", filepath.Join(r.Dir, k.Path), k.Reason))
	}
	for _, p := range r.Removed {
		out = append(out, fmt.Sprintf("removed %s: no longer rendered", filepath.Join(r.Dir, p)))
	}
	for _, p := range r.Overwritten {
		out = append(out, fmt.Sprintf("overwrote %s: it was edited after stackgen wrote it; change stack.yaml instead", filepath.Join(r.Dir, p)))
	}
	return out
}

// folderState is what a deploy folder holds before a render.
type folderState struct {
	exists   bool
	manifest *Manifest // nil: none (new, empty or pre-manifest folder)
}

// inspect reads outDir's manifest, refusing a non-empty folder that
// stackgen did not render (neither a manifest nor a compose.yaml of ours).
func inspect(outDir string) (folderState, error) {
	st, err := os.Stat(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		return folderState{}, nil
	}
	if err != nil {
		return folderState{}, fmt.Errorf("inspect %s: %w", outDir, err)
	}
	if !st.IsDir() {
		return folderState{}, fmt.Errorf("%s exists and is not a folder; choose another output with -o", outDir)
	}
	m, err := ReadManifest(outDir)
	if err == nil {
		return folderState{exists: true, manifest: m}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return folderState{}, err
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return folderState{}, fmt.Errorf("read %s: %w", outDir, err)
	}
	if len(entries) == 0 {
		return folderState{exists: true}, nil
	}
	head, err := os.ReadFile(filepath.Join(outDir, compose.FileName))
	if err != nil || !bytes.HasPrefix(head, marker) {
		return folderState{}, fmt.Errorf("%s exists and was not rendered by stackgen (no %s, no %s of ours in it); choose another output with -o or move it away", outDir, ManifestFile, compose.FileName)
	}
	return folderState{exists: true}, nil
}

// plan is what syncing a render into an existing folder will do.
type plan struct {
	remove      []string // obsolete unedited files
	kept        []KeptFile
	overwritten []string
	emptyDirs   []string // folders to remove once empty, deepest first
}

// makePlan decides, before anything is written, which existing files go and
// which stay, and fails listing every path render would write over something
// that is not stackgen's.
func makePlan(dir string, prev *Manifest, files Files, m *Manifest) (*plan, error) {
	pl := &plan{}
	var conflicts []string
	want := map[string]bool{}
	for _, d := range m.Dirs {
		want[d] = true
		if fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(d))); err == nil && !fi.IsDir() {
			conflicts = append(conflicts, fmt.Sprintf("%s is a file where stackgen needs a folder; move it away", filepath.Join(dir, d)))
		}
	}
	for _, p := range files.Paths() {
		target := filepath.Join(dir, filepath.FromSlash(p))
		fi, err := os.Lstat(target)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", target, err)
		}
		if fi.IsDir() {
			conflicts = append(conflicts, fmt.Sprintf("%s is a folder where stackgen writes a file; move it away", target))
			continue
		}
		if prev == nil {
			continue // pre-manifest folder: every rendered path is ours
		}
		sum, err := hashFile(target, fi)
		if err != nil {
			return nil, err
		}
		if old := prev.File(p); old != nil {
			if sum != old.SHA256 {
				pl.overwritten = append(pl.overwritten, p)
			}
		} else if sum != sha256Hex(files[p]) {
			conflicts = append(conflicts, fmt.Sprintf("%s was not written by stackgen (%s does not list it) and stackgen now renders that path; rename or move it, then render again", target, ManifestFile))
		}
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("nothing was written to %s:\n  %s", dir, strings.Join(conflicts, "\n  "))
	}

	prevDirs := map[string]bool{}
	if prev != nil {
		for _, d := range treeDirs(nil, prev.Dirs) {
			prevDirs[d] = true
		}
		for _, f := range prev.Files {
			for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
				prevDirs[d] = true
			}
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".", rel == ManifestFile, strings.HasPrefix(rel, "."+ManifestFile+".tmp-"):
			return nil
		case d.IsDir():
			if want[rel] || prevDirs[rel] {
				return nil
			}
			pl.kept = append(pl.kept, KeptFile{Path: rel + "/", Reason: reasonNotOurs(prev)})
			return filepath.SkipDir
		}
		if _, rendered := files[rel]; rendered {
			return nil
		}
		old := prev.File(rel)
		if old == nil {
			pl.kept = append(pl.kept, KeptFile{Path: rel, Reason: reasonNotOurs(prev)})
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum, err := hashFile(p, fi)
		if err != nil {
			return err
		}
		if sum != old.SHA256 {
			pl.kept = append(pl.kept, KeptFile{Path: rel, Reason: KeptEdited})
			return nil
		}
		pl.remove = append(pl.remove, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list files in %s: %w", dir, err)
	}
	for d := range prevDirs {
		if !want[d] {
			pl.emptyDirs = append(pl.emptyDirs, d)
		}
	}
	sort.Slice(pl.emptyDirs, func(i, j int) bool {
		a, b := strings.Count(pl.emptyDirs[i], "/"), strings.Count(pl.emptyDirs[j], "/")
		if a != b {
			return a > b
		}
		return pl.emptyDirs[i] < pl.emptyDirs[j]
	})
	return pl, nil
}

func reasonNotOurs(prev *Manifest) string {
	if prev == nil {
		return KeptUnlisted
	}
	return KeptNotOurs
}

// hashFile is the sha256 of a regular file; anything else (a symlink put in
// place of a rendered file) hashes to "", which matches no manifest entry.
func hashFile(p string, fi fs.FileInfo) (string, error) {
	if !fi.Mode().IsRegular() {
		return "", nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return sha256Hex(data), nil
}

// writeDeploy writes files, the folders of m.Dirs and the manifest m into
// outDir (described by st).
func writeDeploy(outDir string, st folderState, files Files, m *Manifest) (*Result, error) {
	res := &Result{Dir: outDir, Files: files, Manifest: m}
	var pl *plan
	if st.exists {
		var err error
		if pl, err = makePlan(outDir, st.manifest, files, m); err != nil {
			return nil, err
		}
		res.Kept, res.Removed, res.Overwritten = pl.kept, pl.remove, pl.overwritten
		for _, k := range pl.kept {
			m.Kept = append(m.Kept, k.Path)
		}
	}
	manifest, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(outDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(outDir)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", tmp, err)
	}
	for _, d := range m.Dirs {
		if err := os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(d)), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, p := range files.Paths() {
		if err := writeFile(filepath.Join(tmp, filepath.FromSlash(p)), files[p]); err != nil {
			return nil, err
		}
	}
	if err := writeFile(filepath.Join(tmp, ManifestFile), manifest); err != nil {
		return nil, err
	}
	if !st.exists {
		if err := os.Rename(tmp, outDir); err != nil {
			return nil, fmt.Errorf("move rendered files into %s: %w", outDir, err)
		}
		return res, nil
	}
	if err := syncInto(tmp, outDir, files, m.Dirs, pl); err != nil {
		return nil, err
	}
	return res, nil
}

// syncInto renames each rendered file from src into dst (atomic per file;
// folders keep their identity, so bind mounts stay valid), removes what pl
// says, and renames the manifest into place last.
func syncInto(src, dst string, files Files, dirs []string, pl *plan) error {
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dst, filepath.FromSlash(d)), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, p := range files.Paths() {
		rel := filepath.FromSlash(p)
		if unchanged(filepath.Join(dst, rel), files[p]) {
			continue
		}
		if err := os.Rename(filepath.Join(src, rel), filepath.Join(dst, rel)); err != nil {
			return fmt.Errorf("replace files in %s: %w", dst, err)
		}
	}
	for _, p := range pl.remove {
		if err := os.Remove(filepath.Join(dst, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove obsolete %s: %w", p, err)
		}
	}
	for _, d := range pl.emptyDirs {
		full := filepath.Join(dst, filepath.FromSlash(d))
		if entries, err := os.ReadDir(full); err == nil && len(entries) == 0 {
			if err := os.Remove(full); err != nil {
				return fmt.Errorf("remove empty %s: %w", full, err)
			}
		}
	}
	if err := os.Rename(filepath.Join(src, ManifestFile), filepath.Join(dst, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest in %s: %w", dst, err)
	}
	return nil
}

// unchanged reports whether path is a regular file with writeFile's mode
// holding exactly data. Such a file is left in place rather than replaced by
// an identical copy: a file bind-mounted on its own (a model's baseline) is
// pinned by inode, and a new inode would make the runner recreate the
// container on every `stackgen up` (runner.MountsLabel).
func unchanged(path string, data []byte) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 || fi.Size() != int64(len(data)) {
		return false
	}
	old, err := os.ReadFile(path)
	return err == nil && bytes.Equal(old, data)
}

// writeFile writes data to path with mode 0644.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// WriteFile's mode is filtered by the umask; containers running as
	// nobody must read these files.
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}
