package stack

import (
	"fmt"
	"time"

	"github.com/invopop/jsonschema"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a time span written as Prometheus writes durations: 30s, 5m, 1h30m, 2d.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration as Prometheus does (5m, 1h30m).
func (d Duration) String() string { return model.Duration(d).String() }

// IsZero reports whether the duration is unset.
func (d Duration) IsZero() bool { return d == 0 }

// UnmarshalYAML parses a Prometheus-style duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		// A *yaml.TypeError lets the decoder carry on and report every
		// other problem too; any other error would stop it here.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (write e.g. 30s, 5m, 1h)", n.Line, s)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes the duration as a string (JSON output).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// JSONSchema describes a duration in the JSON Schema of stack.yaml.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:        "string",
		Pattern:     `^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`,
		Description: "A duration such as 30s, 5m, 1h30m or 2d.",
	}
}
