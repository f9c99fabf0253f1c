// Package testtool finds the external programs tests run against (promtool,
// amtool, alertmanager, docker). Without the program a test skips, unless
// STACKGEN_REQUIRE_TOOLS=1 (set by .ci/run): then it fails, so CI never
// passes by skipping the checks against the real thing.
package testtool

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a missing tool into a
// test failure.
const RequireEnv = "STACKGEN_REQUIRE_TOOLS"

// Required reports whether missing tools fail tests (STACKGEN_REQUIRE_TOOLS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Path returns the path of the first of names found on PATH. When none is,
// the test fails (STACKGEN_REQUIRE_TOOLS=1) or is skipped, with hint (how to
// install it) in the message.
func Path(t testing.TB, hint string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, strings.Join(names, " or ")+" not on PATH ("+hint+")")
	return ""
}

// Missing skips the test with why, or fails it when tools are required.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s; %s=1, so this fails instead of skipping", why, RequireEnv)
		return
	}
	t.Skip(why)
}
