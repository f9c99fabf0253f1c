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
	"time"
)

// Engine is a Docker engine that answers, reached through the docker CLI.
type Engine struct {
	// Docker is the docker CLI path.
	Docker string
	// ServerVersion is the engine version (docker info).
	ServerVersion string
	// Arch is the engine's architecture as Go names it (amd64, arm64, ...).
	Arch string
	// OSType is the engine's OS (linux).
	OSType string
	// buildx caches whether `docker buildx` is available (nil: not checked
	// yet); without it builds use the classic builder (DOCKER_BUILDKIT=0).
	buildx *bool
	// Remote reports that DOCKER_HOST points at another machine, so local
	// port checks say nothing about the engine's ports.
	Remote bool
}

const setupFix = "Run scripts/setup.sh from the stackgen source (installs Docker, starts dockerd and builds the compose plugin), or see https://docs.docker.com/engine/install/"

// DetectEngine finds the docker CLI and checks that an engine answers.
func DetectEngine(ctx context.Context) (*Engine, error) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		return nil, newError(ExitNoEngine,
			"Install Docker: on Debian/Ubuntu `sudo apt-get install docker.io`. "+setupFix,
			"docker is not installed (no docker command on PATH)")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// docker version asks the engine one question; docker info also scans
	// the CLI plugins, which costs a few hundred milliseconds.
	out, err := run(ctx, nil, docker, "version", "--format", "{{.Server.Version}}|{{.Server.Arch}}|{{.Server.Os}}")
	if err != nil {
		return nil, engineError(err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "|")
	if len(f) != 3 || f[0] == "" {
		return nil, newError(ExitNoEngine, setupFix, "docker version gave no server version (%q): is the engine running?", strings.TrimSpace(string(out)))
	}
	e := &Engine{Docker: docker, ServerVersion: f[0], Arch: goArch(f[1]), OSType: f[2]}
	if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") && !strings.HasPrefix(h, "npipe://") {
		e.Remote = !strings.Contains(h, "://localhost") && !strings.Contains(h, "://127.0.0.1")
	}
	return e, nil
}

// engineError explains a failed `docker info`.
func engineError(err error) error {
	msg := err.Error()
	var ce *cmdError
	if errors.As(err, &ce) {
		msg = strings.TrimSpace(ce.stderr)
	}
	switch {
	case strings.Contains(msg, "permission denied"):
		return newError(ExitNoEngine,
			"Add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as root.",
			"no permission to talk to the Docker engine: %s", lastLines(msg, 3))
	case errors.Is(err, context.DeadlineExceeded):
		return newError(ExitNoEngine, setupFix, "the Docker engine did not answer docker info within 20 s")
	default:
		fix := "Start the engine (`sudo systemctl start docker`; without systemd `sudo dockerd &`). " + setupFix
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			fix = "DOCKER_HOST is " + h + ": start that engine or unset DOCKER_HOST. " + setupFix
		}
		return newError(ExitNoEngine, fix, "no Docker engine answers: %s", lastLines(msg, 3))
	}
}

// goArch maps docker info's Architecture (uname -m) to Go's GOARCH.
func goArch(a string) string {
	switch a {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armv7l", "armhf", "arm":
		return "arm"
	case "s390x":
		return "s390x"
	case "ppc64le":
		return "ppc64le"
	case "riscv64":
		return "riscv64"
	}
	return a
}

// buildEnv is the environment for docker build: the classic builder when
// buildx is absent (Debian's docker.io ships none, and the CLI's BuildKit
// path then fails).
func (e *Engine) buildEnv() []string {
	if e.buildx == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := run(ctx, nil, e.Docker, "buildx", "version")
		ok := err == nil
		e.buildx = &ok
	}
	if *e.buildx || os.Getenv("DOCKER_BUILDKIT") != "" {
		return nil
	}
	return []string{"DOCKER_BUILDKIT=0"}
}

// composeEnv is the environment for compose commands: the classic builder
// when compose must build a model image and buildx is absent. Checked only
// when the stack has build: sections.
func (p *Project) composeEnv() []string {
	for _, s := range p.File.Services {
		if s.HasBuild {
			return p.Engine.buildEnv()
		}
	}
	return nil
}

// Compose is a compose implementation: the `docker compose` v2 plugin or a
// standalone `docker-compose` v2. docker-compose 1.x is end-of-life and
// refused.
type Compose struct {
	// Cmd is the command prefix: ["docker", "compose"] or ["docker-compose"].
	Cmd []string
	// Version is the compose version, e.g. "2.40.3".
	Version string
}

// String names the implementation, e.g. "docker compose 2.40.3".
func (c *Compose) String() string {
	return strings.Join(append([]string{filepath.Base(c.Cmd[0])}, c.Cmd[1:]...), " ") + " " + c.Version
}

// ComposeEnv names the environment variable that picks the compose implementation.
const ComposeEnv = "STACKGEN_COMPOSE"

const composeFix = "Install the compose v2 plugin (Debian/Ubuntu: `sudo apt-get install docker-compose-plugin` from Docker's apt repository); " +
	"scripts/setup.sh builds it from source."

// DetectCompose finds `docker compose` (preferred) or a standalone
// `docker-compose` v2. STACKGEN_COMPOSE forces one: "docker compose" or
// "docker-compose".
func DetectCompose(ctx context.Context, e *Engine) (*Compose, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	force := strings.TrimSpace(os.Getenv(ComposeEnv))
	if force != "" && force != "docker compose" && force != "docker-compose" {
		return nil, newError(ExitNoCompose, "Set it to \"docker compose\" or \"docker-compose\", or unset it.", "%s=%q is not a compose implementation", ComposeEnv, force)
	}
	if force != "docker-compose" {
		if out, err := run(ctx, nil, e.Docker, "compose", "version", "--short"); err == nil {
			return &Compose{Cmd: []string{e.Docker, "compose"}, Version: cleanVersion(string(out))}, nil
		}
	}
	v1 := ""
	if dc, err := exec.LookPath("docker-compose"); err == nil && force != "docker compose" {
		if out, err := run(ctx, nil, dc, "version", "--short"); err == nil {
			v := cleanVersion(string(out))
			if majorVersion(v) >= 2 {
				return &Compose{Cmd: []string{dc}, Version: v}, nil
			}
			v1 = v
		}
	}
	if v1 != "" {
		return nil, newError(ExitNoCompose, composeFix,
			"docker-compose %s is compose 1.x, which is end-of-life and not supported; `docker compose` (v2) is not installed", v1)
	}
	return nil, newError(ExitNoCompose, composeFix,
		"no compose implementation found: neither `docker compose version` nor `docker-compose version` works")
}

func cleanVersion(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\n "); i >= 0 {
		s = s[:i]
	}
	return strings.TrimPrefix(s, "v")
}

func majorVersion(v string) int {
	m, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0
	}
	return n
}

// composeError wraps a failed compose command.
func composeError(what string, err error) error {
	return fmt.Errorf("%s: %w", what, err)
}
