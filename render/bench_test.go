package render

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
)

// fiftyModels is a stack with 50 models of every local kind, the size the
// rendering goal (under 1 s) is stated for.
func fiftyModels(b *testing.B) *stack.Stack {
	var sb strings.Builder
	sb.WriteString("name: big\nmodels:\n")
	for i := 0; i < 50; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&sb, "  - {name: m%d, kind: demo}\n", i)
		case 1:
			fmt.Fprintf(&sb, "  - {name: m%d, kind: mlflow, image: \"user/m%d:1\"}\n", i, i)
		default:
			fmt.Fprintf(&sb, "  - {name: m%d, kind: tfserving, model_name: tf%d}\n", i, i)
		}
	}
	sb.WriteString("exporter: {port: 18000}\n")
	s, err := stack.Parse([]byte(sb.String()), filepath.Join(b.TempDir(), "stack.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRender50Models measures rendering every file of a 50-model stack
// in memory (goal: well under 1 s per render).
func BenchmarkRender50Models(b *testing.B) {
	s := fiftyModels(b)
	out := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Render(s, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite50Models includes writing the deploy folder.
func BenchmarkWrite50Models(b *testing.B) {
	s := fiftyModels(b)
	out := filepath.Join(b.TempDir(), "deploy")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Write(s, out); err != nil {
			b.Fatal(err)
		}
	}
}
