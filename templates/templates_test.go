package templates

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
)

func TestNames(t *testing.T) {
	want := []string{"demo", "mlflow", "remote", "tfserving"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	if !slices.Contains(Names(), Default) {
		t.Fatalf("Default %q is not a template", Default)
	}
}

func TestStarterUnknown(t *testing.T) {
	for _, name := range []string{"", "nope", "../stacks/demo", "demo.yaml", "stacks/demo"} {
		_, err := Starter(name)
		if err == nil {
			t.Errorf("Starter(%q): no error", name)
			continue
		}
		if !strings.Contains(err.Error(), "demo, mlflow, remote, tfserving") {
			t.Errorf("Starter(%q): error %q does not list the templates", name, err)
		}
	}
}

// TestStartersValid checks each starter begins with the modeline and loads
// (parses, defaults, validates) as a stack of its kind.
func TestStartersValid(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			data, err := Starter(name)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(data, []byte("\n"))
			if string(first) != Modeline {
				t.Errorf("first line = %q, want %q", first, Modeline)
			}
			// Load from a file, as 'stackgen validate' does after 'stackgen init'.
			path := filepath.Join(t.TempDir(), "stack.yaml")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := stack.Load(path)
			if err != nil {
				t.Fatalf("starter %s does not validate:\n%v", name, err)
			}
			if len(s.Models) != 1 || s.Models[0].Kind != name {
				t.Errorf("starter %s: models = %+v, want one model of kind %s", name, s.Models, name)
			}
		})
	}
}

// TestStartersExplainEveryField checks that every stack.yaml field appears in
// each starter, either set or as a commented line "# field: ...".
func TestStartersExplainEveryField(t *testing.T) {
	fields := yamlKeys(reflect.TypeOf(stack.Stack{}), map[reflect.Type]bool{})
	for _, name := range Names() {
		data, err := Starter(name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, f := range fields {
			if !strings.Contains(text, " "+f+":") && !strings.Contains(text, "\n"+f+":") {
				t.Errorf("starter %s does not explain field %q", name, f)
			}
		}
	}
}

// yamlKeys lists the yaml keys of t and of the structs it contains.
func yamlKeys(t reflect.Type, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out = append(out, name)
		out = append(out, yamlKeys(f.Type, seen)...)
	}
	return out
}
