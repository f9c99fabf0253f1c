package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Container is one container of the stack.
type Container struct {
	// ID is the container ID.
	ID string `json:"id"`
	// Name is the container name.
	Name string `json:"name"`
	// Service is the compose service.
	Service string `json:"service"`
	// Project is the compose project (filled from docker ps only).
	Project string `json:"-"`
	// OneOff marks a `compose run` container (filled from docker ps only).
	OneOff bool `json:"-"`
	// Image is the image reference.
	Image string `json:"image,omitempty"`
	// State is created, running, restarting, exited, paused or dead.
	State string `json:"state"`
	// Health is healthy, unhealthy, starting, or "" without a healthcheck.
	Health string `json:"health,omitempty"`
	// Status is the engine's human status, e.g. "Up 5 seconds (healthy)".
	Status string `json:"status,omitempty"`
	// ExitCode of an exited container.
	ExitCode int `json:"exit_code,omitempty"`
	// Publishers are the published ports.
	Publishers []Publisher `json:"ports,omitempty"`
}

// Publisher is one published port of a container.
type Publisher struct {
	// URL is the host address ("0.0.0.0", "127.0.0.1", "::").
	URL string `json:"host_ip"`
	// TargetPort is the container port.
	TargetPort int `json:"target"`
	// PublishedPort is the host port (0 when not published).
	PublishedPort int `json:"published,omitempty"`
	// Protocol is tcp or udp.
	Protocol string `json:"protocol"`
}

// composePSEntry is one container in `docker compose ps --format json`.
type composePSEntry struct {
	ID         string
	Name       string
	Image      string
	Service    string
	State      string
	Health     string
	Status     string
	ExitCode   int
	Publishers []struct {
		URL           string
		TargetPort    int
		PublishedPort int
		Protocol      string
	}
}

// ParseComposePS parses `docker compose ps --format json`. Compose v2 before
// 2.21 prints one JSON array; later versions print one object per line.
func ParseComposePS(data []byte) ([]Container, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	var entries []composePSEntry
	if data[0] == '[' {
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, fmt.Errorf("parse compose ps output: %w", err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		for dec.More() {
			var e composePSEntry
			if err := dec.Decode(&e); err != nil {
				return nil, fmt.Errorf("parse compose ps output: %w", err)
			}
			entries = append(entries, e)
		}
	}
	out := make([]Container, 0, len(entries))
	for _, e := range entries {
		c := Container{
			ID: e.ID, Name: e.Name, Service: e.Service, Image: e.Image,
			State: strings.ToLower(e.State), Health: strings.ToLower(e.Health),
			Status: e.Status, ExitCode: e.ExitCode,
		}
		if c.Health == "" {
			c.Health = healthFromStatus(e.Status)
		}
		for _, p := range e.Publishers {
			if p.PublishedPort != 0 {
				c.Publishers = append(c.Publishers, Publisher{URL: p.URL, TargetPort: p.TargetPort, PublishedPort: p.PublishedPort, Protocol: p.Protocol})
			}
		}
		out = append(out, c)
	}
	sortContainers(out)
	return out, nil
}

// dockerPSFormat is the `docker ps --format` template ParseDockerPS reads.
const dockerPSFormat = `{{.ID}}	{{.Names}}	{{.State}}	{{.Status}}	{{.Ports}}	{{.Label "com.docker.compose.service"}}	{{.Image}}	{{.Label "com.docker.compose.project"}}	{{.Label "com.docker.compose.oneoff"}}`

// ParseDockerPS parses `docker ps --format dockerPSFormat` output (used with
// docker-compose 1.x, whose ps has no JSON output, and to find other
// containers holding a port). Containers outside a compose project have an
// empty Service.
func ParseDockerPS(data []byte) []Container {
	var out []Container
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 7 {
			continue
		}
		c := Container{ID: f[0], Name: f[1], State: strings.ToLower(f[2]), Status: f[3], Service: f[5], Image: f[6]}
		c.Health = healthFromStatus(c.Status)
		if m := exitedRE.FindStringSubmatch(c.Status); m != nil {
			c.ExitCode, _ = strconv.Atoi(m[1])
		}
		c.Publishers = parseDockerPorts(f[4])
		if len(f) > 7 {
			c.Project = f[7]
		}
		if len(f) > 8 {
			c.OneOff = strings.EqualFold(f[8], "true")
		}
		out = append(out, c)
	}
	sortContainers(out)
	return out
}

var exitedRE = regexp.MustCompile(`^Exited \((-?\d+)\)`)

// healthFromStatus reads the health from a status like "Up 3 minutes (healthy)".
func healthFromStatus(s string) string {
	switch {
	case strings.Contains(s, "(healthy)"):
		return "healthy"
	case strings.Contains(s, "(unhealthy)"):
		return "unhealthy"
	case strings.Contains(s, "(health: starting)"):
		return "starting"
	}
	return ""
}

// parseDockerPorts parses docker ps's Ports column:
// "127.0.0.1:9090->9090/tcp, :::8000->8000/tcp, 1025/tcp".
func parseDockerPorts(s string) []Publisher {
	var out []Publisher
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		hostPart, target, ok := strings.Cut(item, "->")
		if !ok {
			continue // exposed, not published
		}
		tport, proto, _ := strings.Cut(target, "/")
		i := strings.LastIndex(hostPart, ":")
		if i < 0 {
			continue
		}
		ip, pub := hostPart[:i], hostPart[i+1:]
		if ip2, _, err := net.SplitHostPort(hostPart); err == nil {
			ip = ip2
		}
		// Ranges ("0.0.0.0:8000-8001->8000-8001/tcp") expand pairwise.
		plo, phi, err1 := portRange(pub)
		tlo, thi, err2 := portRange(tport)
		if err1 != nil || err2 != nil || phi-plo != thi-tlo {
			continue
		}
		for k := 0; k <= phi-plo; k++ {
			out = append(out, Publisher{URL: ip, PublishedPort: plo + k, TargetPort: tlo + k, Protocol: proto})
		}
	}
	return out
}

func sortContainers(cs []Container) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Service != cs[j].Service {
			return cs[i].Service < cs[j].Service
		}
		return cs[i].Name < cs[j].Name
	})
}

// listDocker lists containers with `docker ps -a` and the given filters.
func listDocker(ctx context.Context, docker string, filters ...string) ([]Container, error) {
	args := []string{"ps", "-a", "--no-trunc", "--format", dockerPSFormat}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, err := run(ctx, nil, docker, args...)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return ParseDockerPS(out), nil
}
