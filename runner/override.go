package runner

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"gopkg.in/yaml.v3"
)

// MountsLabel is the label the runner adds to every service with bind mounts
// (through a compose override file) so that compose recreates the service
// when its mounts went stale; see mountsHash.
const MountsLabel = "org.stackgen.mounts"

// SecretsLabel is the label the runner adds to every service using secrets:
// a keyed hash of their current values, so that compose recreates the
// service when a value changes (compose copies environment secrets into the
// container when it creates it and never again).
const SecretsLabel = "io.stackgen.secrets"

// secretKeyFile holds the random key of the secrets label's HMAC (mode
// 0600), so the label reveals nothing about a secret. It lives in the user's
// cache folder, not the deploy folder, which render replaces.
const secretKeyFile = "secrets-label.key"

// overrideYAML is the override file for compose: per service the mounts
// label, the secrets label and the content-tagged stackgen image; nil when
// nothing needs overriding.
func (p *Project) overrideYAML() ([]byte, error) {
	services := map[string]any{}
	var key []byte
	for _, name := range p.File.ServiceNames() {
		s := p.File.Services[name]
		o := map[string]any{}
		labels := map[string]string{}
		if h := mountsHash(s.Binds, !reloadable(s.Role)); h != "" {
			labels[MountsLabel] = h
		}
		if len(s.Secrets) > 0 {
			if key == nil {
				var err error
				if key, err = secretsKey(p.Dir); err != nil {
					return nil, err
				}
			}
			labels[SecretsLabel] = p.secretsHash(key, s.Secrets)
		}
		if len(labels) > 0 {
			o["labels"] = labels
		}
		if p.StackgenImage != "" && s.Image == DefaultStackgenImage {
			o["image"] = p.StackgenImage
		}
		if len(o) > 0 {
			services[name] = o
		}
	}
	if len(services) == 0 {
		return nil, nil
	}
	out, err := yaml.Marshal(map[string]any{"services": services})
	if err != nil {
		return nil, fmt.Errorf("compose override file: %w", err)
	}
	return out, nil
}

// secretsKey reads (or creates) the random HMAC key: in the user's cache
// folder (stackgen/), else in dir.
func secretsKey(dir string) ([]byte, error) {
	if c, err := os.UserCacheDir(); err == nil {
		if err := os.MkdirAll(filepath.Join(c, "stackgen"), 0o700); err == nil {
			dir = filepath.Join(c, "stackgen")
		}
	}
	path := filepath.Join(dir, secretKeyFile)
	if k, err := os.ReadFile(path); err == nil && len(k) >= 32 {
		return k, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	if err := os.WriteFile(path, k, 0o600); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return k, nil
}

// secretsHash is an HMAC of the current values of the named secrets: the
// environment variable or file compose-go resolved for each.
func (p *Project) secretsHash(key []byte, names []string) string {
	m := hmac.New(sha256.New, key)
	for _, n := range names {
		fmt.Fprintf(m, "%s\x00", n)
		if p.File.Project == nil {
			continue
		}
		sc, ok := p.File.Project.Secrets[n]
		if !ok {
			continue
		}
		switch {
		case sc.Environment != "":
			v, _ := os.LookupEnv(sc.Environment)
			fmt.Fprintf(m, "env\x00%s\x00", v)
		case sc.File != "":
			data, _ := os.ReadFile(sc.File)
			fmt.Fprintf(m, "file\x00%s\x00", data)
		case sc.Content != "":
			fmt.Fprintf(m, "content\x00%s\x00", sc.Content)
		}
	}
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// mountsHash identifies the bind-mount sources of a service by path and
// inode. A running container keeps the inode it mounted: when a source is
// replaced rather than rewritten in place (a directory swapped by rename, a
// single mounted file saved by rename), the container goes on seeing the old
// copy and only recreating it helps. The hash changes exactly then, and
// compose recreates the service. (Files replaced inside a mounted directory
// are seen by the container; only the mount root's inode matters.) With
// content true every file's contents under the sources are hashed too, for
// services that cannot reload their configuration in place.
func mountsHash(binds []string, content bool) string {
	if len(binds) == 0 {
		return ""
	}
	h := sha256.New()
	for _, b := range binds {
		fi, err := os.Stat(b)
		if err != nil {
			fmt.Fprintf(h, "%s missing\n", b)
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			fmt.Fprintf(h, "%s %d %d\n", b, st.Dev, st.Ino)
		}
		if !content {
			continue
		}
		_ = filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if data, err := os.ReadFile(p); err == nil {
				sum := sha256.Sum256(data)
				fmt.Fprintf(h, "%s %x\n", p, sum)
			}
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
