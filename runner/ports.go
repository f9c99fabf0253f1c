package runner

import (
	"fmt"
	"net"
	"sort"
	"strings"
)

// PortConflict is a published port that is already taken.
type PortConflict struct {
	// Service is the stack service that publishes the port.
	Service string
	// Port is the port it publishes.
	Port Port
	// Holder names what holds it: a container name, or "" for another process.
	Holder string
	// Err is the bind error.
	Err error
}

// String describes the conflict, e.g.
// "port 127.0.0.1:9090 (service prometheus) is held by container other-prom".
func (c PortConflict) String() string {
	s := fmt.Sprintf("port %s (service %s) is already in use", c.Port.BindAddr(), c.Service)
	if c.Holder != "" {
		s += " by container " + c.Holder
	} else if c.Err != nil {
		s += " by another process"
	}
	return s
}

// portKey identifies a published host port.
type portKey struct {
	port  int
	proto string
}

// CheckPorts returns the published ports of cf that cannot be bound. A port
// published by one of the stack's own containers (own), or by a service that
// has a live container, is not a conflict: compose keeps or recreates it.
// others are the engine's other containers, used to name the holder.
// listen tries to bind an address ("tcp", "127.0.0.1:9090") and is
// net.Listen in production.
func CheckPorts(cf *ComposeFile, own, others []Container, listen func(network, addr string) (net.Listener, error)) []PortConflict {
	ownPorts := map[portKey]bool{}
	ownServices := map[string]bool{}
	for _, c := range own {
		if c.State == "exited" || c.State == "dead" {
			continue
		}
		// A container still being created or started holds its ports
		// without listing them yet: its service's ports are compose's.
		ownServices[c.Service] = true
		for _, p := range c.Publishers {
			ownPorts[portKey{p.PublishedPort, proto(p.Protocol)}] = true
		}
	}
	holders := map[portKey]string{}
	for _, c := range others {
		if c.State != "running" {
			continue
		}
		for _, p := range c.Publishers {
			holders[portKey{p.PublishedPort, proto(p.Protocol)}] = c.Name
		}
	}
	var out []PortConflict
	seen := map[portKey]string{}
	for _, name := range cf.ServiceNames() {
		for _, p := range cf.Services[name].Ports {
			if p.Published == 0 {
				continue
			}
			k := portKey{p.Published, proto(p.Protocol)}
			if other, dup := seen[k]; dup {
				out = append(out, PortConflict{Service: name, Port: p, Holder: "", Err: fmt.Errorf("also published by service %s", other)})
				continue
			}
			seen[k] = name
			if ownPorts[k] || ownServices[name] {
				continue
			}
			if h, ok := holders[k]; ok {
				out = append(out, PortConflict{Service: name, Port: p, Holder: h})
				continue
			}
			if k.proto != "tcp" {
				continue
			}
			l, err := listen("tcp", p.BindAddr())
			if err != nil {
				if isAddrUnavailable(err) {
					continue // e.g. a host IP this machine does not have: compose will say so
				}
				out = append(out, PortConflict{Service: name, Port: p, Err: err})
				continue
			}
			l.Close()
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Port.Published < out[j].Port.Published })
	return out
}

func proto(p string) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(p)
}

func isAddrUnavailable(err error) bool {
	return strings.Contains(err.Error(), "cannot assign requested address")
}

// portConflictError is the exit-5 error for conflicts.
func portConflictError(cs []PortConflict) error {
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = c.String()
	}
	fix := "Stop what holds the port, or change the port in stack.yaml (prometheus.port, grafana.port, exporter.port / models[].exporter_port, " +
		"models[].host_port, alerting.alertmanager_port, smtp.web_port) and run `stackgen up` again."
	if len(cs) == 1 && cs[0].Holder != "" {
		fix = "Stop that container (`docker stop " + cs[0].Holder + "`), or change the port in stack.yaml and run `stackgen up` again."
	}
	return &Error{Code: ExitPortInUse, Err: fmt.Errorf("%s", strings.Join(lines, "\n")), Fix: fix}
}
