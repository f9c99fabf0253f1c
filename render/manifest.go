package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/compose"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/version"
)

// ManifestFile is the manifest's name in the deploy folder's root. It records
// what stackgen wrote there; render deletes only files it lists (and only
// while their content is what stackgen wrote), so every other file survives.
const ManifestFile = "stackgen-manifest.json"

// ManifestFormat is the manifest format this stackgen writes.
const ManifestFormat = 1

// Manifest describes a deploy folder as render left it. It holds names,
// paths and hashes only, never file contents, so no secret lands in it.
type Manifest struct {
	// Format is ManifestFormat.
	Format int `json:"format"`
	// Stack is stack.yaml's name (the Compose project).
	Stack string `json:"stack"`
	// Stackgen is the stackgen that rendered the folder.
	Stackgen version.Info `json:"stackgen"`
	// StackgenVersion is Stackgen.Short(): the same string as the
	// stackgen image tag and `status --output json`'s version.
	StackgenVersion string `json:"stackgen_version"`
	// Services are the Compose services, sorted by name.
	Services []ManifestService `json:"services"`
	// Files is every file render wrote, sorted by path (the manifest itself
	// is not listed).
	Files []ManifestEntry `json:"files"`
	// Dirs are the folders render made (sorted); emptied ones are removed
	// when a later render no longer needs them.
	Dirs []string `json:"dirs,omitempty"`
	// AlertEngine is the alerting engine AlertRules belong to (grafana or
	// prometheus).
	AlertEngine string `json:"alert_engine,omitempty"`
	// AlertRules are the provisioned alert rules: Grafana rule uids (engine
	// grafana) or Prometheus alert names (engine prometheus), sorted.
	AlertRules []string `json:"alert_rules"`
	// PendingRuleDeletions are Grafana rule uids that earlier renders dropped
	// and Grafana may still hold. They accumulate over renders and are listed
	// in alerting.GrafanaDeletedRulesPath until MarkApplied (after a
	// successful `up`) clears them.
	PendingRuleDeletions []string `json:"pending_rule_deletions,omitempty"`
	// Kept are paths in the folder that render did not write and left alone
	// (a trailing "/" marks a whole folder).
	Kept []string `json:"kept,omitempty"`
}

// ManifestService is one Compose service of the stack.
type ManifestService struct {
	Name string `json:"name"`
	// Role is one of the stack.Role* constants.
	Role string `json:"role"`
	// Model is the model a model server or exporter belongs to.
	Model string `json:"model,omitempty"`
}

// ManifestEntry is one file render wrote. (The brief named this type
// ManifestFile too, but that name is the constant above; Go allows one.)
type ManifestEntry struct {
	// Path is relative to the deploy folder, with forward slashes.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// File returns the entry for path p, or nil.
func (m *Manifest) File(p string) *ManifestEntry {
	if m == nil {
		return nil
	}
	i := sort.Search(len(m.Files), func(i int) bool { return m.Files[i].Path >= p })
	if i < len(m.Files) && m.Files[i].Path == p {
		return &m.Files[i]
	}
	return nil
}

// HasRole reports whether a service with the role is in the manifest.
func (m *Manifest) HasRole(role string) bool {
	for _, s := range m.Services {
		if s.Role == role {
			return true
		}
	}
	return false
}

// Marshal is the manifest as written: indented JSON ending in a newline.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", ManifestFile, err)
	}
	return append(b, '\n'), nil
}

// ReadManifest reads dir's manifest. When there is none, the error wraps
// os.ErrNotExist (errors.Is(err, fs.ErrNotExist)).
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w; fix it or remove it (render then keeps every file it does not write itself)", p, jsonLocated(data, err))
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %d, this stackgen reads format %d; render with a matching stackgen or remove the manifest", p, m.Format, ManifestFormat)
	}
	// Render removes listed files and emptied listed folders: a path
	// leaving the folder would let an edited manifest reach outside it.
	for i, f := range m.Files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return nil, fmt.Errorf("%s: files[%d].path %q is not inside the folder; fix or remove the manifest", p, i, f.Path)
		}
	}
	for i, d := range m.Dirs {
		if !filepath.IsLocal(filepath.FromSlash(d)) {
			return nil, fmt.Errorf("%s: dirs[%d] %q is not inside the folder; fix or remove the manifest", p, i, d)
		}
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return &m, nil
}

// jsonLocated adds the line and column to a JSON syntax or type error.
func jsonLocated(data []byte, err error) error {
	var off int64
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
		if typ.Field != "" {
			return fmt.Errorf("line %d: field %s: %w", lineOf(data, off), typ.Field, err)
		}
	default:
		return err
	}
	return fmt.Errorf("line %d: %w", lineOf(data, off), err)
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// MarkApplied records that `up` succeeded with dir's files: Grafana has
// applied the deleteRules file, so PendingRuleDeletions is cleared and
// alerting.GrafanaDeletedRulesPath removed. A stack without Grafana applied
// nothing, so its pending deletions stay for the next `up` with Grafana.
// Without a manifest the error wraps os.ErrNotExist.
func MarkApplied(dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if !m.HasRole(stack.RoleGrafana) {
		return nil
	}
	f := m.File(alerting.GrafanaDeletedRulesPath)
	if len(m.PendingRuleDeletions) == 0 && f == nil {
		return nil
	}
	m.PendingRuleDeletions = nil
	if f != nil {
		p := filepath.Join(dir, filepath.FromSlash(alerting.GrafanaDeletedRulesPath))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		files := m.Files[:0:0]
		for _, x := range m.Files {
			if x.Path != alerting.GrafanaDeletedRulesPath {
				files = append(files, x)
			}
		}
		m.Files = files
	}
	return writeManifest(dir, m)
}

// writeManifest replaces dir's manifest atomically (temporary file + rename).
func writeManifest(dir string, m *Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+ManifestFile+".tmp-")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// NewManifest describes the files render writes for s (files as returned by
// Write, including the deleteRules file), rendered by stackgen v.
// PendingRuleDeletions and Kept are left for the caller.
func NewManifest(s *stack.Stack, outDir string, files Files, v version.Info) (*Manifest, error) {
	m := &Manifest{
		Format:          ManifestFormat,
		Stack:           s.Name,
		Stackgen:        v,
		StackgenVersion: v.Short(),
		Services:        []ManifestService{},
		AlertEngine:     alertEngine(s),
		Dirs:            treeDirs(files, Dirs(s)),
	}
	m.Files = fileEntries(files)
	// The services come from the same compose-go project compose.yaml is
	// marshalled from, read by their role and model labels.
	p, err := compose.Project(s, outDir)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	for name, svc := range p.Services {
		m.Services = append(m.Services, ManifestService{Name: name, Role: svc.Labels[stack.LabelRole], Model: svc.Labels[stack.LabelModel]})
	}
	sort.Slice(m.Services, func(i, j int) bool { return m.Services[i].Name < m.Services[j].Name })
	var rules []string
	if m.AlertEngine == stack.EnginePrometheus {
		rules, err = alerting.PrometheusAlertNames(files[alerting.PrometheusRulesPath])
	} else {
		rules, err = alerting.GrafanaRuleUIDs(files[alerting.GrafanaRulesPath])
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m.AlertRules = rules
	return m, nil
}

func alertEngine(s *stack.Stack) string {
	if s.Alerting.Engine == "" {
		return stack.EngineGrafana
	}
	return s.Alerting.Engine
}

// fileEntries hashes files, sorted by path.
func fileEntries(files Files) []ManifestEntry {
	out := make([]ManifestEntry, 0, len(files))
	for _, p := range files.Paths() {
		out = append(out, ManifestEntry{Path: p, Size: int64(len(files[p])), SHA256: sha256Hex(files[p])})
	}
	return out
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// treeDirs is every folder holding a file of files, plus dirs and their
// parents, sorted.
func treeDirs(files Files, dirs []string) []string {
	set := map[string]bool{}
	add := func(d string) {
		for d != "." && d != "/" && d != "" && !set[d] {
			set[d] = true
			d = path.Dir(d)
		}
	}
	for p := range files {
		add(path.Dir(p))
	}
	for _, d := range dirs {
		add(path.Clean(d))
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
