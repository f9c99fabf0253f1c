package commands

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/model"
)

func runModel(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := NewRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"model"}, args...))
	err := root.Execute()
	return out.String(), errb.String(), err
}

func TestModelExample(t *testing.T) {
	for _, f := range model.Formats() {
		out, _, err := runModel(t, "example", "--format", f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want, _, _ := model.Example(model.Default(), f)
		if strings.TrimSuffix(out, "\n") != strings.TrimSuffix(string(want), "\n") {
			t.Fatalf("%s: got %q, want %q", f, out, want)
		}
	}
	_, _, err := runModel(t, "example", "--format", "xml")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 {
		t.Fatalf("unknown format: %v", err)
	}
}

func TestModelTrainReproducesDefault(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "attrition.csv")
	if err := os.WriteFile(data, model.AttritionCSV(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "model.json")
	if _, stderr, err := runModel(t, "train", "--data", data, "--target", "attrition", "-o", out); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	def := model.Default()
	if m.Name != def.Name || m.Training.Accuracy != def.Training.Accuracy || len(m.Weights) != len(def.Weights) {
		t.Fatalf("trained model differs from the default:\n%s", got)
	}
	// The example command accepts the trained file.
	if _, _, err := runModel(t, "example", "--model", out, "--format", "csv"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"train", "--data", data, "-o", out},                                               // no target
		{"train", "--data", data, "--target", "attrition"},                                 // no output
		{"train", "--data", filepath.Join(dir, "missing.csv"), "--target", "y", "-o", out}, // no file
		{"train", "--data", data, "--target", "nope", "-o", out},                           // bad target
		{"serve", "--error-rate", "2"},                                                     // bad rate
		{"serve", "--model", filepath.Join(dir, "missing.json")},                           // no model
	} {
		if _, _, err := runModel(t, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
