package stack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files (stack/schema.json)")

// TestSchemaUpToDate fails when the committed schema.json no longer matches
// the Go types; go generate ./stack (or go test -run TestSchemaUpToDate
// -update ./stack) refreshes it.
func TestSchemaUpToDate(t *testing.T) {
	got, err := generateSchema(".")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("stack/schema.json is stale; run: go generate ./stack")
	}
}

func TestSchemaDeterministic(t *testing.T) {
	a, err := generateSchema(".")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, err := generateSchema(".")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("generateSchema is not deterministic")
		}
	}
}

// schemaDoc is the part of the schema the tests look at.
type schemaDoc struct {
	ID                   string                `json:"$id"`
	Schema               string                `json:"$schema"`
	Type                 string                `json:"type"`
	Required             []string              `json:"required"`
	AdditionalProperties *bool                 `json:"additionalProperties"`
	Properties           map[string]schemaProp `json:"properties"`
	Defs                 map[string]schemaDef  `json:"$defs"`
}

type schemaProp struct {
	Ref         string   `json:"$ref"`
	Type        string   `json:"type"`
	Description string   `json:"description"`
	Pattern     string   `json:"pattern"`
	Enum        []string `json:"enum"`
}

type schemaDef struct {
	Type                 string                `json:"type"`
	Required             []string              `json:"required"`
	AdditionalProperties *bool                 `json:"additionalProperties"`
	Properties           map[string]schemaProp `json:"properties"`
}

func TestSchemaContent(t *testing.T) {
	data, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s schemaDoc
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if s.ID != SchemaID {
		t.Errorf("$id = %q, want %q", s.ID, SchemaID)
	}
	if s.Schema == "" || s.Type != "object" {
		t.Errorf("$schema = %q, type = %q", s.Schema, s.Type)
	}
	if len(s.Required) != 2 || s.Required[0] != "name" || s.Required[1] != "models" {
		t.Errorf("required = %v, want [name models]", s.Required)
	}
	if s.AdditionalProperties == nil || *s.AdditionalProperties {
		t.Error("root additionalProperties must be false")
	}
	// yaml names, not Go or json names.
	for _, k := range []string{"name", "bind_address", "models", "exporter", "prometheus", "grafana", "alerting", "alerts", "smtp"} {
		if _, ok := s.Properties[k]; !ok {
			t.Errorf("root property %q missing", k)
		}
	}
	if _, ok := s.Properties["File"]; ok {
		t.Error(`yaml:"-" field File is in the schema`)
	}
	if d := s.Properties["name"].Description; d == "" {
		t.Error("root name has no description (doc comments not applied)")
	}
	for _, def := range []string{"Model", "Exporter", "Prometheus", "Grafana", "Alerting", "Alert", "SMTP"} {
		d, ok := s.Defs[def]
		if !ok {
			t.Errorf("$defs.%s missing", def)
			continue
		}
		if d.AdditionalProperties == nil || *d.AdditionalProperties {
			t.Errorf("$defs.%s: additionalProperties must be false", def)
		}
		for k, p := range d.Properties {
			if p.Description == "" {
				t.Errorf("$defs.%s.%s has no description", def, k)
			}
		}
	}
	if got := s.Defs["Model"].Properties["kind"].Enum; len(got) != 5 {
		t.Errorf("models[].kind enum = %v", got)
	}
	if got := s.Defs["Alert"].Properties["kind"].Enum; len(got) != len(AlertKinds) {
		t.Errorf("alerts[].kind enum = %v, want the %d catalog kinds", got, len(AlertKinds))
	}
	if got := s.Defs["SMTP"].Properties["starttls_policy"].Enum; len(got) != 3 {
		t.Errorf("smtp.starttls_policy enum = %v", got)
	}
}
