package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/stackgen/stackgen/runner"
)

// VolumePrefix is the entry name prefix of data volume copies.
const VolumePrefix = "volumes/"

// Volume is a copy of a data volume, as `docker cp CONTAINER:/data -` writes
// it (a tar whose entries start with data/), taken with the services that
// use it stopped.
type Volume struct {
	// Path is the entry name, under VolumePrefix.
	Path string `json:"path"`
	// Size in bytes.
	Size int64 `json:"size"`
	// SHA256 of the tar, hex.
	SHA256 string `json:"sha256"`
	// Name is the Docker volume name (project_volume).
	Name string `json:"name"`
	// Labels are the volume's labels (compose's, so compose adopts it).
	Labels map[string]string `json:"labels"`
}

// VolumeSource is a volume copy spooled to disk.
type VolumeSource struct {
	// Path of the spooled tar.
	Path string
	// Volume describes it.
	Volume Volume
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkVolume accepts only volumes of the bundle's own stack (Docker names
// project_volume), so a bundle cannot fill another project's volume.
func checkVolume(v Volume, stackName string) error {
	if !volumeName.MatchString(v.Name) || !strings.HasPrefix(v.Name, stackName+"_") {
		return fmt.Errorf("%s: volume name %q is not a volume of stack %s", v.Path, v.Name, stackName)
	}
	return nil
}

// ProjectContainers returns the IDs of the running containers of compose
// project p's service svc.
func (d Docker) ProjectContainers(ctx context.Context, project, svc string) ([]string, error) {
	out, err := d.output(ctx, "ps", "-q", "--filter", "label=com.docker.compose.project="+project, "--filter", "label=com.docker.compose.service="+svc)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// Stop stops containers; Start starts them.
func (d Docker) Stop(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := d.output(ctx, append([]string{"stop"}, ids...)...)
	return err
}

// Start starts containers.
func (d Docker) Start(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := d.output(ctx, append([]string{"start"}, ids...)...)
	return err
}

func (d Docker) output(ctx context.Context, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, d.Path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// volumeLabels returns a volume's labels; ok is false when it does not exist.
func (d Docker) volumeLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	out, err := d.output(ctx, "volume", "ls", "-q", "--filter", "name=^"+regexp.QuoteMeta(name)+"$")
	if err != nil {
		return nil, false, err
	}
	if strings.TrimSpace(string(out)) == "" {
		return nil, false, nil
	}
	out, err = d.output(ctx, "volume", "inspect", name)
	if err != nil {
		return nil, false, err
	}
	var vs []struct {
		Labels map[string]string `json:"Labels"`
	}
	if err := json.Unmarshal(out, &vs); err != nil || len(vs) != 1 {
		return nil, false, fmt.Errorf("docker volume inspect %s: unexpected answer (%v)", name, err)
	}
	return vs[0].Labels, true, nil
}

// helper creates (never starts) a container of image mounting volume at
// /data, for docker cp; the caller removes it.
func (d Docker) helper(ctx context.Context, image, volume string) (string, error) {
	// Never started: an entrypoint that cannot run makes that plain and lets
	// any image serve (docker create refuses an image with no command).
	out, err := d.output(ctx, "create", "--label", "io.stackgen.bundle-helper=1", "--entrypoint", "/stackgen-bundle-helper-never-started", "-v", volume+":/data", image)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func (d Docker) remove(id string) {
	exec.Command(d.Path, "rm", "-f", "-v", id).Run()
}

// SaveVolume spools a copy of volume name (which must exist; the services
// using it should be stopped) into a temporary file in dir with `docker cp`
// from a created, never started helper container of image.
func (d Docker) SaveVolume(ctx context.Context, dir, image, name string) (VolumeSource, error) {
	labels, ok, err := d.volumeLabels(ctx, name)
	if err != nil {
		return VolumeSource{}, err
	}
	if !ok {
		return VolumeSource{}, fmt.Errorf("volume %s does not exist: run `stackgen up` first, or bundle without --data", name)
	}
	c, err := d.helper(ctx, image, name)
	if err != nil {
		return VolumeSource{}, err
	}
	defer d.remove(c)
	path, size, sum, err := d.spool(ctx, dir, "stackgen-volume-*.tar", "cp", c+":/data", "-")
	if err != nil {
		return VolumeSource{}, fmt.Errorf("docker cp %s (volume %s): %w", c, name, err)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	return VolumeSource{Path: path, Volume: Volume{Path: VolumePrefix + name + ".tar", Size: size,
		SHA256: sum, Name: name, Labels: labels}}, nil
}

// Restorer restores data volumes (see Docker.Restore).
type Restorer interface {
	Restore(ctx context.Context, v Volume, image string, r io.Reader) (restored bool, err error)
}

// Restore creates volume v.Name with its labels and fills it from r with
// `docker cp - CONTAINER:/` through a helper container of image. Without -a
// the daemon keeps the tar's owners (Prometheus runs as 65534 and must own
// its data); docker 20.10's -a instead chowns to the container's user. A volume
// that exists already is kept as it is (restored false): its data may be
// newer than the bundle's; `stackgen down --volumes` removes it. When r
// fails (its bytes differ from the manifest) docker cp is killed and the
// volume removed.
func (d Docker) Restore(ctx context.Context, v Volume, image string, r io.Reader) (bool, error) {
	if _, ok, err := d.volumeLabels(ctx, v.Name); err != nil || ok {
		return false, err
	}
	keys := make([]string, 0, len(v.Labels))
	for k := range v.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := []string{"volume", "create"}
	for _, k := range keys {
		args = append(args, "--label", k+"="+v.Labels[k])
	}
	if _, err := d.output(ctx, append(args, v.Name)...); err != nil {
		return false, err
	}
	fail := func(err error) (bool, error) {
		exec.Command(d.Path, "volume", "rm", "-f", v.Name).Run()
		return false, err
	}
	c, err := d.helper(ctx, image, v.Name)
	if err != nil {
		return fail(err)
	}
	defer d.remove(c)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(cctx, d.Path, "cp", "-", c+":/")
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(err)
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	if _, err := io.Copy(stdin, r); err != nil {
		cancel()
		cmd.Wait()
		d.remove(c)
		return fail(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		d.remove(c)
		return fail(fmt.Errorf("docker cp into volume %s: %v: %s", v.Name, err, strings.TrimSpace(out.String())))
	}
	return true, nil
}

// SaveVolumes copies the named volumes of the compose project cf into dir
// (see SaveVolume), with image serving the helper containers. The running
// services using them are stopped first (a consistent copy: Prometheus
// closes its TSDB cleanly) and started again once every copy is taken, even
// on failure or cancellation. Progress lines go to stderr.
func (d Docker) SaveVolumes(ctx context.Context, cf *runner.ComposeFile, helperImage, dir string, stderr io.Writer) ([]VolumeSource, error) {
	keys := make([]string, 0, len(cf.Project.Volumes))
	for k := range cf.Project.Volumes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	users := map[string]bool{}
	for _, svc := range cf.Project.Services {
		for _, v := range svc.Volumes {
			if v.Type == "volume" && contains(keys, v.Source) {
				users[svc.Name] = true
			}
		}
	}
	var stopped []string
	for svc := range users {
		ids, err := d.ProjectContainers(ctx, cf.Name, svc)
		if err != nil {
			return nil, err
		}
		stopped = append(stopped, ids...)
	}
	if len(stopped) > 0 {
		fmt.Fprintf(stderr, "  stopping %d container(s) using the data volumes for a consistent copy\n", len(stopped))
		defer func() {
			// Started again even when ctx was cancelled.
			if err := d.Start(context.Background(), stopped); err != nil {
				fmt.Fprintf(stderr, "  warning: starting the stopped containers again: %v (run `stackgen up`)\n", err)
			} else {
				fmt.Fprintf(stderr, "  started the %d container(s) again\n", len(stopped))
			}
		}()
		if err := d.Stop(ctx, stopped); err != nil {
			return nil, err
		}
	}
	var out []VolumeSource
	for _, k := range keys {
		name := cf.Project.Volumes[k].Name
		if name == "" {
			name = cf.Name + "_" + k
		}
		t := time.Now()
		v, err := d.SaveVolume(ctx, dir, helperImage, name)
		if err != nil {
			return out, err
		}
		out = append(out, v)
		fmt.Fprintf(stderr, "  copied volume %s (%s, %.1fs)\n", name, HumanSize(v.Volume.Size), time.Since(t).Seconds())
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
