package bundle

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
)

// Image modes of `stackgen bundle --images`.
const (
	ImagesLocal = "local" // the images stackgen builds (its own, models' build folders)
	ImagesAll   = "all"   // every image the compose file names
	ImagesNone  = "none"
)

// StackFiles lists the files a bundle of s carries, named relative to
// stack.yaml's folder: stack.yaml, every file of the rendered deploy folder,
// the models' build folders and model_base_path folders. smtp.password_file
// is a secret and never included. Every path must lie inside stack.yaml's
// folder and hold regular files only (the receiver's paths are the same
// relative paths); anything else is an error naming the field.
func StackFiles(s *stack.Stack, deployDir string) ([]Source, error) {
	root, err := filepath.Abs(s.Dir())
	if err != nil {
		return nil, err
	}
	secret := ""
	if s.SMTP.PasswordFile != "" {
		secret = abs(root, s.SMTP.PasswordFile)
	}
	seen := map[string]bool{}
	var out []Source
	// add walks p: cwd-relative for the stack file and deploy folder,
	// stack.yaml-relative for the fields (resolved by the callers).
	add := func(field, p string) error {
		p, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s: %s is outside the stack folder %s; move it beside stack.yaml (bundles keep the stack's relative paths)", field, p, root)
		}
		return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("%s: %w", field, err)
			}
			if path == secret {
				return nil // a secret: the receiver provides it
			}
			switch {
			case d.IsDir():
				return nil
			case !d.Type().IsRegular():
				return fmt.Errorf("%s: %s is %v, not a regular file: bundles carry regular files only (copy the target in its place)", field, path, d.Type())
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			name := StackPrefix + filepath.ToSlash(rel)
			if !seen[name] {
				seen[name] = true
				out = append(out, Source{Path: path, Name: name})
			}
			return nil
		})
	}
	if err := add("stack file", s.File); err != nil {
		return nil, err
	}
	if err := add("deploy folder", deployDir); err != nil {
		return nil, err
	}
	for i, m := range s.Models {
		if m.Build != "" {
			if err := add(fmt.Sprintf("models[%d].build", i), abs(root, m.Build)); err != nil {
				return nil, err
			}
		}
		if m.ModelBasePath != "" {
			if err := add(fmt.Sprintf("models[%d].model_base_path", i), abs(root, m.ModelBasePath)); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// abs resolves p relative to root.
func abs(root, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(root, p)
}

// EntryName is the entry name of path p (absolute or relative to the
// working directory) inside stack.yaml's folder.
func EntryName(s *stack.Stack, p string) (string, error) {
	root, err := filepath.Abs(s.Dir())
	if err != nil {
		return "", err
	}
	ap, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, ap)
	if err != nil {
		return "", err
	}
	return StackPrefix + filepath.ToSlash(rel), nil
}

// Secrets lists the secrets the rendered compose file reads (from the
// environment or from a file) without their values: what the receiver must
// provide before up.
func Secrets(s *stack.Stack, cf *runner.ComposeFile) []Secret {
	users := map[string][]string{}
	for _, name := range cf.ServiceNames() {
		for _, sec := range cf.Services[name].Secrets {
			users[sec] = append(users[sec], name)
		}
	}
	root, _ := filepath.Abs(s.Dir())
	var out []Secret
	for name, sc := range cf.Project.Secrets {
		why := fmt.Sprintf("compose secret %s, read by %s", name, strings.Join(users[name], ", "))
		switch {
		case sc.Environment != "":
			out = append(out, Secret{Env: sc.Environment, Field: secretField(sc.Environment), Why: why})
		case sc.File != "":
			rel, err := filepath.Rel(root, sc.File)
			if err != nil {
				rel = sc.File
			}
			out = append(out, Secret{File: filepath.ToSlash(rel), Field: "smtp.password_file", Why: why + "; write the SMTP password into this file beside stack.yaml"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Env+out[i].File < out[j].Env+out[j].File })
	return out
}

func secretField(env string) string {
	switch env {
	case stack.EnvGrafanaAdminPassword:
		return "grafana.admin_user"
	case stack.EnvSMTPPassword:
		return "smtp.user"
	}
	return ""
}

// MissingSecrets returns the environment secrets of m that getenv does not
// provide (file secrets are checked by up's validation once extracted).
func MissingSecrets(m *Manifest, getenv func(string) string) []Secret {
	var out []Secret
	for _, s := range m.Secrets {
		if s.Env != "" && getenv(s.Env) == "" {
			out = append(out, s)
		}
	}
	return out
}

// ImageRefs returns the images a bundle of the rendered compose file
// carries in mode (ImagesLocal, ImagesAll, ImagesNone), sorted:
// stackgenImage stands for the rendered stackgen:local; local means that
// and the images compose builds from the models' build folders (when built).
func ImageRefs(cf *runner.ComposeFile, mode, stackgenImage string) ([]string, error) {
	set := map[string]bool{}
	for _, name := range cf.ServiceNames() {
		svc := cf.Services[name]
		img := svc.Image
		switch {
		case img == "":
			continue
		case img == runner.DefaultStackgenImage && stackgenImage != "":
			img = stackgenImage
		case img == runner.DefaultStackgenImage:
		case mode == ImagesAll:
		case svc.HasBuild && mode == ImagesLocal:
		case svc.Role == stack.RoleExporter || strings.HasPrefix(img, "stackgen:"):
			// stack.yaml's stackgen_image: a locally built stackgen
		default:
			continue
		}
		set[img] = true
	}
	switch mode {
	case ImagesNone:
		return nil, nil
	case ImagesLocal, ImagesAll:
	default:
		return nil, fmt.Errorf("--images %q: use local, all or none", mode)
	}
	out := make([]string, 0, len(set))
	for img := range set {
		out = append(out, img)
	}
	sort.Strings(out)
	return out, nil
}

// Remove deletes spooled image tarballs.
func Remove(ims []ImageSource) {
	for _, im := range ims {
		os.Remove(im.Path)
	}
}

// RemoveVolumes deletes spooled volume copies.
func RemoveVolumes(vs []VolumeSource) {
	for _, v := range vs {
		os.Remove(v.Path)
	}
}
