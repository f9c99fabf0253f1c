package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// MaxDashboardUIDLength is the longest dashboard uid Grafana accepts.
const MaxDashboardUIDLength = 40

var (
	dashUIDRE     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	dashUIDBadRun = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)
)

// ModelDashboardUID is the uid of model m's Grafana dashboard, the same as
// dashboards.ModelUID, for renderers that link to a panel (alert emails)
// without importing the dashboards package.
func (s *Stack) ModelDashboardUID(m Model) string { return dashboardUID("model", s.Name, m.Name) }

// OverviewDashboardUID is the uid of the stack's overview dashboard, the
// same as dashboards.OverviewUID.
func (s *Stack) OverviewDashboardUID() string { return dashboardUID("overview", s.Name, "-overview") }

// dashboardUID joins stack and name into a Grafana uid ([a-zA-Z0-9_-], at
// most 40 characters); names that do not fit are shortened and made unique
// with a hash of kind, stack and name.
func dashboardUID(kind, stackName, name string) string {
	u := stackName + "-" + name
	if len(u) <= MaxDashboardUIDLength && dashUIDRE.MatchString(u) {
		return u
	}
	sum := sha256.Sum256([]byte(kind + "\x00" + stackName + "\x00" + name))
	h := hex.EncodeToString(sum[:])[:10]
	p := dashUIDBadRun.ReplaceAllString(u, "_")
	if maxPrefix := MaxDashboardUIDLength - len(h) - 1; len(p) > maxPrefix {
		p = p[:maxPrefix]
	}
	return p + "-" + h
}
