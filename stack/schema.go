package stack

import (
	"bytes"
	_ "embed" // schema.json is embedded
	"encoding/json"
	"fmt"
	"strings"

	"github.com/invopop/jsonschema"
)

//go:generate go test -run TestSchemaUpToDate -update .

// SchemaID is the $id of the stack.yaml JSON Schema: the committed
// stack/schema.json on the main branch, which starter stacks name in their
// yaml-language-server modeline.
const SchemaID = "https://raw.githubusercontent.com/stackgen/stackgen/main/stack/schema.json"

// schemaJSON is the committed output of generateSchema(".") (go generate
// ./stack refreshes it; TestSchemaUpToDate fails when it is stale).
//
//go:embed schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of stack.yaml, generated
// from the Go types of this package with their doc comments as descriptions.
// The bytes are the same on every call and every platform.
func Schema() ([]byte, error) {
	if len(schemaJSON) == 0 {
		return nil, fmt.Errorf("stack schema: embedded schema.json is empty; run go generate ./stack")
	}
	return append([]byte(nil), schemaJSON...), nil
}

// generateSchema reflects the JSON Schema from the Go types. srcDir is the
// folder holding this package's source, read for doc comments; "" skips
// descriptions taken from comments.
func generateSchema(srcDir string) ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:   "yaml",
		ExpandedStruct: true,
	}
	if srcDir != "" {
		if err := r.AddGoComments("github.com/stackgen/stackgen/stack", srcDir); err != nil {
			return nil, fmt.Errorf("stack schema: read doc comments in %s: %w", srcDir, err)
		}
		// Comments wrap at ~100 columns; descriptions read better on one line.
		for k, v := range r.CommentMap {
			r.CommentMap[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	s := r.Reflect(&Stack{})
	s.ID = jsonschema.ID(SchemaID)
	s.Title = "stackgen stack.yaml"
	s.Description = "One stack.yaml describes a monitoring stack (exporter, Prometheus, Grafana, alerts, email) for one or more ML model servers. Run 'stackgen init' for a commented starter and 'stackgen validate' to check a file."
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("stack schema: marshal: %w", err)
	}
	// Schema.MarshalJSON escapes <, > and & itself; the literal characters
	// are equally valid JSON and easier to read.
	out := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(buf.String())
	return []byte(out), nil
}

// JSONSchemaExtend lists the alert kinds of the built-in catalog in the
// schema, so editors complete and check alerts[].kind.
func (Alert) JSONSchemaExtend(s *jsonschema.Schema) {
	p, ok := s.Properties.Get("kind")
	if !ok {
		return
	}
	names := AlertKindNames()
	var desc []string
	for _, n := range names {
		p.Enum = append(p.Enum, n)
		desc = append(desc, n+": "+AlertKinds[n].Description)
	}
	p.Description = strings.TrimSpace(p.Description + " " + strings.Join(desc, "; ") + ".")
}
