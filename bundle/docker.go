package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Docker runs the docker CLI for images: inspect, save, load.
type Docker struct {
	// Path of the docker CLI.
	Path string
}

// imageInspect is the part of `docker image inspect`'s JSON used here.
type imageInspect struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	Size     int64    `json:"Size"`
}

// Inspect returns the image ID of ref; ok is false when the engine has no such image.
func (d Docker) Inspect(ctx context.Context, ref string) (id string, ok bool, err error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, d.Path, "image", "inspect", ref)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No such image") {
			return "", false, nil
		}
		return "", false, fmt.Errorf("docker image inspect %s: %v: %s", ref, err, strings.TrimSpace(stderr.String()))
	}
	var imgs []imageInspect
	if err := json.Unmarshal(out, &imgs); err != nil || len(imgs) != 1 {
		return "", false, fmt.Errorf("docker image inspect %s: unexpected answer (%v)", ref, err)
	}
	return imgs[0].ID, true, nil
}

// Save spools `docker save refs...` (refs all naming image id) into a
// temporary file in dir, hashing while it writes: a tar header needs the
// size first, and the archive is never held in memory. The caller removes
// the returned ImageSource's Path.
func (d Docker) Save(ctx context.Context, dir, id string, refs []string) (ImageSource, error) {
	refs = append([]string(nil), refs...)
	sort.Strings(refs)
	path, size, sum, err := d.spool(ctx, dir, "stackgen-image-*.tar", append([]string{"save"}, refs...)...)
	if err != nil {
		return ImageSource{}, fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	hexID := strings.TrimPrefix(id, "sha256:")
	return ImageSource{Path: path, Image: Image{
		Path: ImagePrefix + hexID + ".tar", Size: size, SHA256: sum, ID: id, Tags: refs,
	}}, nil
}

// spool runs `docker args...` with its standard output written into a new
// temporary file in dir (named after pattern) and hashed on the way, and
// returns the file's path, size and sha256: a tar header needs the size
// first, and nothing is held in memory. On error the file is removed.
func (d Docker) spool(ctx context.Context, dir, pattern string, args ...string) (path string, size int64, sum string, err error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", 0, "", err
	}
	h := sha256.New()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, d.Path, args...)
	cmd.Stdout = io.MultiWriter(f, h)
	cmd.Stderr = &stderr
	err = cmd.Run()
	st, serr := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", 0, "", fmt.Errorf("%v %s", err, strings.TrimSpace(stderr.String()))
	}
	return f.Name(), st.Size(), hex.EncodeToString(h.Sum(nil)), nil
}

// Load implements Loader with `docker load`: an image whose ID and tags are
// all present already is skipped; otherwise the tarball is streamed into
// docker load, which is killed (before its input ends) when the bytes fail
// their check. The tags are then checked to name the manifest's image ID.
func (d Docker) Load(ctx context.Context, im Image, r io.Reader) error {
	if d.present(ctx, im) {
		return nil
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(lctx, d.Path, "load")
	cmd.Stdout = &out
	cmd.Stderr = &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("docker load: %w", err)
	}
	if _, err := io.Copy(stdin, r); err != nil {
		cancel() // kill docker load before it sees the end of its input
		cmd.Wait()
		return err
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker load: %v: %s", err, strings.TrimSpace(out.String()))
	}
	for _, ref := range im.Tags {
		id, ok, err := d.Inspect(ctx, ref)
		if err != nil {
			return err
		}
		if !ok || id != im.ID {
			return fmt.Errorf("after docker load, %s is %q, not the bundle's %s", ref, id, im.ID)
		}
	}
	return nil
}

// present reports whether the image and every tag of it are in the engine.
func (d Docker) present(ctx context.Context, im Image) bool {
	for _, ref := range append([]string{im.ID}, im.Tags...) {
		if id, ok, err := d.Inspect(ctx, ref); err != nil || !ok || id != im.ID {
			return false
		}
	}
	return true
}
