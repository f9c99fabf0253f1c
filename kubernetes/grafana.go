package kubernetes

import (
	"fmt"
	"path"
	"strings"

	yamlv3 "gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/grafana"
	"github.com/stackgen/stackgen/stack"
)

// File names of the Grafana objects.
const (
	DatasourceFile    = "grafana-datasource-configmap.yaml"
	GrafanaAlertsFile = "grafana-alerting-configmap.yaml"
)

// DashboardFile is the manifest of the ConfigMap carrying dashboard file f
// (a dashboards.Build key).
func DashboardFile(f string) string {
	return "grafana-dashboard-" + strings.TrimPrefix(strings.TrimSuffix(path.Base(f), ".json"), "_") + "-configmap.yaml"
}

// grafana adds, when Grafana is enabled, one ConfigMap per dashboard (the
// compose target's bytes), the data source the dashboards and rules refer to
// (uid stack.GrafanaDatasourceUID) and, for engine grafana, the alert
// provisioning files.
func (b *builder) grafana() error {
	if !b.s.Grafana.IsEnabled() {
		return nil
	}
	ds, err := dashboards.Build(b.s)
	if err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	for _, f := range sortedKeys(ds) {
		name := strings.TrimSuffix(DashboardFile(f), ".yaml")
		name = strings.TrimSuffix(name, "-configmap")
		cm := b.configMap(b.s.Name+"-"+strings.TrimPrefix(name, "grafana-"), "dashboard",
			map[string]string{LabelGrafanaDashboard: "1"}, map[string]string{path.Base(f): string(ds[f])})
		cm.Annotations = map[string]string{AnnotationGrafanaFolder: b.s.GrafanaFolder()}
		b.add(DashboardFile(f), cm)
	}
	dsFile, err := b.datasource()
	if err != nil {
		return err
	}
	b.add(DatasourceFile, b.configMap(b.s.Name+"-datasource", "datasource",
		map[string]string{LabelGrafanaDatasource: "1"}, map[string]string{"stackgen-datasource.yaml": string(dsFile)}))
	if b.s.Alerting.Engine != stack.EngineGrafana {
		return nil
	}
	files, err := alerting.Render(b.s)
	if err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	data := map[string]string{}
	for _, f := range sortedKeys(files) {
		data[path.Base(f)] = string(files[f])
	}
	b.add(GrafanaAlertsFile, b.configMap(b.s.Name+"-alerting", "alerting",
		map[string]string{LabelGrafanaAlert: "1"}, data))
	return nil
}

// datasource provisions the Prometheus of kube-prometheus-stack under the uid
// the dashboards and alert rules use, next to the chart's own data source.
func (b *builder) datasource() ([]byte, error) {
	ds := grafana.DatasourceFileContent{APIVersion: 1, Datasources: []grafana.Datasource{{
		Name:     "stackgen " + b.s.Name,
		Type:     "prometheus",
		UID:      stack.GrafanaDatasourceUID,
		Access:   "proxy",
		URL:      b.s.Kubernetes.PrometheusURL,
		JSONData: grafana.DatasourceJSON{TimeInterval: b.s.Prometheus.ScrapeInterval.String(), HTTPMethod: "POST"},
	}}}
	data, err := yamlv3.Marshal(ds)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: datasource: %w", err)
	}
	return data, nil
}

func (b *builder) configMap(name, component string, extra, data map[string]string) *corev1.ConfigMap {
	l := b.labels(b.s.Name, component)
	for k, v := range extra {
		l[k] = v
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: b.meta(name, l),
		Data:       data,
	}
}
