package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stackgen/stackgen/stack"
)

// ComposeFileName is the rendered compose file inside the deploy directory.
const ComposeFileName = "compose.yaml"

// Project is a rendered stack as a compose project on an engine.
type Project struct {
	// Engine is the Docker engine.
	Engine *Engine
	// Compose is the compose implementation.
	Compose *Compose
	// Name is the compose project name (the stack name).
	Name string
	// Dir is the deploy directory holding compose.yaml.
	Dir string
	// File is compose.yaml as compose-go loads it; nil when it does not
	// exist (down and status then work from the containers' compose labels).
	File *ComposeFile
	// StackgenImage, when set, replaces the image of every service running
	// DefaultStackgenImage (through the override file): the content-tagged
	// image this up built.
	StackgenImage string
}

// Open finds the engine and compose and reads DIR/compose.yaml. name is the
// project name when the file has none (or is absent); with both empty it
// fails. requireFile makes a missing compose.yaml an error.
func Open(ctx context.Context, dir, name string, requireFile bool) (*Project, error) {
	// Both take a CLI round trip: ask in parallel. Without an engine the
	// compose answer does not matter.
	type composeResult struct {
		c   *Compose
		err error
	}
	composeCh := make(chan composeResult, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		docker, err := exec.LookPath("docker")
		if err != nil {
			composeCh <- composeResult{nil, err}
			return
		}
		c, err := DetectCompose(cctx, &Engine{Docker: docker})
		composeCh <- composeResult{c, err}
	}()
	eng, err := DetectEngine(ctx)
	if err != nil {
		// Stop the compose check and wait for it: nothing outlives Open.
		cancel()
		<-composeCh
		return nil, err
	}
	cr := <-composeCh
	if cr.err != nil {
		return nil, cr.err
	}
	p := &Project{Engine: eng, Compose: cr.c, Name: name, Dir: dir}
	path := filepath.Join(dir, ComposeFileName)
	if _, err := os.Stat(path); err == nil {
		if p.File, err = LoadComposeFile(path, name); err != nil {
			return nil, err
		}
		if p.File.Name != "" {
			p.Name = p.File.Name
		}
	} else if requireFile {
		return nil, fmt.Errorf("%s not found: run `stackgen render` first: %w", path, err)
	}
	if p.Name == "" {
		return nil, errors.New("no compose project name: compose.yaml has no name: and none was given")
	}
	return p, nil
}

// reloadable roles pick up configuration changes without a restart
// (POST /-/reload), so only a stale mount recreates them.
func reloadable(role string) bool {
	return role == stack.RolePrometheus || role == stack.RoleAlertmanager
}

// withFiles calls fn with the compose command line prefix (project name,
// directory and files): compose.yaml plus an override file written to a
// temporary directory (see overrideYAML), removed afterwards.
func (p *Project) withFiles(fn func(prefix []string) error) error {
	prefix := append([]string{}, p.Compose.Cmd[1:]...)
	prefix = append(prefix, "-p", p.Name)
	if p.File == nil {
		return fn(prefix)
	}
	abs, err := filepath.Abs(p.Dir)
	if err != nil {
		return fmt.Errorf("compose files: %w", err)
	}
	prefix = append(prefix, "--project-directory", abs, "-f", filepath.Join(abs, ComposeFileName))
	ov, err := p.overrideYAML()
	if err != nil {
		return err
	}
	if ov == nil {
		return fn(prefix)
	}
	tmp, err := os.MkdirTemp("", "stackgen-compose-")
	if err != nil {
		return fmt.Errorf("compose files: %w", err)
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "stackgen.override.yaml")
	if err := os.WriteFile(path, ov, 0o600); err != nil {
		return fmt.Errorf("compose files: %w", err)
	}
	return fn(append(prefix, "-f", path))
}

// compose runs a compose subcommand and returns its stdout.
func (p *Project) compose(ctx context.Context, args ...string) ([]byte, error) {
	var out []byte
	err := p.withFiles(func(prefix []string) error {
		var err error
		var env []string
		if p.File != nil {
			env = p.composeEnv()
		}
		out, err = run(ctx, env, p.Compose.Cmd[0], append(prefix, args...)...)
		return err
	})
	return out, err
}

// Containers lists the project's service containers (all states).
func (p *Project) Containers(ctx context.Context) ([]Container, error) {
	return listDocker(ctx, p.Engine.Docker, projectFilters(p.Name)...)
}

// Logs returns the last n log lines of a container (stdout and stderr
// interleaved); since, when not empty, limits them to lines after that time
// (RFC 3339 or a duration like "30s").
func (p *Project) Logs(ctx context.Context, containerID string, n int, since string) string {
	args := []string{"logs", "--tail", strconv.Itoa(n)}
	if since != "" {
		args = append(args, "--since", since)
	}
	out, err := runCombined(ctx, p.Engine.Docker, append(args, containerID)...)
	if err != nil && len(out) == 0 {
		return err.Error()
	}
	return strings.TrimRight(string(out), "\n")
}

// Volumes lists the project's named volumes.
func (p *Project) Volumes(ctx context.Context) ([]string, error) {
	out, err := run(ctx, nil, p.Engine.Docker, "volume", "ls", "-q", "--filter", "label="+labelProject+"="+p.Name)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	return strings.Fields(string(out)), nil
}
