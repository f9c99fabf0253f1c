// Package render runs every renderer over a validated stack and writes the
// result into the deploy folder: nothing is written unless every renderer
// succeeds, and files are replaced atomically.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/compose"
	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/grafana"
	"github.com/stackgen/stackgen/prometheus"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/tfserving"
)

// Files maps paths relative to the deploy folder to their content.
type Files map[string][]byte

// Paths returns the file paths in sorted order.
func (f Files) Paths() []string {
	out := make([]string, 0, len(f))
	for p := range f {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// renderer produces some of a stack's files. Adding a target (say Kubernetes)
// means adding its package and one line to renderers.
type renderer struct {
	name string
	fn   func(s *stack.Stack, outDir string) (map[string][]byte, error)
}

func renderers() []renderer {
	return []renderer{
		{"compose", compose.Render},
		{"prometheus", func(s *stack.Stack, _ string) (map[string][]byte, error) { return prometheus.Render(s) }},
		{"grafana", func(s *stack.Stack, _ string) (map[string][]byte, error) { return grafana.Render(s) }},
		{"dashboards", func(s *stack.Stack, _ string) (map[string][]byte, error) {
			if !s.Grafana.IsEnabled() {
				return nil, nil
			}
			return dashboards.Build(s)
		}},
		{"alerting", func(s *stack.Stack, _ string) (map[string][]byte, error) { return alerting.Render(s) }},
		{"tfserving", func(s *stack.Stack, _ string) (map[string][]byte, error) { return tfserving.Render(s) }},
	}
}

// Dirs are the folders always present in a deploy folder (some mounted into
// containers even when empty).
func Dirs(s *stack.Stack) []string {
	d := []string{"prometheus", "prometheus/rules"}
	if s.Grafana.IsEnabled() {
		d = append(d, "grafana/dashboards", "grafana/provisioning/alerting",
			"grafana/provisioning/dashboards", "grafana/provisioning/datasources")
	}
	if s.AlertmanagerEnabled() {
		d = append(d, "alertmanager")
	}
	return d
}

// Render runs every renderer for s, writing into outDir, and returns the files
// without writing them.
func Render(s *stack.Stack, outDir string) (Files, error) {
	out := Files{}
	for _, r := range renderers() {
		files, err := r.fn(s, outDir)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", r.name, err)
		}
		for p, data := range files {
			if _, dup := out[p]; dup {
				return nil, fmt.Errorf("render %s: %s is rendered twice", r.name, p)
			}
			out[p] = data
		}
	}
	return out, nil
}

// marker is the first bytes of a compose.yaml stackgen wrote; a deploy folder
// without it is not replaced, so nothing a user wrote by hand is lost.
var marker = []byte("# Rendered by stackgen")

// Write renders s into outDir: it renders everything first, writes it to a
// temporary folder beside outDir, then either moves that folder into place
// (new outDir) or replaces each file atomically and removes files no longer
// rendered (existing outDir, so bind mounts of running containers stay valid).
// Grafana alert rules that the previous render in outDir provisioned and this
// one drops are listed in a deleteRules file, since Grafana keeps rules
// otherwise; that file lasts until the next render, so run `up` in between.
func Write(s *stack.Stack, outDir string) (Files, error) {
	files, err := Render(s, outDir)
	if err != nil {
		return nil, err
	}
	if s.Grafana.IsEnabled() {
		// Rules the previous render provisioned and this one drops must be
		// deleted explicitly, or Grafana keeps them (see alerting.DeletedRules).
		previous, _ := os.ReadFile(filepath.Join(outDir, alerting.GrafanaRulesPath))
		deleted, err := alerting.DeletedRules(previous, files[alerting.GrafanaRulesPath])
		if err != nil {
			return nil, fmt.Errorf("render alerting: %w", err)
		}
		for p, data := range deleted {
			files[p] = data
		}
	}
	if err := WriteFiles(outDir, files, Dirs(s)); err != nil {
		return nil, err
	}
	return files, nil
}

// WriteFiles writes files and dirs into outDir as Write does.
func WriteFiles(outDir string, files Files, dirs []string) error {
	outDir = filepath.Clean(outDir)
	existing, err := checkOwned(outDir)
	if err != nil {
		return err
	}
	parent := filepath.Dir(outDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(outDir)+".tmp-")
	if err != nil {
		return fmt.Errorf("create temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, p := range files.Paths() {
		if err := writeFile(filepath.Join(tmp, p), files[p]); err != nil {
			return err
		}
	}
	if !existing {
		if err := os.Rename(tmp, outDir); err != nil {
			return fmt.Errorf("move rendered files into %s: %w", outDir, err)
		}
		return nil
	}
	return syncInto(tmp, outDir)
}

// checkOwned reports whether outDir exists, refusing a non-empty folder that
// stackgen did not render.
func checkOwned(outDir string) (bool, error) {
	st, err := os.Stat(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", outDir, err)
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s exists and is not a folder; choose another output with -o", outDir)
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", outDir, err)
	}
	if len(entries) == 0 {
		return true, nil
	}
	head, err := os.ReadFile(filepath.Join(outDir, compose.FileName))
	if err != nil || !bytes.HasPrefix(head, marker) {
		return false, fmt.Errorf("%s exists and was not rendered by stackgen (no %s of ours in it); choose another output with -o or move it away", outDir, compose.FileName)
	}
	return true, nil
}

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

// syncInto makes dst hold exactly src's files: each file renamed into place
// (atomic), then files and folders dst has but src lacks removed.
func syncInto(src, dst string) error {
	want := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want[rel] = true
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if st, err := os.Stat(target); err == nil && !st.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			return os.MkdirAll(target, 0o755)
		}
		if st, err := os.Stat(target); err == nil && st.IsDir() {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		return os.Rename(p, target)
	})
	if err != nil {
		return fmt.Errorf("replace files in %s: %w", dst, err)
	}
	var stale []string
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if !want[rel] && !strings.HasPrefix(rel, ".") {
			stale = append(stale, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list stale files in %s: %w", dst, err)
	}
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("remove stale %s: %w", p, err)
		}
	}
	return nil
}
