package commands

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
)

// TestReportGrafana checks when the report asks Grafana for rule states:
// only for engine grafana with Grafana in the stack and the admin password
// in the environment, logging in as grafana.admin_user on the host port;
// otherwise it says why not (and says nothing for engine prometheus).
func TestReportGrafana(t *testing.T) {
	const base = "name: g\nmodels: [{name: demo, kind: demo}]\n"
	tests := []struct {
		name     string
		yaml     string
		password string
		wantURL  string // "" means no Grafana client
		wantUser string
		skipped  string // substring of the reason; "" means none
	}{
		{"engine grafana with password", base + "grafana: {port: 3300, admin_user: boss}\nalerting: {engine: grafana}\n", "s3cret", "http://127.0.0.1:3300", "boss", ""},
		{"engine grafana without password", base + "alerting: {engine: grafana}\n", "", "", "", stack.EnvGrafanaAdminPassword + " is not set"},
		{"grafana disabled", base + "grafana: {enabled: false}\nalerting: {engine: prometheus}\n", "s3cret", "", "", ""},
		{"engine prometheus", base + "alerting: {engine: prometheus}\n", "s3cret", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := stack.Parse([]byte(tt.yaml), filepath.Join(t.TempDir(), "stack.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			getenv := func(k string) string {
				if k == stack.EnvGrafanaAdminPassword {
					return tt.password
				}
				return ""
			}
			g, skipped := reportGrafana(s, getenv)
			if tt.wantURL == "" {
				if g != nil {
					t.Errorf("Grafana = %v, want none", g)
				}
			} else if g == nil || g.URL != tt.wantURL || g.User != tt.wantUser {
				t.Errorf("Grafana = %v, want %s@%s", g, tt.wantUser, tt.wantURL)
			}
			if (tt.skipped == "") != (skipped == "") || !strings.Contains(skipped, tt.skipped) {
				t.Errorf("skipped = %q, want %q", skipped, tt.skipped)
			}
			shown := skipped
			if g != nil {
				shown += g.String() + g.GoString()
			}
			if tt.password != "" && strings.Contains(shown, tt.password) {
				t.Errorf("the password shows in %q", shown)
			}
		})
	}
}

// TestOpenReport checks what --open does: it opens the report only where
// there is a display and an opener, and says why not otherwise (never
// silently).
func TestOpenReport(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	found := func(name string) (string, error) { return "/usr/bin/" + name, nil }
	missing := func(name string) (string, error) { return "", errors.New("not found") }
	ok := func(string, string) error { return nil }
	broken := func(string, string) error { return errors.New("exit status 3") }
	tests := []struct {
		name   string
		goos   string
		env    map[string]string
		look   func(string) (string, error)
		run    func(string, string) error
		want   string // substring of the message; "" means opened
		opener string // the opener that must have been run
	}{
		{"linux with X", "linux", map[string]string{"DISPLAY": ":0"}, found, ok, "", "/usr/bin/xdg-open"},
		{"linux with Wayland", "linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, found, ok, "", "/usr/bin/xdg-open"},
		{"linux without display", "linux", nil, found, ok, "no display", ""},
		{"no opener", "linux", map[string]string{"DISPLAY": ":0"}, missing, ok, "no browser opener (xdg-open)", ""},
		{"opener fails", "linux", map[string]string{"DISPLAY": ":0"}, found, broken, "xdg-open failed (exit status 3)", "/usr/bin/xdg-open"},
		{"macOS needs no DISPLAY", "darwin", nil, found, ok, "", "/usr/bin/open"},
		{"windows", "windows", nil, found, ok, "not supported on Windows", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran string
			run := func(bin, path string) error {
				ran = bin
				if path != "/r/index.html" {
					t.Errorf("opened %q", path)
				}
				return tt.run(bin, path)
			}
			msg := openReport("/r/index.html", tt.goos, env(tt.env), tt.look, run)
			if (tt.want == "") != (msg == "") || !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want %q", msg, tt.want)
			}
			if ran != tt.opener {
				t.Errorf("ran %q, want %q", ran, tt.opener)
			}
		})
	}
}
