package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/templates"
)

// runCLI executes the CLI in-process with args and returns the exit code
// Execute would return, stdout and stderr (without Execute's final
// "stackgen: ..." line, which the error carries instead).
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string, err error) {
	t.Helper()
	root := NewRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.Execute()
	code = 0
	if err != nil {
		code = 1
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
	}
	return code, out.String(), errb.String(), err
}

func TestInitWritesEachTemplate(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(stack.EnvGrafanaAdminPassword, "x")
	for _, name := range templates.Names() {
		file := filepath.Join("stacks", name, "stack.yaml")
		code, out, _, err := runCLI(t, "init", "--template", name, "-f", file)
		if code != 0 {
			t.Fatalf("init --template %s: exit %d: %v", name, code, err)
		}
		if !strings.Contains(out, "wrote "+file) {
			t.Errorf("init output %q does not name the file", out)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := templates.Starter(name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: file differs from the %s starter", file, name)
		}
		if !strings.HasPrefix(string(got), "# yaml-language-server: $schema=") {
			t.Errorf("%s does not start with the schema modeline", file)
		}
		// What init writes, validate accepts.
		if code, _, stderr, err := runCLI(t, "validate", "-f", file); code != 0 {
			t.Errorf("validate %s: exit %d: %v\n%s", file, code, err, stderr)
		}
	}
}

func TestInitDefaultAndRefusesOverwrite(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, _, _, err := runCLI(t, "init"); code != 0 {
		t.Fatalf("init: exit %d: %v", code, err)
	}
	demo, _ := templates.Starter(templates.Default)
	if got, _ := os.ReadFile("stack.yaml"); !bytes.Equal(got, demo) {
		t.Fatal("init without flags did not write the demo starter to stack.yaml")
	}

	// A second init must not touch the (edited) file.
	if err := os.WriteFile("stack.yaml", []byte("name: mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, _, err := runCLI(t, "init", "--template", "mlflow")
	if code != 1 {
		t.Fatalf("init over an existing file: exit %d, want 1", code)
	}
	if msg := err.Error(); !strings.Contains(msg, "stack.yaml already exists") || !strings.Contains(msg, "--force") {
		t.Errorf("message %q should say the file exists and mention --force", msg)
	}
	if got, _ := os.ReadFile("stack.yaml"); string(got) != "name: mine\n" {
		t.Fatal("init without --force overwrote stack.yaml")
	}

	if code, _, _, err := runCLI(t, "init", "--template", "mlflow", "--force"); code != 0 {
		t.Fatalf("init --force: exit %d: %v", code, err)
	}
	mlflow, _ := templates.Starter("mlflow")
	if got, _ := os.ReadFile("stack.yaml"); !bytes.Equal(got, mlflow) {
		t.Fatal("init --force did not replace stack.yaml")
	}
}

func TestInitUnknownTemplate(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, _, err := runCLI(t, "init", "--template", "pytorch")
	if code != 1 || err == nil || !strings.Contains(err.Error(), `unknown template "pytorch"`) || !strings.Contains(err.Error(), "tfserving") {
		t.Fatalf("exit %d, err %v; want exit 1 naming the template and listing the choices", code, err)
	}
	if _, err := os.Stat("stack.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("init with an unknown template wrote a file")
	}
}

func TestValidateOK(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(stack.EnvGrafanaAdminPassword, "x")
	writeStackFile(t, "stack.yaml", "name: demo\nmodels:\n  - name: demo\n    kind: demo\n")
	code, out, stderr, err := runCLI(t, "validate")
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	want := "stack.yaml: OK: stack demo, 1 model (demo: demo), 9 alerts, alerting engine grafana\n"
	if out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want empty", stderr)
	}
}

func TestValidateSummaryCountsAlertsInScope(t *testing.T) {
	t.Chdir(t.TempDir())
	// An MLflow-only stack: the three TF Serving default alerts apply to no
	// model; one default is disabled; one custom alert is added.
	t.Setenv(stack.EnvGrafanaAdminPassword, "x")
	writeStackFile(t, "s.yaml", `name: shop
models:
  - name: a
    kind: mlflow
    image: a:1
  - name: b
    kind: mlflow
    image: b:1
alerting:
  engine: prometheus
alerts:
  - name: high_cpu
    enabled: false
  - name: busy
    kind: request_rate_high
    threshold: 100
`)
	code, out, _, err := runCLI(t, "validate", "--file", "s.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	want := "s.yaml: OK: stack shop, 2 models (a: mlflow, b: mlflow), 6 alerts, alerting engine prometheus\n"
	if out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	t.Chdir(t.TempDir())
	writeStackFile(t, "stack.yaml", `name: demo
models:
  - name: tf
    kind: tfserving
    prot: 8501
alerts:
  - name: slow
    kind: latency_p95_high
    threshold: -1
`)
	code, out, stderr, err := runCLI(t, "validate")
	if code != exitInvalid {
		t.Fatalf("exit %d, want %d", code, exitInvalid)
	}
	if out != "" {
		t.Errorf("stdout = %q, want empty", out)
	}
	want := `stack.yaml:3:5: models[0].model_name: kind tfserving needs model_name: (the model's name under /v1/models/NAME)
stack.yaml:5:5: models[0].prot: unknown field "prot"; did you mean "port"?
stack.yaml:9:5: alerts[0].threshold: must be > 0 (got -1)
`
	if stderr != want {
		t.Errorf("stderr =\n%s\nwant\n%s", stderr, want)
	}
	if err.Error() != "stack.yaml: 3 problem(s)" {
		t.Errorf("error = %q", err)
	}
}

func TestValidateMissingFile(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, _, err := runCLI(t, "validate", "-f", "nope.yaml")
	if code != 1 || !strings.Contains(err.Error(), "nope.yaml") || !strings.Contains(err.Error(), "stackgen init") {
		t.Fatalf("exit %d, err %v; want exit 1 naming the file and suggesting init", code, err)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, _, err := runCLI(t, "schema")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	want, err := stack.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Error("schema output differs from stack.Schema()")
	}
	var doc struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.ID != stack.SchemaID {
		t.Errorf("schema output: $id %q, err %v", doc.ID, err)
	}
	// The modeline of every starter points at this schema.
	if !strings.HasSuffix(templates.Modeline, doc.ID) {
		t.Errorf("templates.Modeline %q does not name $id %q", templates.Modeline, doc.ID)
	}
}

func TestStackFlag(t *testing.T) {
	for _, name := range []string{"init", "validate"} {
		root := NewRoot()
		c, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		f := c.Flags().Lookup("file")
		if f == nil || f.Shorthand != "f" || f.DefValue != "stack.yaml" {
			t.Errorf("%s: -f/--file flag = %+v, want default stack.yaml", name, f)
		}
	}
}

func writeStackFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestValidateRunsEveryCheck: every problem render or up would hit makes
// validate exit 2 with the located problem, before anything is written.
func TestValidateRunsEveryCheck(t *testing.T) {
	const demo = "name: demo\nmodels:\n  - name: demo\n    kind: demo\n"
	const offline = demo + "grafana:\n  enabled: false\nalerting:\n  engine: prometheus\n"
	tests := []struct {
		name   string
		stack  string // written to stack.yaml; "" makes stack.yaml a folder
		env    map[string]string
		code   int
		stderr []string // lines stderr must hold
	}{
		{name: "valid, with its secret (negative control)", stack: demo, env: map[string]string{stack.EnvGrafanaAdminPassword: "x"}},
		{name: "valid without Grafana needs no secret (negative control)", stack: offline},
		{
			name:   "bad alert template",
			stack:  offline + "alerts:\n  - name: busy\n    kind: request_rate_high\n    threshold: 5\n    summary: '{{ .Invalid'\n",
			code:   exitInvalid,
			stderr: []string{`stack.yaml:13:5: alerts[0].summary: is not a valid Prometheus alert template (line 1: unclosed action); write plain text, or e.g. {{ $labels.model }}: {{ $value }}`},
		},
		{
			name:   "models a and a-exporter",
			stack:  "name: demo\nmodels:\n  - name: a\n    kind: demo\n  - name: a-exporter\n    kind: demo\ngrafana:\n  enabled: false\nalerting:\n  engine: prometheus\n",
			code:   exitInvalid,
			stderr: []string{`stack.yaml:5:5: models[1].name: service "a-exporter" would be rendered twice: the exporter of model "a" (models[0]) and model "a-exporter" (models[1]); rename one of the models`},
		},
		{
			name:   "Grafana without its admin password",
			stack:  demo,
			code:   exitInvalid,
			stderr: []string{"stack.yaml:1:1: grafana: Grafana needs an admin password: export STACKGEN_GRAFANA_ADMIN_PASSWORD"},
		},
		{
			name:   "external SMTP without its password",
			stack:  offline + "smtp:\n  host: smtp.example.com:587\n  user: me\n  from_address: a@example.com\n  recipients: [b@example.com]\n",
			code:   exitInvalid,
			stderr: []string{`stack.yaml:11:3: smtp.user: the mail server needs a password for user "me": export STACKGEN_SMTP_PASSWORD, or set smtp.password_file to a file holding it`},
		},
		{
			name:   "two documents",
			stack:  offline + "---\nname: x\n",
			code:   exitInvalid,
			stderr: []string{"stack.yaml:9:1: stack.yaml holds one document; remove the '---' at line 9 or split the file"},
		},
		{
			name:   "a folder",
			code:   exitInvalid,
			stderr: []string{"stack.yaml: is a folder, not a stack file; name the file itself, e.g. -f stack.yaml/stack.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			for _, k := range []string{stack.EnvGrafanaAdminPassword, stack.EnvSMTPPassword} {
				t.Setenv(k, tt.env[k])
			}
			if tt.stack == "" {
				if err := os.Mkdir("stack.yaml", 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				writeStackFile(t, "stack.yaml", tt.stack)
			}
			code, _, stderr, err := runCLI(t, "validate")
			if code != tt.code {
				t.Fatalf("exit %d, want %d (err %v)\n%s", code, tt.code, err, stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if _, err := os.Stat("deploy"); !os.IsNotExist(err) {
				t.Error("validate wrote a deploy folder")
			}
		})
	}
}
