package commands

import (
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
