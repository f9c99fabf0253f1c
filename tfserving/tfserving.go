// Package tfserving renders TF Serving's monitoring configuration, which
// turns on its Prometheus endpoint (--monitoring_config_file).
package tfserving

import (
	"fmt"
	"strconv"

	"github.com/stackgen/stackgen/stack"
)

// ConfigFile is the rendered monitoring config, relative to the deploy folder;
// compose mounts its folder at /monitoring.
const ConfigFile = "tfserving/monitoring.config"

// MonitoringConfig is TF Serving's MonitoringConfig message.
type MonitoringConfig struct {
	// Enable turns the Prometheus endpoint on.
	Enable bool
	// Path is the endpoint's HTTP path.
	Path string
}

// TextProto formats the message in protobuf text format, as TF Serving reads it.
func (c MonitoringConfig) TextProto() []byte {
	return []byte(fmt.Sprintf("prometheus_config {\n  enable: %t\n  path: %s\n}\n", c.Enable, strconv.Quote(c.Path)))
}

// Render returns the monitoring config when s has a TF Serving model.
func Render(s *stack.Stack) (map[string][]byte, error) {
	for _, m := range s.Models {
		if m.Kind == stack.KindTFServing {
			c := MonitoringConfig{Enable: true, Path: stack.TFServingMetricsPath}
			return map[string][]byte{ConfigFile: c.TextProto()}, nil
		}
	}
	return map[string][]byte{}, nil
}
