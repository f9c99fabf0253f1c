// Package grafana renders Grafana's file provisioning for a stack: the
// Prometheus data source and the dashboard provider. Dashboards come from the
// dashboards package and alerting provisioning from the alerting package.
package grafana

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/stack"
)

// Rendered files, relative to the deploy folder.
const (
	DatasourceFile = "grafana/provisioning/datasources/prometheus.yml"
	ProviderFile   = "grafana/provisioning/dashboards/stackgen.yml"
	// DashboardsPath is where the compose file mounts grafana/dashboards.
	DashboardsPath = "/etc/grafana/dashboards"
)

// DatasourceFileContent is Grafana's data source provisioning file.
type DatasourceFileContent struct {
	APIVersion  int          `yaml:"apiVersion"`
	Datasources []Datasource `yaml:"datasources"`
}

// Datasource is one provisioned data source.
type Datasource struct {
	Name      string         `yaml:"name"`
	Type      string         `yaml:"type"`
	UID       string         `yaml:"uid"`
	Access    string         `yaml:"access"`
	URL       string         `yaml:"url"`
	IsDefault bool           `yaml:"isDefault"`
	Editable  bool           `yaml:"editable"`
	JSONData  DatasourceJSON `yaml:"jsonData"`
}

// DatasourceJSON holds the Prometheus data source settings.
type DatasourceJSON struct {
	TimeInterval string `yaml:"timeInterval"`
	HTTPMethod   string `yaml:"httpMethod"`
}

// ProviderFileContent is Grafana's dashboard provider provisioning file.
type ProviderFileContent struct {
	APIVersion int        `yaml:"apiVersion"`
	Providers  []Provider `yaml:"providers"`
}

// Provider loads dashboards from a folder.
type Provider struct {
	Name                  string          `yaml:"name"`
	OrgID                 int             `yaml:"orgId"`
	Folder                string          `yaml:"folder"`
	Type                  string          `yaml:"type"`
	DisableDeletion       bool            `yaml:"disableDeletion"`
	AllowUIUpdates        bool            `yaml:"allowUiUpdates"`
	UpdateIntervalSeconds int             `yaml:"updateIntervalSeconds"`
	Options               ProviderOptions `yaml:"options"`
}

// ProviderOptions points the provider at the dashboards folder.
type ProviderOptions struct {
	Path                      string `yaml:"path"`
	FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
}

// Render returns the data source and dashboard provider files for s, or
// nothing when Grafana is disabled. Dashboards share the alert rules' folder,
// and a dashboard whose file is no longer rendered (a removed model) is
// deleted from Grafana.
func Render(s *stack.Stack) (map[string][]byte, error) {
	if !s.Grafana.IsEnabled() {
		return map[string][]byte{}, nil
	}
	ds := DatasourceFileContent{APIVersion: 1, Datasources: []Datasource{{
		Name:      "Prometheus",
		Type:      "prometheus",
		UID:       stack.GrafanaDatasourceUID,
		Access:    "proxy",
		URL:       "http://" + stack.ServicePrometheus + ":" + strconv.Itoa(stack.PrometheusContainerPort),
		IsDefault: true,
		Editable:  false,
		JSONData:  DatasourceJSON{TimeInterval: s.Prometheus.ScrapeInterval.String(), HTTPMethod: "POST"},
	}}}
	pr := ProviderFileContent{APIVersion: 1, Providers: []Provider{{
		Name:                  "stackgen",
		OrgID:                 1,
		Folder:                s.GrafanaFolder(),
		Type:                  "file",
		DisableDeletion:       false,
		AllowUIUpdates:        false,
		UpdateIntervalSeconds: 30,
		Options:               ProviderOptions{Path: DashboardsPath},
	}}}
	out := map[string][]byte{}
	for path, v := range map[string]any{DatasourceFile: ds, ProviderFile: pr} {
		data, err := yaml.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", path, err)
		}
		out[path] = data
	}
	return out, nil
}
