package kubernetes

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/yaml"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/dashboards"
	"github.com/stackgen/stackgen/drift"
	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

// examples are the repository's example stacks.
var examples = []string{"demo", "mlflow", "offline", "remote", "tfserving"}

func loadExample(t *testing.T, name string) *stack.Stack {
	t.Helper()
	s, err := stack.Load(filepath.Join("..", "examples", name, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func render(t *testing.T, s *stack.Stack) map[string][]byte {
	t.Helper()
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestObjectsPerExample pins the kinds and names rendered for each example,
// and checks every object's namespace and recommended labels.
func TestObjectsPerExample(t *testing.T) {
	tests := []struct {
		example string
		want    []string // "file Kind/name"
	}{
		{"demo", []string{
			"demo-baseline-configmap.yaml ConfigMap/demo-baseline",
			"demo-deployment.yaml Deployment/demo", "demo-service.yaml Service/demo", "demo-servicemonitor.yaml ServiceMonitor/demo",
			"grafana-alerting-configmap.yaml ConfigMap/demo-alerting", "grafana-dashboard-demo-configmap.yaml ConfigMap/demo-dashboard-demo",
			"grafana-dashboard-overview-configmap.yaml ConfigMap/demo-dashboard-overview", "grafana-datasource-configmap.yaml ConfigMap/demo-datasource",
			"namespace.yaml Namespace/demo", "prometheusrule.yaml PrometheusRule/demo",
		}},
		{"mlflow", []string{
			"attrition-deployment.yaml Deployment/attrition", "attrition-service.yaml Service/attrition", "attrition-servicemonitor.yaml ServiceMonitor/attrition",
			"grafana-alerting-configmap.yaml ConfigMap/attrition-alerting", "grafana-dashboard-attrition-configmap.yaml ConfigMap/attrition-dashboard-attrition",
			"grafana-dashboard-overview-configmap.yaml ConfigMap/attrition-dashboard-overview", "grafana-datasource-configmap.yaml ConfigMap/attrition-datasource",
			"namespace.yaml Namespace/attrition", "prometheusrule.yaml PrometheusRule/attrition",
		}},
		{"offline", []string{
			"demo-baseline-configmap.yaml ConfigMap/demo-baseline",
			"demo-deployment.yaml Deployment/demo", "demo-service.yaml Service/demo", "demo-servicemonitor.yaml ServiceMonitor/demo",
			"namespace.yaml Namespace/offline", "prometheusrule.yaml PrometheusRule/offline",
		}},
		{"remote", []string{
			"diabetes-deployment.yaml Deployment/diabetes", "diabetes-service.yaml Service/diabetes", "diabetes-servicemonitor.yaml ServiceMonitor/diabetes",
			"grafana-alerting-configmap.yaml ConfigMap/remote-alerting", "grafana-dashboard-diabetes-configmap.yaml ConfigMap/remote-dashboard-diabetes",
			"grafana-dashboard-overview-configmap.yaml ConfigMap/remote-dashboard-overview", "grafana-datasource-configmap.yaml ConfigMap/remote-datasource",
			"namespace.yaml Namespace/remote", "prometheusrule.yaml PrometheusRule/remote",
		}},
		{"tfserving", []string{
			"diabetes-deployment.yaml Deployment/diabetes", "diabetes-service.yaml Service/diabetes", "diabetes-servicemonitor.yaml ServiceMonitor/diabetes",
			"diabetes-tfserving-configmap.yaml ConfigMap/diabetes-tfserving",
			"grafana-alerting-configmap.yaml ConfigMap/diabetes-alerting", "grafana-dashboard-diabetes-configmap.yaml ConfigMap/diabetes-dashboard-diabetes",
			"grafana-dashboard-overview-configmap.yaml ConfigMap/diabetes-dashboard-overview", "grafana-datasource-configmap.yaml ConfigMap/diabetes-datasource",
			"namespace.yaml Namespace/diabetes", "prometheusrule.yaml PrometheusRule/diabetes",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.example, func(t *testing.T) {
			s := loadExample(t, tc.example)
			objs, err := Objects(s)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				acc, err := meta.Accessor(o.Object)
				if err != nil {
					t.Fatal(err)
				}
				kind := o.Object.GetObjectKind().GroupVersionKind().Kind
				got = append(got, o.File+" "+kind+"/"+acc.GetName())
				if kind != "Namespace" && acc.GetNamespace() != s.Kubernetes.Namespace {
					t.Errorf("%s: namespace %q, want %q", o.File, acc.GetNamespace(), s.Kubernetes.Namespace)
				}
				l := acc.GetLabels()
				for k, v := range map[string]string{LabelPartOf: PartOf, LabelManagedBy: ManagedBy, LabelInstance: s.Name} {
					if l[k] != v {
						t.Errorf("%s: label %s=%q, want %q", o.File, k, l[k], v)
					}
				}
				if l[LabelName] == "" {
					t.Errorf("%s: no %s label", o.File, LabelName)
				}
				if kind == "ServiceMonitor" || kind == "PrometheusRule" {
					if l["release"] != s.Name {
						t.Errorf("%s: release=%q, want the default selector release: %s", o.File, l["release"], s.Name)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("objects:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestKustomizationListsEveryFile: kubectl apply -k applies exactly the rendered manifests.
func TestKustomizationListsEveryFile(t *testing.T) {
	for _, ex := range examples {
		files := render(t, loadExample(t, ex))
		var k Kustomization
		if err := yaml.UnmarshalStrict(files[KustomizationFile], &k); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		var want []string
		for f := range files {
			if f != KustomizationFile {
				want = append(want, f)
			}
		}
		sort.Strings(want)
		if !reflect.DeepEqual(k.Resources, want) {
			t.Errorf("%s: resources %q, want %q", ex, k.Resources, want)
		}
	}
}

// TestDashboardsByteIdentical: each dashboard ConfigMap carries the compose
// target's dashboard bytes, and every compose dashboard has one.
func TestDashboardsByteIdentical(t *testing.T) {
	for _, ex := range examples {
		s := loadExample(t, ex)
		if !s.Grafana.IsEnabled() {
			continue // compose renders no dashboards either
		}
		want, err := dashboards.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		files := render(t, s)
		for path, data := range want {
			var cm corev1.ConfigMap
			f := DashboardFile(path)
			if err := yaml.UnmarshalStrict(files[f], &cm); err != nil {
				t.Fatalf("%s: %s: %v", ex, f, err)
			}
			if cm.Labels[LabelGrafanaDashboard] != "1" {
				t.Errorf("%s: %s: labels %v lack %s: \"1\"", ex, f, cm.Labels, LabelGrafanaDashboard)
			}
			got, ok := cm.Data[filepath.Base(path)]
			if !ok || !bytes.Equal([]byte(got), data) {
				t.Errorf("%s: %s: dashboard differs from the compose target's %s", ex, f, path)
			}
		}
	}
}

// TestGrafanaAlertsSameFiles: for engine grafana the grafana_alert ConfigMap
// holds exactly the provisioning files the compose target renders.
func TestGrafanaAlertsSameFiles(t *testing.T) {
	for _, ex := range []string{"demo", "mlflow", "remote", "tfserving"} {
		s := loadExample(t, ex)
		compose, err := alerting.Render(s)
		if err != nil {
			t.Fatal(err)
		}
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(render(t, s)[GrafanaAlertsFile], &cm); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		if cm.Labels[LabelGrafanaAlert] != "1" {
			t.Errorf("%s: labels %v lack %s", ex, cm.Labels, LabelGrafanaAlert)
		}
		if len(cm.Data) != len(compose) {
			t.Errorf("%s: %d files, compose renders %d", ex, len(cm.Data), len(compose))
		}
		for p, data := range compose {
			if cm.Data[filepath.Base(p)] != string(data) {
				t.Errorf("%s: %s differs from the compose target's", ex, p)
			}
		}
	}
}

// TestPrometheusRuleMatchesCompose: the PrometheusRule's groups, read back by
// Prometheus' rule parser, equal the rule file the compose target renders for
// engine prometheus (the one promtool test rules covers), for every example,
// and promtool accepts them.
func TestPrometheusRuleMatchesCompose(t *testing.T) {
	promtool := testtool.Path(t, "apt-get install prometheus", "promtool")
	p := parser.NewParser(parser.Options{})
	parse := func(name string, data []byte) *rulefmt.RuleGroups {
		g, errs := rulefmt.Parse(data, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%s: %v\n%s", name, errs, data)
		}
		return g
	}
	for _, ex := range examples {
		t.Run(ex, func(t *testing.T) {
			s := loadExample(t, ex)
			files := render(t, s)
			var pr monitoringv1.PrometheusRule
			if err := yaml.UnmarshalStrict(files[PrometheusRuleFile], &pr); err != nil {
				t.Fatal(err)
			}
			spec, err := yaml.Marshal(pr.Spec)
			if err != nil {
				t.Fatal(err)
			}
			withPrometheus := *s
			withPrometheus.Alerting.Engine = stack.EnginePrometheus
			compose, err := alerting.Render(&withPrometheus)
			if err != nil {
				t.Fatal(err)
			}
			got := parse("PrometheusRule spec", spec)
			want := parse(alerting.PrometheusRulesPath, compose[alerting.PrometheusRulesPath])
			// Then the drift recording rules, model by model.
			driftFiles, err := drift.Render(s, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range s.Models {
				if data, ok := driftFiles[drift.RulesPath(m.Name)]; ok {
					want.Groups = append(want.Groups, parse(drift.RulesPath(m.Name), data).Groups...)
				}
			}
			if len(want.Groups) == 0 || len(want.Groups[0].Rules) == 0 {
				t.Fatal("compose renders no rules: the comparison would be vacuous")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("PrometheusRule groups differ from %s:\n%s\nvs\n%s", alerting.PrometheusRulesPath, spec, compose[alerting.PrometheusRulesPath])
			}
			dir := t.TempDir()
			for _, tc := range []struct {
				name string
				data []byte
				ok   bool
			}{
				{"spec.yml", spec, true},
				// Negative control: promtool does reject a broken expression.
				{"broken.yml", bytes.Replace(spec, []byte("expr: "), []byte("expr: sum(("), 1), false},
			} {
				f := filepath.Join(dir, tc.name)
				if err := os.WriteFile(f, tc.data, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
				if (err == nil) != tc.ok {
					t.Errorf("promtool check rules %s: err=%v, want ok=%v\n%s", tc.name, err, tc.ok, out)
				}
			}
		})
	}
}

// TestServiceMonitorJobs: the scrape jobs get the compose target's job and
// model labels, so dashboard and rule queries select the same series.
func TestServiceMonitorJobs(t *testing.T) {
	tests := []struct {
		example string
		want    []string // "port path job model"
	}{
		{"demo", []string{"exporter /metrics ml_model_exporter demo", "model /monitoring/prometheus/metrics model_server demo"}},
		{"mlflow", []string{"exporter /metrics ml_model_exporter attrition"}},
		{"remote", []string{"exporter /metrics ml_model_exporter diabetes"}},
		{"tfserving", []string{"exporter /metrics ml_model_exporter diabetes", "model /monitoring/prometheus/metrics model_server diabetes"}},
	}
	for _, tc := range tests {
		s := loadExample(t, tc.example)
		m := s.Models[0]
		var sm monitoringv1.ServiceMonitor
		if err := yaml.UnmarshalStrict(render(t, s)[m.Name+"-servicemonitor.yaml"], &sm); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ep := range sm.Spec.Endpoints {
			labels := map[string]string{}
			for _, r := range ep.RelabelConfigs {
				if r.Action == "replace" && len(r.SourceLabels) == 0 && r.Replacement != nil {
					labels[r.TargetLabel] = *r.Replacement
				}
			}
			got = append(got, strings.Join([]string{ep.Port, ep.Path, labels["job"], labels[stack.ModelLabel]}, " "))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: endpoints %q, want %q", tc.example, got, tc.want)
		}
	}
}

// TestDeployment: replicas, the exporter as a second container pointed at
// the model on loopback (or the remote URL), probes and resources.
func TestDeployment(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		containers []string
		replicas   int32
		upstream   string
		readiness  string // model container's readiness path
		cpu        string // model container's cpu request
	}{
		{"demo", "name: d\nmodels: [{name: demo, kind: demo, replicas: 3}]\n", []string{"model", "exporter"}, 3, "http://127.0.0.1:8080", "/ping", "100m"},
		{"remote", "name: r\nmodels: [{name: r1, kind: remote, url: 'https://m.example.com', protocol: mlflow}]\n", []string{"exporter"}, 1, "https://m.example.com", "", ""},
		{"resources", "name: d\nmodels: [{name: demo, kind: demo}]\nkubernetes: {resources: {demo: {model: {requests: {cpu: 750m}}}}}\n", []string{"model", "exporter"}, 1, "http://127.0.0.1:8080", "/ping", "750m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := stack.Parse([]byte(tc.yaml), "stack.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(render(t, s)[s.Models[0].Name+"-deployment.yaml"], &d); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range d.Spec.Template.Spec.Containers {
				names = append(names, c.Name)
				switch c.Name {
				case PortExporter:
					if i := indexOf(c.Args, "--upstream"); i < 0 || c.Args[i+1] != tc.upstream {
						t.Errorf("exporter args %q, want --upstream %s", c.Args, tc.upstream)
					}
					if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
						t.Errorf("exporter readiness probe %+v, want GET /readyz", c.ReadinessProbe)
					}
				case PortModel:
					if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != tc.readiness {
						t.Errorf("model readiness probe %+v, want GET %s", c.ReadinessProbe, tc.readiness)
					}
					if got := c.Resources.Requests.Cpu().String(); got != tc.cpu {
						t.Errorf("model cpu request %s, want %s", got, tc.cpu)
					}
				}
			}
			if !reflect.DeepEqual(names, tc.containers) {
				t.Errorf("containers %q, want %q", names, tc.containers)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != tc.replicas {
				t.Errorf("replicas %v, want %d", d.Spec.Replicas, tc.replicas)
			}
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// TestNoSecretValues: the SMTP password (from password_file or the
// environment) appears in no rendered file; the AlertmanagerConfig refers to
// the user's Secret by name and key.
func TestNoSecretValues(t *testing.T) {
	const secret = "s3cret-Pa55word-value"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smtp.pass"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(stack.EnvSMTPPassword, secret)
	t.Setenv(stack.EnvGrafanaAdminPassword, secret)
	for _, engine := range []string{stack.EngineGrafana, stack.EnginePrometheus} {
		src := "name: sec\nmodels: [{name: demo, kind: demo}]\nalerting: {engine: " + engine + "}\n" +
			"smtp: {mode: external, host: 'smtp.example.com:587', user: alerts, password_file: smtp.pass, from_address: a@example.com, recipients: [b@example.com]}\n" +
			"kubernetes: {smtp_secret: {name: mail, key: pw}}\n"
		f := filepath.Join(dir, "stack.yaml")
		if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := stack.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		files := render(t, s)
		for p, data := range files {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s: %s contains the SMTP password", engine, p)
			}
		}
		if engine == stack.EnginePrometheus {
			amc := string(files[AlertmanagerConfigFile])
			for _, want := range []string{"authPassword:", "name: mail", "key: pw", "authUsername: alerts"} {
				if !strings.Contains(amc, want) {
					t.Errorf("AlertmanagerConfig lacks %q:\n%s", want, amc)
				}
			}
		}
	}
	// Negative control: the scan finds a secret that is there.
	if !bytes.Contains([]byte("password: "+secret), []byte(secret)) {
		t.Fatal("scan cannot find a planted secret")
	}
}

// TestDeterministic: rendering twice gives the same bytes (maps are sorted).
func TestDeterministic(t *testing.T) {
	for _, ex := range examples {
		a := render(t, loadExample(t, ex))
		for i := 0; i < 5; i++ {
			b := render(t, loadExample(t, ex))
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: two renders differ", ex)
			}
		}
	}
}

// TestPrometheusSelector: kubernetes.prometheus_selector replaces release: <name>.
func TestPrometheusSelector(t *testing.T) {
	s, err := stack.Parse([]byte("name: d\nmodels: [{name: demo, kind: demo}]\nalerting: {engine: prometheus}\nkubernetes: {namespace: ml, prometheus_selector: {prometheus: main}}\n"), "stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := render(t, s)
	for _, f := range []string{"demo-servicemonitor.yaml", PrometheusRuleFile} {
		var obj struct {
			Metadata struct {
				Namespace string            `json:"namespace"`
				Labels    map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(files[f], &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Metadata.Labels["prometheus"] != "main" || obj.Metadata.Labels["release"] != "" || obj.Metadata.Namespace != "ml" {
			t.Errorf("%s: namespace %q labels %v, want ml and prometheus=main without release", f, obj.Metadata.Namespace, obj.Metadata.Labels)
		}
	}
}
