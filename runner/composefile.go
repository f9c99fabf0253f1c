package runner

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackgen/stackgen/stack"
)

// ComposeFile is a rendered compose.yaml as compose-go's loader reads it,
// reduced to what the runner uses: the project name and, per service, its
// role (the io.stackgen.role label), image, published ports, command,
// healthcheck, bind mounts and secrets. Everything else is left to compose.
type ComposeFile struct {
	// Path is the compose.yaml this was read from.
	Path string
	// Name is the compose project name.
	Name string
	// Services by name.
	Services map[string]*Service
	// Project is the project as compose-go loaded it.
	Project *types.Project
}

// Service is one compose service, reduced to what the runner uses.
type Service struct {
	// Name of the service.
	Name string
	// Role is the io.stackgen.role label ("" for a service stackgen did not render).
	Role string
	// Model is the io.stackgen.model label.
	Model string
	// Image of the service ("" when it only has a build:).
	Image string
	// HasBuild reports a build: section (compose builds the image itself).
	HasBuild bool
	// PullPolicy is pull_policy ("" when unset).
	PullPolicy string
	// Ports are the published ports.
	Ports []Port
	// Command is the command list (flags for images with an entrypoint).
	Command []string
	// Healthcheck is the healthcheck test, e.g. ["CMD", "promtool", ...].
	Healthcheck []string
	// Binds are the bind-mount host paths (absolute).
	Binds []string
	// Secrets are the names of the secrets the service mounts.
	Secrets []string
}

// Port is one published port.
type Port struct {
	// HostIP is the host address the port binds to ("" for every interface).
	HostIP string
	// Published is the host port.
	Published int
	// Target is the container port.
	Target int
	// Protocol is tcp or udp.
	Protocol string
}

// HostAddr is the address to reach the published port from this host.
func (p Port) HostAddr() string {
	ip := net.ParseIP(p.HostIP)
	host := p.HostIP
	if ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(p.Published))
}

// BindAddr is the address the port binds to on the host.
func (p Port) BindAddr() string {
	host := p.HostIP
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(p.Published))
}

// PublishedFor returns the published port for a container port, if any.
func (s *Service) PublishedFor(target int) (Port, bool) {
	for _, p := range s.Ports {
		if p.Target == target && p.Published != 0 && proto(p.Protocol) == "tcp" {
			return p, true
		}
	}
	return Port{}, false
}

// HasFlag reports whether the service command contains flag (as "flag" or "flag=...").
func (s *Service) HasFlag(flag string) bool {
	for _, a := range s.Command {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// ServiceNames returns the service names in sorted order.
func (c *ComposeFile) ServiceNames() []string {
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ByRole returns the services with the io.stackgen.role label role, sorted by name.
func (c *ComposeFile) ByRole(role string) []*Service {
	var out []*Service
	for _, n := range c.ServiceNames() {
		if s := c.Services[n]; s.Role == role {
			out = append(out, s)
		}
	}
	return out
}

// Role returns the first service with the given role, or nil.
func (c *ComposeFile) Role(role string) *Service {
	if l := c.ByRole(role); len(l) > 0 {
		return l[0]
	}
	return nil
}

// LoadComposeFile reads a rendered compose.yaml with compose-go's loader
// (interpolation from the environment, normalisation, validation). name is
// the project name when the file has no name:.
func LoadComposeFile(path, name string) (*ComposeFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read compose file: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("read compose file: %w", err)
	}
	opts := func(o *loader.Options) {
		if name != "" {
			o.SetProjectName(loader.NormalizeProjectName(name), false)
		}
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: types.NewMapping(os.Environ()),
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cf := FromProject(p)
	cf.Path = path
	return cf, nil
}

// FromProject reduces a compose-go project to a ComposeFile.
func FromProject(p *types.Project) *ComposeFile {
	cf := &ComposeFile{Name: p.Name, Services: map[string]*Service{}, Project: p}
	for name, sc := range p.Services {
		s := &Service{
			Name:       name,
			Role:       sc.Labels[stack.LabelRole],
			Model:      sc.Labels[stack.LabelModel],
			Image:      sc.Image,
			HasBuild:   sc.Build != nil,
			PullPolicy: sc.PullPolicy,
			Command:    []string(sc.Command),
		}
		if sc.HealthCheck != nil {
			s.Healthcheck = []string(sc.HealthCheck.Test)
		}
		for _, pc := range sc.Ports {
			s.Ports = append(s.Ports, portsOf(pc)...)
		}
		for _, v := range sc.Volumes {
			if v.Type == types.VolumeTypeBind && v.Source != "" {
				src := v.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(p.WorkingDir, src)
				}
				s.Binds = append(s.Binds, filepath.Clean(src))
			}
		}
		for _, sec := range sc.Secrets {
			s.Secrets = append(s.Secrets, sec.Source)
		}
		cf.Services[name] = s
	}
	return cf
}

// portsOf expands one compose-go port (a published range included) into Ports.
func portsOf(pc types.ServicePortConfig) []Port {
	p := Port{HostIP: pc.HostIP, Target: int(pc.Target), Protocol: proto(pc.Protocol)}
	if pc.Published == "" {
		return []Port{p}
	}
	lo, hi, isRange := strings.Cut(pc.Published, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return []Port{p}
	}
	if !isRange {
		p.Published = a
		return []Port{p}
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a {
		return []Port{p}
	}
	var out []Port
	for i := 0; i <= b-a; i++ {
		q := p
		q.Published = a + i
		out = append(out, q)
	}
	return out
}
