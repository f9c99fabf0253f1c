package stack

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Render targets.
const (
	TargetCompose    = "compose"
	TargetKubernetes = "kubernetes"
)

// Targets are the render targets, the default first.
var Targets = []string{TargetCompose, TargetKubernetes}

// Defaults of the kubernetes section.
const (
	// DefaultKubePrometheusURL is the Service prometheus-operator creates for
	// Prometheus, in kube-prometheus-stack's usual namespace.
	DefaultKubePrometheusURL = "http://prometheus-operated.monitoring.svc:9090"
	// DefaultSMTPSecretKey is the key of the SMTP password in the user's Secret.
	DefaultSMTPSecretKey = "password"
	// DefaultCPURequest, DefaultMemoryRequest and DefaultMemoryLimit are each
	// container's resources unless kubernetes.resources sets them.
	DefaultCPURequest    = "100m"
	DefaultMemoryRequest = "128Mi"
	DefaultMemoryLimit   = "512Mi"
	// DefaultExporterCPURequest etc. size the exporter sidecar.
	DefaultExporterCPURequest    = "50m"
	DefaultExporterMemoryRequest = "32Mi"
	DefaultExporterMemoryLimit   = "128Mi"
)

// Kubernetes configures the kubernetes render target.
type Kubernetes struct {
	// Namespace of every rendered object (default: the stack name).
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty" jsonschema:"pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$,maxLength=63"`
	// PrometheusSelector are the labels the Prometheus of kube-prometheus-stack selects
	// ServiceMonitors and PrometheusRules by (default release: <stack name>).
	PrometheusSelector map[string]string `yaml:"prometheus_selector,omitempty" json:"prometheus_selector,omitempty"`
	// PrometheusURL is the in-cluster URL of kube-prometheus-stack's Prometheus, provisioned as
	// the Grafana data source the dashboards use (default http://prometheus-operated.monitoring.svc:9090).
	PrometheusURL string `yaml:"prometheus_url,omitempty" json:"prometheus_url,omitempty"`
	// SMTPSecret names the Secret (created by you, never rendered) holding the SMTP password.
	SMTPSecret SecretRef `yaml:"smtp_secret,omitempty" json:"smtp_secret,omitempty"`
	// Resources of each model's containers, by model name.
	Resources map[string]ModelResources `yaml:"resources,omitempty" json:"resources,omitempty"`
}

// SecretRef names a key of a Kubernetes Secret.
type SecretRef struct {
	// Name of the Secret (default <stack name>-smtp).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Key in the Secret (default password).
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
}

// ModelResources are the resources of a model's pod containers.
type ModelResources struct {
	// Model is the model server container.
	Model Resources `yaml:"model,omitempty" json:"model,omitempty"`
	// Exporter is the exporter sidecar.
	Exporter Resources `yaml:"exporter,omitempty" json:"exporter,omitempty"`
}

// Resources are a container's requests and limits, as Kubernetes quantities.
type Resources struct {
	// Requests by resource name (cpu, memory), e.g. {cpu: 250m, memory: 256Mi}.
	Requests map[string]string `yaml:"requests,omitempty" json:"requests,omitempty"`
	// Limits by resource name (cpu, memory).
	Limits map[string]string `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// ModelResources returns the resources of model m's containers, defaults filled in.
func (k Kubernetes) ModelResources(m string) ModelResources {
	r := k.Resources[m]
	return ModelResources{
		Model:    r.Model.withDefaults(DefaultCPURequest, DefaultMemoryRequest, DefaultMemoryLimit),
		Exporter: r.Exporter.withDefaults(DefaultExporterCPURequest, DefaultExporterMemoryRequest, DefaultExporterMemoryLimit),
	}
}

func (r Resources) withDefaults(cpu, mem, memLimit string) Resources {
	out := Resources{Requests: map[string]string{"cpu": cpu, "memory": mem}, Limits: map[string]string{"memory": memLimit}}
	for k, v := range r.Requests {
		out.Requests[k] = v
	}
	for k, v := range r.Limits {
		out.Limits[k] = v
	}
	return out
}

func (s *Stack) applyKubernetesDefaults() {
	if s.Target == "" {
		s.Target = TargetCompose
	}
	k := &s.Kubernetes
	if k.Namespace == "" {
		k.Namespace = s.Name
	}
	if len(k.PrometheusSelector) == 0 && s.Name != "" {
		k.PrometheusSelector = map[string]string{"release": s.Name}
	}
	if k.SMTPSecret.Name == "" && s.Name != "" {
		k.SMTPSecret.Name = s.Name + "-smtp"
	}
	if k.PrometheusURL == "" {
		k.PrometheusURL = DefaultKubePrometheusURL
	}
	if k.SMTPSecret.Key == "" {
		k.SMTPSecret.Key = DefaultSMTPSecretKey
	}
}

var (
	k8sNameRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	secretKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
	labelKeyRE  = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValRE  = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// kubernetes checks target, and the kubernetes section when it is the
// stack's target (KubernetesProblems checks it for --target kubernetes).
func (v *validator) kubernetes(s *Stack) {
	v.oneOf("target", s.Target, Targets)
	if s.Target == TargetKubernetes {
		v.kubernetesSection(s)
	}
}

func (v *validator) kubernetesSection(s *Stack) {
	k := s.Kubernetes
	if len(k.Namespace) > 63 || !k8sNameRE.MatchString(k.Namespace) {
		v.add("kubernetes.namespace", "must be a DNS label: lower-case letters, digits or '-', at most 63 characters (got %q); set kubernetes.namespace", k.Namespace)
	}
	for _, key := range sortedKeys(k.PrometheusSelector) {
		f := "kubernetes.prometheus_selector." + key
		if !labelKeyRE.MatchString(key) {
			v.add(f, "%q is not a valid Kubernetes label key (e.g. release, app.kubernetes.io/instance)", key)
		}
		if val := k.PrometheusSelector[key]; len(val) > 63 || !labelValRE.MatchString(val) {
			v.add(f, "must be a label value: at most 63 letters, digits, '-', '_' or '.' (got %q)", val)
		}
	}
	if n := k.SMTPSecret.Name; len(n) > 253 || !dnsSubRE.MatchString(n) {
		v.add("kubernetes.smtp_secret.name", "must be a Secret name: lower-case letters, digits, '-' or '.' (got %q)", n)
	}
	if !secretKeyRE.MatchString(k.SMTPSecret.Key) {
		v.add("kubernetes.smtp_secret.key", "must be letters, digits, '-', '_' or '.' (got %q)", k.SMTPSecret.Key)
	}
	if u, err := url.Parse(k.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("kubernetes.prometheus_url", "must be an http(s) URL such as %s (got %q)", DefaultKubePrometheusURL, k.PrometheusURL)
	}
	for _, m := range sortedKeys(k.Resources) {
		f := "kubernetes.resources." + m
		if s.Model(m) == nil {
			v.add(f, "%q is not a model of this stack; keys are model names", m)
			continue
		}
		r := k.Resources[m]
		v.resources(f+".model", r.Model)
		v.resources(f+".exporter", r.Exporter)
	}
}

func (v *validator) resources(f string, r Resources) {
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		for _, name := range sortedKeys(part.m) {
			field := fmt.Sprintf("%s.%s.%s", f, part.name, name)
			if name != "cpu" && name != "memory" && name != "ephemeral-storage" {
				v.add(field, "unknown resource %q; use cpu, memory or ephemeral-storage", name)
				continue
			}
			if _, err := resource.ParseQuantity(part.m[name]); err != nil {
				v.add(field, "must be a Kubernetes quantity such as 250m or 256Mi (got %q)", part.m[name])
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KubernetesProblems checks s for the kubernetes target. errs are what the
// target needs and s lacks (render refuses them); warnings are what the
// target cannot express and leaves out. Both are located like Load's problems.
func (s *Stack) KubernetesProblems() (errs, warnings Problems) {
	pos := s.pos
	if pos == nil {
		pos = positions{}
	}
	e := &validator{pos: pos}
	w := &validator{pos: pos}
	if s.Target != TargetKubernetes { // else Load already checked the section
		e.kubernetesSection(s)
	}
	if strings.Contains(s.Name, "_") {
		e.add("name", "names Kubernetes objects, which cannot contain '_' (got %q); use '-'", s.Name)
	}
	for i, m := range s.Models {
		p := fmt.Sprintf("models[%d]", i)
		if m.Name != "" && (m.Name[0] < 'a' || m.Name[0] > 'z') {
			e.add(p+".name", "must start with a letter to name a Kubernetes Service (got %q)", m.Name)
		}
		if m.HasServer() && m.Image == "" && m.Kind != KindDemo {
			e.add(p+".build", "a cluster cannot build %s: build and push the image, then set %s.image to it", m.Build, p)
		}
		if m.HostPort != 0 {
			w.add(p+".host_port", "host ports are not rendered; reach the model through Service %q (kubectl port-forward svc/%s %d)", m.Name, m.Name, m.Port)
		}
		if m.ExporterPort != 0 {
			if _, set := pos[p+".exporter_port"]; set {
				w.add(p+".exporter_port", "host ports are not rendered; the exporter listens on port %d of Service %q", ExporterContainerPort, m.Name)
			}
		}
		if m.Kind == KindTFServing && m.ModelBasePath != "" {
			w.add(p+".model_base_path", "a host folder cannot be mounted into a cluster's pods: use an image with the SavedModel under /models/%s", m.ModelName)
		}
		if m.Kind == KindRemote && m.ExportsTFServingMetrics() {
			w.add(p+".metrics_path", "the remote server's own metrics are not scraped (a ServiceMonitor selects in-cluster Services); its model_server panels stay empty")
		}
	}
	if s.Alerting.Engine == EngineGrafana {
		// The PrometheusRule carries the summaries whatever the engine.
		for i, a := range s.Alerts {
			if a.Summary == "" {
				continue
			}
			if err := CheckAnnotationTemplate(EnginePrometheus, a.Name, a.Summary); err != nil {
				e.add(fmt.Sprintf("alerts[%d].summary", i), "the PrometheusRule needs a Prometheus alert template (%v); write plain text, or e.g. {{ $labels.model }}: {{ $value }}", err)
			}
		}
	}
	if _, set := pos["bind_address"]; set {
		w.add("bind_address", "not used: Services are ClusterIP, reachable inside the cluster only")
	}
	for _, f := range []string{"prometheus.port", "prometheus.image", "prometheus.retention", "grafana.port", "grafana.image", "grafana.admin_user", "alerting.alertmanager_image", "alerting.alertmanager_port"} {
		if _, set := pos[f]; set {
			w.add(f, "not used: Prometheus, Grafana and Alertmanager are kube-prometheus-stack's; configure them in its Helm values")
		}
	}
	switch {
	case s.SMTP.Mode == SMTPModeLocal:
		w.add(w.first("smtp.mode", "smtp"), "the local mail catcher has no Kubernetes counterpart: alerts are not emailed; set smtp.mode: external (and create Secret %q) or off", s.Kubernetes.SMTPSecret.Name)
	case s.SMTP.Mode == SMTPModeExternal && s.Alerting.Engine == EngineGrafana && s.SMTP.User != "":
		w.add(w.first("smtp.user", "smtp"), "Grafana's SMTP settings are kube-prometheus-stack's: set grafana.smtp.existingSecret: %s (passwordKey: %s) in its Helm values", s.Kubernetes.SMTPSecret.Name, s.Kubernetes.SMTPSecret.Key)
	}
	if _, set := pos["smtp.password_file"]; set {
		w.add("smtp.password_file", "not read: the password comes from Secret %q, key %q, which you create", s.Kubernetes.SMTPSecret.Name, s.Kubernetes.SMTPSecret.Key)
	}
	for _, v := range []*validator{e, w} {
		for i := range v.probs {
			v.probs[i].File = s.File
		}
		sortProblems(v.probs)
	}
	return e.probs, w.probs
}
