package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/tfserving"
)

// Binary is the stackgen binary inside the stackgen image (compose uses the same).
const Binary = "/stackgen"

// tfservingConfigDir is where a TF Serving pod mounts its monitoring ConfigMap.
const tfservingConfigDir = "/monitoring"

// Probe timing, close to the compose healthchecks (every 2 s, 3 s timeout;
// liveness more patient so a slow model load is not killed).
const (
	probePeriod           = 2
	probeTimeout          = 3
	readinessFailures     = 3
	livenessPeriod        = 10
	livenessFailures      = 6
	livenessInitialDelay  = 10
	terminationGraceSecs  = 15
	tfservingConfigSuffix = "-tfserving"
)

func (b *builder) meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: b.s.Kubernetes.Namespace, Labels: labels}
}

func (b *builder) namespace() *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: b.s.Kubernetes.Namespace, Labels: b.labels(b.s.Name, "")},
	}
}

// model adds a model's Deployment, Service, ServiceMonitor and (TF Serving) ConfigMap.
func (b *builder) model(m stack.Model) error {
	res := b.s.Kubernetes.ModelResources(m.Name)
	var containers []corev1.Container
	var volumes []corev1.Volume
	if m.HasServer() {
		c, err := b.modelContainer(m, res.Model)
		if err != nil {
			return err
		}
		containers = append(containers, c)
		if m.Kind == stack.KindTFServing {
			b.add(m.Name+"-tfserving-configmap.yaml", b.tfservingConfig(m))
			volumes = append(volumes, corev1.Volume{Name: "monitoring", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.Name + tfservingConfigSuffix}},
			}})
		}
	}
	exp, err := b.exporterContainer(m, res.Exporter)
	if err != nil {
		return err
	}
	var podAnnotations map[string]string
	if m.DriftEnabled() {
		cm, err := b.baselineConfig(m)
		if err != nil {
			return err
		}
		// A changed baseline changes the pod template, so `kubectl apply`
		// restarts the exporter, which reads the file at start.
		sum := sha256.Sum256([]byte(cm.Data[baselineKey]))
		podAnnotations = map[string]string{AnnotationBaseline: hex.EncodeToString(sum[:])}
		b.add(m.Name+"-baseline-configmap.yaml", cm)
		volumes = append(volumes, corev1.Volume{Name: baselineVolume, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.Name + baselineSuffix}},
		}})
		exp.VolumeMounts = append(exp.VolumeMounts, corev1.VolumeMount{
			Name: baselineVolume, MountPath: stack.ExporterBaselinePath, SubPath: baselineKey, ReadOnly: true,
		})
	}
	containers = append(containers, exp)

	labels := b.labels(m.Name, "model")
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: b.meta(m.Name, labels),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(max(m.Replicas, 1))),
			Selector: &metav1.LabelSelector{MatchLabels: b.selectorLabels(m)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: podAnnotations},
				Spec: corev1.PodSpec{
					Containers:                    containers,
					Volumes:                       volumes,
					TerminationGracePeriodSeconds: ptr(int64(terminationGraceSecs)),
					AutomountServiceAccountToken:  ptr(false),
				},
			},
		},
	}
	b.add(m.Name+"-deployment.yaml", d)

	ports := []corev1.ServicePort{{
		Name: PortExporter, Port: stack.ExporterContainerPort, TargetPort: intstr.FromString(PortExporter), Protocol: corev1.ProtocolTCP,
	}}
	if m.HasServer() {
		ports = append(ports, corev1.ServicePort{
			Name: PortModel, Port: int32(m.Port), TargetPort: intstr.FromString(PortModel), Protocol: corev1.ProtocolTCP,
		})
	}
	b.add(m.Name+"-service.yaml", &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: b.meta(m.Name, labels),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: b.selectorLabels(m),
			Ports:    ports,
		},
	})
	b.add(m.Name+"-servicemonitor.yaml", b.serviceMonitor(m))
	return nil
}

// modelContainer runs the model server the way the compose target does.
func (b *builder) modelContainer(m stack.Model, r stack.Resources) (corev1.Container, error) {
	c := corev1.Container{
		Name:            PortModel,
		Image:           m.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports:           []corev1.ContainerPort{{Name: PortModel, ContainerPort: int32(m.Port), Protocol: corev1.ProtocolTCP}},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false)},
	}
	switch m.Kind {
	case stack.KindDemo:
		c.Image = b.s.StackgenImage
		c.Command = []string{Binary}
		c.Args = []string{"model", "serve", "--listen", ":" + strconv.Itoa(m.Port), "--name", m.ModelName}
	case stack.KindTFServing:
		c.Env = append(c.Env, corev1.EnvVar{Name: "MODEL_NAME", Value: m.ModelName})
		c.Args = []string{
			"--rest_api_port=" + strconv.Itoa(m.Port),
			"--monitoring_config_file=" + tfservingConfigDir + "/" + tfservingConfigKey,
		}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "monitoring", MountPath: tfservingConfigDir, ReadOnly: true}}
	}
	if c.Image == "" && m.Build != "" {
		c.Image = b.s.Name + "-" + m.Name + ":local" // the tag compose builds; push it where the cluster pulls from
	}
	for _, k := range sortedKeys(m.Environment) {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: m.Environment[k]})
	}
	if m.HealthPath != "" {
		c.ReadinessProbe = httpProbe(PortModel, m.HealthPath, probePeriod, readinessFailures, 0)
	}
	c.LivenessProbe = tcpProbe(PortModel)
	var err error
	c.Resources, err = requirements(r)
	if err != nil {
		return c, fmt.Errorf("kubernetes: model %s: %w", m.Name, err)
	}
	return c, nil
}

// exporterContainer is the exporter proxy in the model's pod: it reaches the
// model server on loopback, or the remote URL.
func (b *builder) exporterContainer(m stack.Model, r stack.Resources) (corev1.Container, error) {
	upstream := m.URL
	if m.HasServer() {
		upstream = "http://127.0.0.1:" + strconv.Itoa(m.Port)
	}
	c := corev1.Container{
		Name:            PortExporter,
		Image:           b.s.StackgenImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{Binary},
		Args:            exporterArgs(b.s, m, upstream),
		Ports:           []corev1.ContainerPort{{Name: PortExporter, ContainerPort: stack.ExporterContainerPort, Protocol: corev1.ProtocolTCP}},
		ReadinessProbe:  httpProbe(PortExporter, "/readyz", probePeriod, readinessFailures, 0),
		LivenessProbe:   tcpProbe(PortExporter),
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true)},
	}
	var err error
	c.Resources, err = requirements(r)
	if err != nil {
		return c, fmt.Errorf("kubernetes: exporter of %s: %w", m.Name, err)
	}
	return c, nil
}

// exporterArgs are the exporter's flags, the same as the compose target's
// (compose.exporter) but for the upstream URL.
func exporterArgs(s *stack.Stack, m stack.Model, upstream string) []string {
	e := s.Exporter
	buckets := make([]string, len(e.Buckets))
	for i, v := range e.Buckets {
		buckets[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	args := []string{
		"exporter",
		"--listen", ":" + strconv.Itoa(stack.ExporterContainerPort),
		"--upstream", upstream,
		"--kind", m.Protocol,
	}
	if m.ModelName != "" {
		args = append(args, "--model-name", m.ModelName)
	}
	if m.Protocol == stack.ProtocolCustom {
		args = append(args, "--predict-path", m.PredictPath, "--health-path", m.HealthPath)
	}
	args = append(args,
		"--buckets", strings.Join(buckets, ","),
		"--timeout", e.Timeout.D().String(),
		"--max-body", strconv.FormatInt(e.MaxBody, 10),
		"--body-timeout", e.BodyTimeout.D().String(),
		"--max-in-flight", strconv.Itoa(e.MaxInFlight),
	)
	if m.DriftEnabled() {
		args = append(args, "--baseline", stack.ExporterBaselinePath)
	}
	return args
}

func httpProbe(port, path string, period, failures, delay int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(port)}},
		InitialDelaySeconds: delay,
		PeriodSeconds:       period,
		TimeoutSeconds:      probeTimeout,
		FailureThreshold:    failures,
	}
}

func tcpProbe(port string) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}},
		InitialDelaySeconds: livenessInitialDelay,
		PeriodSeconds:       livenessPeriod,
		TimeoutSeconds:      probeTimeout,
		FailureThreshold:    livenessFailures,
	}
}

// requirements converts stack.yaml's quantities (validated by package stack).
func requirements(r stack.Resources) (corev1.ResourceRequirements, error) {
	conv := func(m map[string]string) (corev1.ResourceList, error) {
		if len(m) == 0 {
			return nil, nil
		}
		out := corev1.ResourceList{}
		for k, v := range m {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", k, v, err)
			}
			out[corev1.ResourceName(k)] = q
		}
		return out, nil
	}
	req, err := conv(r.Requests)
	if err != nil {
		return corev1.ResourceRequirements{}, fmt.Errorf("requests: %w", err)
	}
	lim, err := conv(r.Limits)
	if err != nil {
		return corev1.ResourceRequirements{}, fmt.Errorf("limits: %w", err)
	}
	return corev1.ResourceRequirements{Requests: req, Limits: lim}, nil
}

// The drift baseline's ConfigMap (<model>-baseline), its key and volume.
const (
	baselineSuffix = "-baseline"
	baselineKey    = "baseline.json"
	baselineVolume = "baseline"
	// maxConfigMap is the API server's limit on a ConfigMap's data.
	maxConfigMap = 1 << 20
	// AnnotationBaseline on a model's pod template is the sha256 of its
	// drift baseline.
	AnnotationBaseline = "stackgen.io/baseline-sha256"
)

// baselineConfig holds the model's drift baseline (the feature-filtered one
// the compose target writes to exporter/<model>.baseline.json), mounted into
// the exporter at stack.ExporterBaselinePath.
func (b *builder) baselineConfig(m stack.Model) (*corev1.ConfigMap, error) {
	data, err := m.Drift.Baseline.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: baseline of %s: %w", m.Name, err)
	}
	if len(data) > maxConfigMap {
		return nil, fmt.Errorf("kubernetes: baseline of %s is %d bytes, above a ConfigMap's 1 MiB; list fewer models[].drift.features or use fewer bins", m.Name, len(data))
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: b.meta(m.Name+baselineSuffix, b.labels(m.Name, "model")),
		Data:       map[string]string{baselineKey: string(data)},
	}, nil
}

// tfservingConfigKey is the monitoring config's key in its ConfigMap.
const tfservingConfigKey = "monitoring.config"

func (b *builder) tfservingConfig(m stack.Model) *corev1.ConfigMap {
	c := tfserving.MonitoringConfig{Enable: true, Path: stack.TFServingMetricsPath}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: b.meta(m.Name+tfservingConfigSuffix, b.labels(m.Name, "model")),
		Data:       map[string]string{tfservingConfigKey: string(c.TextProto())},
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
