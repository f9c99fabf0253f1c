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

	"gopkg.in/yaml.v3"
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
	// File is the parsed compose.yaml; nil when it does not exist (down and
	// status then work from the containers' compose labels).
	File *ComposeFile
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
	go func() {
		docker, err := exec.LookPath("docker")
		if err != nil {
			composeCh <- composeResult{nil, err}
			return
		}
		c, err := DetectCompose(ctx, &Engine{Docker: docker})
		composeCh <- composeResult{c, err}
	}()
	eng, err := DetectEngine(ctx)
	if err != nil {
		return nil, err
	}
	cr := <-composeCh
	if cr.err != nil {
		return nil, cr.err
	}
	comp := cr.c
	p := &Project{Engine: eng, Compose: comp, Name: name, Dir: dir}
	path := filepath.Join(dir, ComposeFileName)
	if _, err := os.Stat(path); err == nil {
		if p.File, err = LoadComposeFile(path); err != nil {
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

// reloadable services pick up configuration changes without a restart
// (POST /-/reload or SIGHUP), so only a stale mount recreates them.
func reloadable(service string) bool {
	return service == "prometheus" || service == "alertmanager"
}

// withFiles calls fn with the compose command line prefix (implementation,
// project name, directory and files). For docker-compose 1.x it first writes
// a copy of compose.yaml it accepts (see V1Compatible); for every
// implementation it adds an override file labelling services with their
// mounts hash (see mountsHash). Temporary files are removed afterwards.
func (p *Project) withFiles(fn func(prefix []string) error) error {
	prefix := append([]string{}, p.Compose.Cmd[1:]...)
	prefix = append(prefix, "-p", p.Name)
	if p.File == nil {
		return fn(prefix)
	}
	tmp, err := os.MkdirTemp("", "stackgen-compose-")
	if err != nil {
		return fmt.Errorf("compose files: %w", err)
	}
	defer os.RemoveAll(tmp)
	abs, err := filepath.Abs(p.Dir)
	if err != nil {
		return fmt.Errorf("compose files: %w", err)
	}
	prefix = append(prefix, "--project-directory", abs)
	main := filepath.Join(abs, ComposeFileName)
	if p.Compose.V1 {
		data, err := p.File.V1Compatible()
		if err != nil {
			return err
		}
		main = filepath.Join(tmp, "compose.yaml")
		if err := os.WriteFile(main, data, 0o600); err != nil {
			return fmt.Errorf("compose files: %w", err)
		}
	}
	prefix = append(prefix, "-f", main)
	if ov := p.overrideYAML(); ov != nil {
		path := filepath.Join(tmp, "stackgen.override.yaml")
		if err := os.WriteFile(path, ov, 0o600); err != nil {
			return fmt.Errorf("compose files: %w", err)
		}
		prefix = append(prefix, "-f", path)
	}
	return fn(prefix)
}

// overrideYAML is the override file with each service's mounts label, or nil.
func (p *Project) overrideYAML() []byte {
	services := map[string]any{}
	for _, name := range p.File.ServiceNames() {
		s := p.File.Services[name]
		if h := mountsHash(s.Binds, !reloadable(name)); h != "" {
			services[name] = map[string]any{"labels": map[string]string{MountsLabel: h}}
		}
	}
	if len(services) == 0 {
		return nil
	}
	out, err := yaml.Marshal(map[string]any{"services": services})
	if err != nil {
		return nil
	}
	return out
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

// Containers lists the project's containers (all states).
func (p *Project) Containers(ctx context.Context) ([]Container, error) {
	if !p.Compose.V1 && p.File != nil {
		out, err := p.compose(ctx, "ps", "-a", "--format", "json")
		if err == nil {
			return ParseComposePS(out)
		}
	}
	// docker-compose 1.x has no JSON output; the compose labels say the same.
	return listDocker(ctx, p.Engine.Docker, "label=com.docker.compose.project="+p.Name)
}

// Logs returns the last n log lines of a container (stdout and stderr interleaved).
func (p *Project) Logs(ctx context.Context, containerID string, n int) string {
	out, err := exec.CommandContext(ctx, p.Engine.Docker, "logs", "--tail", strconv.Itoa(n), containerID).CombinedOutput()
	if err != nil && len(out) == 0 {
		return err.Error()
	}
	return strings.TrimRight(string(out), "\n")
}

// Volumes lists the project's named volumes.
func (p *Project) Volumes(ctx context.Context) ([]string, error) {
	out, err := run(ctx, nil, p.Engine.Docker, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+p.Name)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	return strings.Fields(string(out)), nil
}
