// Package render runs every renderer over a validated stack and writes the
// result into the deploy folder: nothing is written unless every renderer
// succeeds, and files are replaced atomically.
package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/compose"
	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/drift"
	"github.com/stackgen/stackgen/grafana"
	"github.com/stackgen/stackgen/prometheus"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/tfserving"
	"github.com/stackgen/stackgen/version"
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
		{"drift", drift.Render},
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

// marker is the first bytes of a compose.yaml stackgen wrote. A non-empty
// deploy folder with neither a manifest nor this marker is not written into,
// so nothing a user wrote by hand is lost.
var marker = []byte("# Rendered by stackgen")

// Writer renders stacks into deploy folders.
type Writer struct {
	// Version is recorded in the manifest; zero means version.Get().
	Version version.Info
}

func (w Writer) version() version.Info {
	if w.Version == (version.Info{}) {
		return version.Get()
	}
	return w.Version
}

// Write renders s into outDir with the running stackgen's version; see
// Writer.Write. It returns the files written (without the manifest).
func Write(s *stack.Stack, outDir string) (Files, error) {
	res, err := Writer{}.Write(s, outDir)
	if err != nil {
		return nil, err
	}
	return res.Files, nil
}

// Apply is Writer{}.Write: it renders s into outDir and returns what it
// wrote, removed and kept, for the caller to tell the user.
func Apply(s *stack.Stack, outDir string) (*Result, error) { return Writer{}.Write(s, outDir) }

// Write renders everything for s first, writes it into a temporary folder
// beside outDir, then either moves that folder into place (new outDir) or
// renames each file into place (existing outDir, so bind mounts of running
// containers stay valid). It writes ManifestFile last.
//
// Files in outDir that this render does not write are left alone unless the
// previous manifest lists them with the content they still have (then they
// are obsolete output, e.g. a removed model's dashboard, and are removed).
// A folder rendered by an older stackgen (compose.yaml marker, no manifest)
// is accepted: only the files this render writes are replaced. Nothing is
// written when rendering fails or when a file render would write exists
// without being stackgen's (the error lists each such path).
//
// Grafana alert rules that earlier renders provisioned and this one drops
// accumulate in the manifest's PendingRuleDeletions and are written to
// alerting.GrafanaDeletedRulesPath (Grafana keeps provisioned rules
// otherwise) until MarkApplied clears them after a successful `up`.
func (w Writer) Write(s *stack.Stack, outDir string) (*Result, error) {
	outDir = filepath.Clean(outDir)
	files, err := Render(s, outDir)
	if err != nil {
		return nil, err
	}
	st, err := inspect(outDir)
	if err != nil {
		return nil, err
	}
	pending, err := pendingDeletions(st, outDir, files)
	if err != nil {
		return nil, err
	}
	if s.Grafana.IsEnabled() && len(pending) > 0 {
		data, err := alerting.DeleteRulesFile(pending)
		if err != nil {
			return nil, fmt.Errorf("render alerting: %w", err)
		}
		files[alerting.GrafanaDeletedRulesPath] = data
	}
	m, err := NewManifest(s, outDir, files, w.version())
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		m.PendingRuleDeletions = pending
	}
	return writeDeploy(outDir, st, files, m)
}

// pendingDeletions adds the Grafana rules the previous render provisioned
// and this one does not to the manifest's pending list, and drops the rules
// provisioned again.
func pendingDeletions(st folderState, outDir string, files Files) ([]string, error) {
	current, err := alerting.GrafanaRuleUIDs(files[alerting.GrafanaRulesPath])
	if err != nil {
		return nil, fmt.Errorf("render alerting: %w", err)
	}
	var pending, previous []string
	switch {
	case st.manifest != nil:
		pending = st.manifest.PendingRuleDeletions
		if st.manifest.AlertEngine == stack.EngineGrafana {
			previous = st.manifest.AlertRules
		}
	case st.exists:
		// A folder rendered before manifests: its rules file tells.
		data, err := os.ReadFile(filepath.Join(outDir, filepath.FromSlash(alerting.GrafanaRulesPath)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read previous %s: %w", alerting.GrafanaRulesPath, err)
		}
		if previous, err = alerting.GrafanaRuleUIDs(data); err != nil {
			return nil, fmt.Errorf("previous render in %s: %w", outDir, err)
		}
	}
	return alerting.PendingDeletions(pending, previous, current), nil
}

// WriteFiles writes files and dirs into outDir with Write's ownership rules
// and a manifest listing them (no stack information; pending rule deletions
// of an earlier manifest are carried over).
func WriteFiles(outDir string, files Files, dirs []string) error {
	outDir = filepath.Clean(outDir)
	st, err := inspect(outDir)
	if err != nil {
		return err
	}
	m := &Manifest{Format: ManifestFormat, Stackgen: version.Get(), StackgenVersion: version.Get().Short(), Services: []ManifestService{},
		Files: fileEntries(files), Dirs: treeDirs(files, dirs), AlertRules: []string{}}
	if st.manifest != nil {
		m.PendingRuleDeletions = st.manifest.PendingRuleDeletions
	}
	_, err = writeDeploy(outDir, st, files, m)
	return err
}
