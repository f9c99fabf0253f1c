package kubernetes

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/kubernetes" // registers kubernetes_sd_configs
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

// prometheusCR is a Prometheus selecting testdata/full.yaml's
// kubernetes.prometheus_selector, as kube-prometheus-stack's does.
const prometheusCR = `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: main, namespace: monitoring}
spec:
  serviceMonitorSelector: {matchLabels: {prometheus: main}}
  serviceMonitorNamespaceSelector: {}
  ruleSelector: {matchLabels: {prometheus: main}}
  ruleNamespaceSelector: {}
`

// TestPrometheusOperatorConfig applies testdata/full.yaml's rendering to a
// real API server, runs prometheus-operator against it, and checks the
// Prometheus configuration it generates: relabelling a target the way
// Prometheus' Kubernetes service discovery labels it gives the compose
// target's job and model labels (so every dashboard and rule query works),
// and the rules reach the generated rule files.
func TestPrometheusOperatorConfig(t *testing.T) {
	a := startAPIServer(t)
	operator := filepath.Join(filepath.Dir(a.kubectl), "prometheus-operator")
	if _, err := os.Stat(operator); err != nil {
		testtool.Missing(t, "no prometheus-operator in "+filepath.Dir(a.kubectl)+": run scripts/kube-apiserver.sh build")
	}
	s, err := stack.Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a.mustRun("create", "namespace", "monitoring")
	a.mustRun("create", "namespace", s.Kubernetes.Namespace)
	cr := filepath.Join(t.TempDir(), "prometheus.yaml")
	if err := os.WriteFile(cr, []byte(prometheusCR), 0o600); err != nil {
		t.Fatal(err)
	}
	a.mustRun("apply", "-f", cr)
	a.mustRun("apply", "--server-side", "-k", writeRendering(t, render(t, s)))

	cmd := exec.Command(operator, "--web.listen-address=127.0.0.1:0", "--kubelet-service=")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+a.config)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var cfgText string
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, err := a.run("get", "secret", "-n", "monitoring", "prometheus-main", "-o", `jsonpath={.data.prometheus\.yaml\.gz}`)
		if err == nil && len(out) > 0 {
			cfgText = gunzipBase64(t, out)
			if strings.Contains(cfgText, "serviceMonitor/"+s.Kubernetes.Namespace+"/tf/1") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no generated configuration with the ServiceMonitors after 60 s:\n%s\noperator log:\n%s", cfgText, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The config reloader substitutes these in the pod; do the same.
	cfgText = strings.NewReplacer("$(SHARD)", "0", "$(POD_NAME)", "prometheus-main-0").Replace(cfgText)
	cfg, err := config.Load(cfgText, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Prometheus rejects the generated configuration: %v\n%s", err, cfgText)
	}
	jobs := map[string]*config.ScrapeConfig{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = sc
	}
	ns := s.Kubernetes.Namespace
	tests := []struct {
		name, job, service, port string
		keep                     bool
		wantJob, wantModel       string
	}{
		{"demo exporter", "serviceMonitor/" + ns + "/demo/0", "demo", PortExporter, true, "ml_model_exporter", "demo"},
		{"demo TF Serving metrics", "serviceMonitor/" + ns + "/demo/1", "demo", PortModel, true, "model_server", "demo"},
		{"tfserving exporter", "serviceMonitor/" + ns + "/tf/0", "tf", PortExporter, true, "ml_model_exporter", "tf"},
		{"tfserving metrics", "serviceMonitor/" + ns + "/tf/1", "tf", PortModel, true, "model_server", "tf"},
		{"remote exporter", "serviceMonitor/" + ns + "/far/0", "far", PortExporter, true, "ml_model_exporter", "far"},
		// Negative controls: the generated filters really select.
		{"other port dropped", "serviceMonitor/" + ns + "/demo/0", "demo", "model", false, "", ""},
		{"other service dropped", "serviceMonitor/" + ns + "/demo/0", "tf", PortExporter, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, ok := jobs[tc.job]
			if !ok {
				t.Fatalf("no scrape job %s in the generated configuration", tc.job)
			}
			lb := labels.NewBuilder(endpointTarget(ns, tc.service, tc.port, s.Name))
			lb.Set("job", sc.JobName)
			keep := relabel.ProcessBuilder(lb, sc.RelabelConfigs...)
			if keep != tc.keep {
				t.Fatalf("target kept=%v, want %v", keep, tc.keep)
			}
			if !keep {
				return
			}
			l := lb.Labels()
			if l.Get("job") != tc.wantJob || l.Get(stack.ModelLabel) != tc.wantModel {
				t.Errorf("job=%q model=%q, want job=%q model=%q (labels %v)", l.Get("job"), l.Get(stack.ModelLabel), tc.wantJob, tc.wantModel, l)
			}
		})
	}

	// The PrometheusRule reached the rule files Prometheus loads.
	out := a.mustRun("get", "configmap", "-n", "monitoring", "prometheus-main-rulefiles-0", "-o", "jsonpath={.data}")
	rules, err := alertNames(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range rules {
		if !bytes.Contains(out, []byte("alert: "+name)) {
			t.Errorf("alert %s is not in the generated rule files", name)
		}
	}
}

// endpointTarget is the label set Prometheus' Kubernetes endpoints discovery
// gives a pod behind one of our Services.
func endpointTarget(ns, service, port, instance string) labels.Labels {
	return labels.FromMap(map[string]string{
		"__address__":                                                       "10.0.0.7:8000",
		"__meta_kubernetes_namespace":                                       ns,
		"__meta_kubernetes_service_name":                                    service,
		"__meta_kubernetes_service_label_app_kubernetes_io_name":            service,
		"__meta_kubernetes_service_labelpresent_app_kubernetes_io_name":     "true",
		"__meta_kubernetes_service_label_app_kubernetes_io_instance":        instance,
		"__meta_kubernetes_service_labelpresent_app_kubernetes_io_instance": "true",
		"__meta_kubernetes_endpoint_port_name":                              port,
		"__meta_kubernetes_endpoint_address_target_kind":                    "Pod",
		"__meta_kubernetes_endpoint_address_target_name":                    service + "-abc",
		"__meta_kubernetes_pod_name":                                        service + "-abc",
		"__meta_kubernetes_pod_container_name":                              port,
		"__meta_kubernetes_pod_phase":                                       "Running",
	})
}

func alertNames(s *stack.Stack) ([]string, error) {
	pr, err := PrometheusRule(s)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
		}
	}
	return names, nil
}

func gunzipBase64(t *testing.T, b64 []byte) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
