package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stackgen/stackgen/stack"
)

// Compose's container labels.
const (
	labelProject = "com.docker.compose.project"
	labelService = "com.docker.compose.service"
	labelOneOff  = "com.docker.compose.oneoff"
)

// Container is one container of the stack, from `docker inspect` (typed
// JSON; no human-readable status text is parsed).
type Container struct {
	// ID is the container ID.
	ID string `json:"id"`
	// Name is the container name.
	Name string `json:"name"`
	// Service is the compose service.
	Service string `json:"service"`
	// Role is the io.stackgen.role label.
	Role string `json:"role,omitempty"`
	// Project is the compose project.
	Project string `json:"-"`
	// OneOff marks a `compose run` container.
	OneOff bool `json:"-"`
	// Image is the image reference.
	Image string `json:"image,omitempty"`
	// State is created, running, restarting, exited, paused, removing or dead.
	State string `json:"state"`
	// Health is healthy, unhealthy, starting, or "" without a healthcheck.
	Health string `json:"health,omitempty"`
	// Status is a short description derived from the state, e.g. "exited (137)".
	Status string `json:"status,omitempty"`
	// ExitCode of an exited container.
	ExitCode int `json:"exit_code,omitempty"`
	// RestartCount is how often the engine restarted the container (cumulative).
	RestartCount int `json:"restart_count"`
	// StartedAt is when the container last started (zero if never).
	StartedAt time.Time `json:"started_at"`
	// FinishedAt is when it last stopped (zero if never).
	FinishedAt time.Time `json:"finished_at,omitempty"`
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

// inspectEntry is the part of `docker inspect` (a container) the runner reads.
type inspectEntry struct {
	ID           string `json:"Id"`
	Name         string
	RestartCount int
	State        struct {
		Status     string
		ExitCode   int
		StartedAt  string
		FinishedAt string
		Health     *struct {
			Status string
		}
	}
	Config struct {
		Image  string
		Labels map[string]string
	}
	NetworkSettings struct {
		Ports map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
	HostConfig struct {
		PortBindings map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string
		}
	}
}

// ParseInspect parses `docker inspect` output for containers.
func ParseInspect(data []byte) ([]Container, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	var entries []inspectEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("parse docker inspect output: %w", err)
	}
	out := make([]Container, 0, len(entries))
	for _, e := range entries {
		c := Container{
			ID:           e.ID,
			Name:         strings.TrimPrefix(e.Name, "/"),
			Service:      e.Config.Labels[labelService],
			Role:         e.Config.Labels[stack.LabelRole],
			Project:      e.Config.Labels[labelProject],
			OneOff:       strings.EqualFold(e.Config.Labels[labelOneOff], "true"),
			Image:        e.Config.Image,
			State:        strings.ToLower(e.State.Status),
			ExitCode:     e.State.ExitCode,
			RestartCount: e.RestartCount,
			StartedAt:    dockerTime(e.State.StartedAt),
			FinishedAt:   dockerTime(e.State.FinishedAt),
		}
		if e.State.Health != nil {
			c.Health = strings.ToLower(e.State.Health.Status)
		}
		c.Status = c.State
		if c.State == "exited" || c.State == "dead" {
			c.Status = fmt.Sprintf("%s (%d)", c.State, c.ExitCode)
		}
		if c.Health != "" {
			c.Status += " (" + c.Health + ")"
		}
		ports := e.NetworkSettings.Ports
		if len(ports) == 0 {
			ports = e.HostConfig.PortBindings
		}
		for spec, binds := range ports {
			tp, pr, _ := strings.Cut(spec, "/")
			target, err := strconv.Atoi(tp)
			if err != nil {
				continue
			}
			for _, b := range binds {
				pub, _ := strconv.Atoi(b.HostPort)
				if pub == 0 {
					continue
				}
				c.Publishers = append(c.Publishers, Publisher{URL: b.HostIP, TargetPort: target, PublishedPort: pub, Protocol: proto(pr)})
			}
		}
		sort.Slice(c.Publishers, func(i, j int) bool {
			a, b := c.Publishers[i], c.Publishers[j]
			if a.PublishedPort != b.PublishedPort {
				return a.PublishedPort < b.PublishedPort
			}
			return a.URL < b.URL
		})
		out = append(out, c)
	}
	sortContainers(out)
	return out, nil
}

// dockerTime parses the engine's RFC 3339 timestamps; "0001-01-01T00:00:00Z"
// (never) and garbage are the zero time.
func dockerTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

func sortContainers(cs []Container) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Service != cs[j].Service {
			return cs[i].Service < cs[j].Service
		}
		return cs[i].Name < cs[j].Name
	})
}

// listDocker lists containers (every state) matching the filters: their
// IDs from `docker ps -aq`, their state from `docker inspect`.
func listDocker(ctx context.Context, docker string, filters ...string) ([]Container, error) {
	args := []string{"ps", "-aq", "--no-trunc"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, err := run(ctx, nil, docker, args...)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return nil, nil
	}
	out, err = run(ctx, nil, docker, append([]string{"container", "inspect"}, ids...)...)
	if err != nil && len(bytes.TrimSpace(out)) == 0 {
		// A container removed between ps and inspect fails the whole call
		// only when none is left.
		return nil, fmt.Errorf("inspect containers: %w", err)
	}
	return ParseInspect(out)
}

// projectFilters select the project's service containers (no one-off `compose run` ones).
func projectFilters(project string) []string {
	return []string{"label=" + labelProject + "=" + project, "label=" + labelOneOff + "=False"}
}
