package commands

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadExitCodes: bad input exits 2 with a message naming the fix; a run
// against a live server exits 0 (control); one where nothing succeeds exits 1.
func TestLoadExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"predictions": [0]}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string // in the error message
	}{
		{"control: live server", []string{"--url", srv.URL + "/predict", "-n", "5", "-c", "1"}, 0, ""},
		{"URL without a scheme", []string{"--url", strings.TrimPrefix(srv.URL, "http://") + "/predict", "-n", "1"}, 2, "http://"},
		{"missing payload file", []string{"--url", srv.URL, "-n", "1", "--payload", filepath.Join(dir, "nope.json")}, 2, "nope.json"},
		{"header value with CR/LF", []string{"--url", srv.URL, "-n", "1", "-H", "X-A: b\r\nX-Evil: 1"}, 2, "X-A"},
		{"missing stack.yaml", []string{"-f", filepath.Join(dir, "stack.yaml"), "-n", "1"}, 2, "stack.yaml"},
		{"nothing succeeds", []string{"--url", "http://127.0.0.1:1/predict", "-n", "2", "-c", "1"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _, err := runCLI(t, append([]string{"load"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v does not mention %q", err, tt.want)
			}
		})
	}
}
