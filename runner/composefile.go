package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// ComposeFile is the part of a rendered compose.yaml the runner needs: the
// project name and, per service, its image, published ports, command,
// healthcheck and bind mounts. Everything else is left to compose.
type ComposeFile struct {
	// Path is the compose.yaml this was read from.
	Path string
	// Name is the top-level name: (the compose project name).
	Name string
	// Services by name.
	Services map[string]*Service
	// raw is the file as read, for the docker-compose 1.x copy.
	raw []byte
}

// Service is one compose service, reduced to what the runner uses.
type Service struct {
	// Name of the service.
	Name string
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
	// Binds are the bind-mount host paths (absolute, resolved against the
	// compose file's directory).
	Binds []string
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
		if p.Target == target && p.Published != 0 && (p.Protocol == "" || p.Protocol == "tcp") {
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

// LoadComposeFile reads a rendered compose.yaml.
func LoadComposeFile(path string) (*ComposeFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read compose file: %w", err)
	}
	cf, err := ParseComposeFile(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cf.Path = path
	return cf, nil
}

// rawCompose mirrors the compose keys the runner reads.
type rawCompose struct {
	Name     string                `yaml:"name"`
	Services map[string]rawService `yaml:"services"`
}

type rawService struct {
	Image       string       `yaml:"image"`
	Build       any          `yaml:"build"`
	PullPolicy  string       `yaml:"pull_policy"`
	Ports       []yaml.Node  `yaml:"ports"`
	Command     stringOrList `yaml:"command"`
	Healthcheck *struct {
		Test stringOrList `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes []yaml.Node `yaml:"volumes"`
}

// stringOrList is a compose value that is either a string or a list of strings.
type stringOrList []string

// UnmarshalYAML accepts a string (split on spaces) or a list of strings.
func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = strings.Fields(n.Value)
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*s = l
		return nil
	}
	return fmt.Errorf("line %d: expected a string or a list", n.Line)
}

// ParseComposeFile parses compose.yaml bytes; dir resolves relative bind mounts.
func ParseComposeFile(data []byte, dir string) (*ComposeFile, error) {
	var raw rawCompose
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse compose file: %w", err)
	}
	cf := &ComposeFile{Name: raw.Name, Services: map[string]*Service{}, raw: data}
	for name, rs := range raw.Services {
		s := &Service{
			Name:       name,
			Image:      rs.Image,
			HasBuild:   rs.Build != nil,
			PullPolicy: rs.PullPolicy,
			Command:    rs.Command,
		}
		if rs.Healthcheck != nil {
			s.Healthcheck = rs.Healthcheck.Test
		}
		for i := range rs.Ports {
			ps, err := parsePort(&rs.Ports[i])
			if err != nil {
				return nil, fmt.Errorf("services.%s.ports[%d]: %w", name, i, err)
			}
			s.Ports = append(s.Ports, ps...)
		}
		for i := range rs.Volumes {
			if src := bindSource(&rs.Volumes[i], dir); src != "" {
				s.Binds = append(s.Binds, src)
			}
		}
		cf.Services[name] = s
	}
	return cf, nil
}

// parsePort reads a short ("127.0.0.1:9090:9090/tcp", "9090:9090", "9090",
// ranges) or long (target/published/host_ip/protocol) port entry.
func parsePort(n *yaml.Node) ([]Port, error) {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Target    int    `yaml:"target"`
			Published string `yaml:"published"`
			HostIP    string `yaml:"host_ip"`
			Protocol  string `yaml:"protocol"`
		}
		if err := n.Decode(&long); err != nil {
			return nil, err
		}
		p := Port{Target: long.Target, HostIP: long.HostIP, Protocol: long.Protocol}
		if long.Published != "" {
			v, err := strconv.Atoi(long.Published)
			if err != nil {
				return nil, fmt.Errorf("published %q: not a single port", long.Published)
			}
			p.Published = v
		}
		return []Port{p}, nil
	}
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("line %d: unexpected port entry", n.Line)
	}
	return parseShortPort(n.Value)
}

func parseShortPort(s string) ([]Port, error) {
	proto := "tcp"
	if i := strings.LastIndex(s, "/"); i >= 0 {
		proto = s[i+1:]
		s = s[:i]
	}
	var hostIP, pub, target string
	// IPv6 host addresses are bracketed: [::1]:9090:9090.
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return nil, fmt.Errorf("port %q: unclosed [", s)
		}
		hostIP = s[1:end]
		s = strings.TrimPrefix(s[end+1:], ":")
	}
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		target = parts[0]
	case 2:
		pub, target = parts[0], parts[1]
	case 3:
		hostIP, pub, target = parts[0], parts[1], parts[2]
	default:
		return nil, fmt.Errorf("port %q: too many colons", s)
	}
	tlo, thi, err := portRange(target)
	if err != nil {
		return nil, err
	}
	var plo, phi int
	if pub != "" {
		if plo, phi, err = portRange(pub); err != nil {
			return nil, err
		}
		if phi-plo != thi-tlo {
			return nil, fmt.Errorf("port %q: ranges differ in size", s)
		}
	}
	var out []Port
	for i := 0; i <= thi-tlo; i++ {
		p := Port{HostIP: hostIP, Target: tlo + i, Protocol: proto}
		if pub != "" {
			p.Published = plo + i
		}
		out = append(out, p)
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, fmt.Errorf("port %q: not a number", s)
	}
	if !isRange {
		return a, a, nil
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a {
		return 0, 0, fmt.Errorf("port range %q: invalid", s)
	}
	return a, b, nil
}

// bindSource returns the absolute host path of a bind-mount volume entry, or
// "" for named volumes and tmpfs.
func bindSource(n *yaml.Node, dir string) string {
	var src string
	switch n.Kind {
	case yaml.ScalarNode:
		s, _, _ := strings.Cut(n.Value, ":")
		if !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~") {
			return "" // named volume
		}
		src = s
	case yaml.MappingNode:
		var long struct {
			Type   string `yaml:"type"`
			Source string `yaml:"source"`
		}
		if n.Decode(&long) != nil || long.Type != "bind" {
			return ""
		}
		src = long.Source
	default:
		return ""
	}
	if strings.HasPrefix(src, "~") {
		if home, err := os.UserHomeDir(); err == nil {
			src = filepath.Join(home, src[1:])
		}
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(dir, src)
	}
	return filepath.Clean(src)
}

// V1Compatible returns the compose file bytes rewritten for docker-compose
// 1.x, which predates parts of the compose specification: the top-level
// name: is dropped (the project name is passed with -p), depends_on entries
// lose `required:`, and long-syntax ports become short strings
// ("127.0.0.1:9090:9090/tcp"; 1.x rejects host_ip).
func (c *ComposeFile) V1Compatible() ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(c.raw, &doc); err != nil {
		return nil, fmt.Errorf("parse compose file: %w", err)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		root := doc.Content[0]
		deleteKey(root, "name")
		if services := mapValue(root, "services"); services != nil && services.Kind == yaml.MappingNode {
			for i := 1; i < len(services.Content); i += 2 {
				v1Service(services.Content[i])
			}
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("write compose file: %w", err)
	}
	return buf.Bytes(), nil
}

func v1Service(svc *yaml.Node) {
	if svc.Kind != yaml.MappingNode {
		return
	}
	if deps := mapValue(svc, "depends_on"); deps != nil && deps.Kind == yaml.MappingNode {
		for i := 1; i < len(deps.Content); i += 2 {
			if deps.Content[i].Kind == yaml.MappingNode {
				deleteKey(deps.Content[i], "required")
				deleteKey(deps.Content[i], "restart")
			}
		}
	}
	if ports := mapValue(svc, "ports"); ports != nil && ports.Kind == yaml.SequenceNode {
		for _, pn := range ports.Content {
			if pn.Kind != yaml.MappingNode {
				continue
			}
			ps, err := parsePort(pn)
			if err != nil || len(ps) != 1 {
				continue
			}
			p := ps[0]
			short := strconv.Itoa(p.Target)
			if p.Published != 0 {
				short = strconv.Itoa(p.Published) + ":" + short
				if p.HostIP != "" {
					host := p.HostIP
					if strings.Contains(host, ":") {
						host = "[" + host + "]"
					}
					short = host + ":" + short
				}
			}
			short += "/" + proto(p.Protocol)
			*pn = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: short}
		}
	}
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// deleteKey removes key from a mapping node.
func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// MountsLabel is the label the runner adds to every service with bind mounts
// (through a compose override file) so that compose recreates the service
// when its mounts went stale; see mountsHash.
const MountsLabel = "org.stackgen.mounts"

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
