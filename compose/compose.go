// Package compose renders a stack as a Compose file, built from compose-go v2
// types and marshalled by compose-go, so `docker compose` and compose-go's
// loader both accept it.
package compose

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackgen/stackgen/stack"
)

// FileName is the rendered Compose file, relative to the deploy folder.
const FileName = "compose.yaml"

// Secret names and the environment variables they are read from at `up` time.
// Their values never appear in rendered files.
const (
	SecretSMTPPassword   = "smtp_password"
	SecretGrafanaAdmin   = "grafana_admin_password"
	EnvSMTPPassword      = stack.EnvSMTPPassword
	EnvGrafanaAdminPass  = stack.EnvGrafanaAdminPassword
	secretsDir           = "/run/secrets/"
	stackgenBinary       = "/stackgen"
	restartPolicy        = "unless-stopped"
	grafanaDashboardsDir = "/etc/grafana/dashboards"
)

// Volume names for persistent data; `stackgen down` keeps them unless --volumes.
const (
	VolumePrometheus   = "prometheus-data"
	VolumeGrafana      = "grafana-data"
	VolumeAlertmanager = "alertmanager-data"
)

// Render builds the Compose project for s and marshals it. outDir is where
// the file will be written; paths from stack.yaml (build contexts, model
// folders, password files) are made relative to it.
func Render(s *stack.Stack, outDir string) (map[string][]byte, error) {
	p, err := Project(s, outDir)
	if err != nil {
		return nil, err
	}
	data, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("marshal compose project: %w", err)
	}
	header := []byte("# Rendered by stackgen from " + filepath.Base(fileOr(s.File)) + "; edit stack.yaml and run 'stackgen render', not this file.\n")
	return map[string][]byte{FileName: append(header, data...)}, nil
}

func fileOr(f string) string {
	if f == "" {
		return "stack.yaml"
	}
	return f
}

// Project builds the compose-go project for s.
func Project(s *stack.Stack, outDir string) (*types.Project, error) {
	b := &builder{s: s, outDir: outDir, p: &types.Project{
		Name:     s.Name,
		Services: types.Services{},
		Volumes:  types.Volumes{},
		Secrets:  types.Secrets{},
	}}
	for _, m := range s.Models {
		if m.HasServer() {
			if err := b.modelServer(m); err != nil {
				return nil, fmt.Errorf("model %s: %w", m.Name, err)
			}
		}
		b.exporter(m)
	}
	b.prometheus()
	if s.Grafana.IsEnabled() {
		b.grafana()
	}
	if s.AlertmanagerEnabled() {
		b.alertmanager()
	}
	if s.MailCatcherEnabled() {
		b.mailcatcher()
	}
	if err := b.smtpSecret(); err != nil {
		return nil, err
	}
	return b.p, nil
}

type builder struct {
	s      *stack.Stack
	outDir string
	p      *types.Project
}

// rel makes a path from stack.yaml's folder relative to the deploy folder.
func (b *builder) rel(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	absStack, err := filepath.Abs(filepath.Join(b.s.Dir(), p))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	absOut, err := filepath.Abs(b.outDir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", b.outDir, err)
	}
	r, err := filepath.Rel(absOut, absStack)
	if err != nil {
		return "", fmt.Errorf("relative path to %s: %w", p, err)
	}
	if !strings.HasPrefix(r, ".") {
		r = "./" + r
	}
	return filepath.ToSlash(r), nil
}

func (b *builder) labels(role, model string) types.Labels {
	l := types.Labels{stack.LabelStack: b.s.Name, stack.LabelRole: role}
	if model != "" {
		l[stack.LabelModel] = model
	}
	return l
}

func (b *builder) port(host, target int) []types.ServicePortConfig {
	return []types.ServicePortConfig{{
		HostIP:    b.s.BindAddress,
		Target:    uint32(target),
		Published: strconv.Itoa(host),
		Protocol:  "tcp",
		Mode:      "ingress",
	}}
}

// esc escapes '$' so Compose does not interpolate values taken from stack.yaml.
func esc(v string) string { return strings.ReplaceAll(v, "$", "$$") }

func escAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = esc(v)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func dur(d time.Duration) *types.Duration { return ptr(types.Duration(d)) }

// Healthcheck timing of every service: checked every 2 s so `up` sees
// readiness soon after it happens; 30 failures (a minute) after the start
// period make a service unhealthy.
const (
	HealthInterval    = 2 * time.Second
	HealthTimeout     = 3 * time.Second
	HealthRetries     = 30
	HealthStartPeriod = 5 * time.Second
)

func health(test ...string) *types.HealthCheckConfig {
	return &types.HealthCheckConfig{
		Test:        types.HealthCheckTest(test),
		Interval:    dur(HealthInterval),
		Timeout:     dur(HealthTimeout),
		Retries:     ptr(uint64(HealthRetries)),
		StartPeriod: dur(HealthStartPeriod),
	}
}

// stackgenHealth runs the image's own `stackgen healthcheck` (no curl in a scratch image).
func stackgenHealth(port int, path string) *types.HealthCheckConfig {
	return health("CMD", stackgenBinary, "healthcheck", "http://127.0.0.1:"+strconv.Itoa(port)+path)
}

func depends(cond string) types.ServiceDependency {
	return types.ServiceDependency{Condition: cond, Required: true}
}

// service starts a service running image, labelled with its role (and model).
func (b *builder) service(name, image, role, model string) types.ServiceConfig {
	svc := types.ServiceConfig{Name: name, Restart: restartPolicy}
	svc.Image = image
	svc.Labels = b.labels(role, model)
	return svc
}

// volume declares a named data volume of the stack; `down` keeps it unless --volumes.
func (b *builder) volume(name string) {
	b.p.Volumes[name] = types.VolumeConfig{Labels: types.Labels{stack.LabelStack: b.s.Name}}
}

func (b *builder) stackgenService(name, role, model string, args ...string) types.ServiceConfig {
	svc := b.service(name, b.s.StackgenImage, role, model)
	svc.PullPolicy = types.PullPolicyNever
	svc.Entrypoint = types.ShellCommand{stackgenBinary}
	svc.Command = types.ShellCommand(escAll(args))
	svc.StopGracePeriod = dur(15 * time.Second)
	return svc
}

func (b *builder) modelServer(m stack.Model) error {
	var svc types.ServiceConfig
	switch m.Kind {
	case stack.KindDemo:
		svc = b.stackgenService(m.ServiceName(), stack.RoleModel, m.Name,
			"model", "serve", "--listen", ":"+strconv.Itoa(m.Port), "--name", m.ModelName)
		svc.HealthCheck = stackgenHealth(m.Port, "/ping")
	default:
		svc = b.service(m.ServiceName(), m.Image, stack.RoleModel, m.Name)
		if m.Build != "" {
			ctx, err := b.rel(m.Build)
			if err != nil {
				return err
			}
			svc.Build = &types.BuildConfig{Context: ctx}
			if m.Image == "" {
				svc.Image = b.s.Name + "-" + m.Name + ":local"
			}
		}
	}
	if m.Kind == stack.KindTFServing {
		svc.Environment = types.MappingWithEquals{"MODEL_NAME": ptr(esc(m.ModelName))}
		svc.Command = types.ShellCommand{
			"--rest_api_port=" + strconv.Itoa(m.Port),
			"--monitoring_config_file=/monitoring/monitoring.config",
		}
		svc.Volumes = append(svc.Volumes, types.ServiceVolumeConfig{
			Type: types.VolumeTypeBind, Source: "./tfserving", Target: "/monitoring", ReadOnly: true,
		})
		if m.ModelBasePath != "" {
			src, err := b.rel(m.ModelBasePath)
			if err != nil {
				return err
			}
			svc.Volumes = append(svc.Volumes, types.ServiceVolumeConfig{
				Type: types.VolumeTypeBind, Source: src, Target: "/models/" + m.ModelName, ReadOnly: true,
			})
		}
	}
	for _, k := range sortedKeys(m.Environment) {
		if svc.Environment == nil {
			svc.Environment = types.MappingWithEquals{}
		}
		svc.Environment[k] = ptr(esc(m.Environment[k]))
	}
	if m.HostPort != 0 {
		svc.Ports = b.port(m.HostPort, m.Port)
	}
	if m.Replicas > 1 {
		svc.Deploy = &types.DeployConfig{Replicas: ptr(m.Replicas)}
	}
	b.p.Services[svc.Name] = svc
	return nil
}

func (b *builder) exporter(m stack.Model) {
	e := b.s.Exporter
	buckets := make([]string, len(e.Buckets))
	for i, v := range e.Buckets {
		buckets[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	args := []string{
		"exporter",
		"--listen", ":" + strconv.Itoa(stack.ExporterContainerPort),
		"--upstream", m.UpstreamURL(),
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
	svc := b.stackgenService(m.ExporterService(), stack.RoleExporter, m.Name, args...)
	if m.DriftEnabled() {
		// The drift renderer writes the model's baseline into the deploy folder.
		svc.Volumes = append(svc.Volumes, types.ServiceVolumeConfig{
			Type: types.VolumeTypeBind, Source: "./" + m.BaselineFile(), Target: stack.ExporterBaselinePath, ReadOnly: true,
		})
	}
	svc.Ports = b.port(m.ExporterPort, stack.ExporterContainerPort)
	svc.HealthCheck = stackgenHealth(stack.ExporterContainerPort, "/readyz")
	if m.HasServer() {
		cond := types.ServiceConditionStarted
		if b.p.Services[m.ServiceName()].HealthCheck != nil {
			cond = types.ServiceConditionHealthy
		}
		svc.DependsOn = types.DependsOnConfig{m.ServiceName(): depends(cond)}
	}
	b.p.Services[svc.Name] = svc
}

func (b *builder) prometheus() {
	p := b.s.Prometheus
	svc := b.service(stack.ServicePrometheus, p.Image, stack.RolePrometheus, "")
	svc.Command = types.ShellCommand{
		"--config.file=/etc/prometheus/prometheus.yml",
		"--storage.tsdb.path=/prometheus",
		"--storage.tsdb.retention.time=" + p.Retention,
		"--web.enable-lifecycle",
		"--web.listen-address=:" + strconv.Itoa(stack.PrometheusContainerPort),
	}
	svc.Volumes = []types.ServiceVolumeConfig{
		{Type: types.VolumeTypeBind, Source: "./prometheus", Target: "/etc/prometheus", ReadOnly: true},
		{Type: types.VolumeTypeVolume, Source: VolumePrometheus, Target: "/prometheus"},
	}
	svc.Ports = b.port(p.Port, stack.PrometheusContainerPort)
	svc.HealthCheck = health("CMD", "promtool", "query", "instant", "http://127.0.0.1:"+strconv.Itoa(stack.PrometheusContainerPort), "vector(1)")
	b.volume(VolumePrometheus)
	b.p.Services[svc.Name] = svc
}

func (b *builder) grafana() {
	g := b.s.Grafana
	svc := b.service(stack.ServiceGrafana, g.Image, stack.RoleGrafana, "")
	env := types.MappingWithEquals{
		"GF_SECURITY_ADMIN_USER":           ptr(esc(g.AdminUser)),
		"GF_SECURITY_ADMIN_PASSWORD__FILE": ptr(secretsDir + SecretGrafanaAdmin),
		"GF_USERS_ALLOW_SIGN_UP":           ptr("false"),
		"GF_UNIFIED_ALERTING_ENABLED":      ptr("true"),
		"GF_ANALYTICS_REPORTING_ENABLED":   ptr("false"),
		"GF_ANALYTICS_CHECK_FOR_UPDATES":   ptr("false"),
		"GF_SERVER_HTTP_PORT":              ptr(strconv.Itoa(stack.GrafanaContainerPort)),
	}
	if m := b.s.SMTP; m.Enabled() {
		host := m.Host
		if m.Mode == stack.SMTPModeLocal {
			host = stack.ServiceMailcatcher + ":" + strconv.Itoa(stack.MailSMTPContainerPort)
		}
		env["GF_SMTP_ENABLED"] = ptr("true")
		env["GF_SMTP_HOST"] = ptr(esc(host))
		env["GF_SMTP_FROM_ADDRESS"] = ptr(esc(m.FromAddress))
		env["GF_SMTP_FROM_NAME"] = ptr(esc(m.FromName))
		env["GF_SMTP_SKIP_VERIFY"] = ptr(strconv.FormatBool(m.SkipVerify))
		env["GF_SMTP_STARTTLS_POLICY"] = ptr(m.StartTLSPolicy)
		if m.User != "" {
			env["GF_SMTP_USER"] = ptr(esc(m.User))
		}
		if b.smtpPasswordNeeded() {
			env["GF_SMTP_PASSWORD__FILE"] = ptr(secretsDir + SecretSMTPPassword)
			svc.Secrets = append(svc.Secrets, types.ServiceSecretConfig{Source: SecretSMTPPassword})
		}
	}
	svc.Environment = env
	svc.Secrets = append([]types.ServiceSecretConfig{{Source: SecretGrafanaAdmin}}, svc.Secrets...)
	b.p.Secrets[SecretGrafanaAdmin] = types.SecretConfig{Environment: EnvGrafanaAdminPass}
	svc.Volumes = []types.ServiceVolumeConfig{
		{Type: types.VolumeTypeBind, Source: "./grafana/provisioning", Target: "/etc/grafana/provisioning", ReadOnly: true},
		{Type: types.VolumeTypeBind, Source: "./grafana/dashboards", Target: grafanaDashboardsDir, ReadOnly: true},
		{Type: types.VolumeTypeVolume, Source: VolumeGrafana, Target: "/var/lib/grafana"},
	}
	svc.Ports = b.port(g.Port, stack.GrafanaContainerPort)
	svc.HealthCheck = health("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:"+strconv.Itoa(stack.GrafanaContainerPort)+"/api/health || exit 1")
	svc.DependsOn = types.DependsOnConfig{stack.ServicePrometheus: depends(types.ServiceConditionHealthy)}
	b.volume(VolumeGrafana)
	b.p.Services[svc.Name] = svc
}

func (b *builder) alertmanager() {
	a := b.s.Alerting
	svc := b.service(stack.ServiceAlertmanager, a.AlertmanagerImage, stack.RoleAlertmanager, "")
	svc.Command = types.ShellCommand{
		"--config.file=/etc/alertmanager/alertmanager.yml",
		"--storage.path=/alertmanager",
		"--web.listen-address=:" + strconv.Itoa(stack.AlertmanagerContainerPort),
		"--cluster.listen-address=",
	}
	svc.Volumes = []types.ServiceVolumeConfig{
		{Type: types.VolumeTypeBind, Source: "./alertmanager", Target: "/etc/alertmanager", ReadOnly: true},
		{Type: types.VolumeTypeVolume, Source: VolumeAlertmanager, Target: "/alertmanager"},
	}
	if b.smtpPasswordNeeded() {
		svc.Secrets = []types.ServiceSecretConfig{{Source: SecretSMTPPassword}}
	}
	svc.Ports = b.port(a.AlertmanagerPort, stack.AlertmanagerContainerPort)
	svc.HealthCheck = health("CMD", "amtool", "--alertmanager.url=http://127.0.0.1:"+strconv.Itoa(stack.AlertmanagerContainerPort), "config", "show")
	b.volume(VolumeAlertmanager)
	b.p.Services[svc.Name] = svc
}

func (b *builder) mailcatcher() {
	svc := b.stackgenService(stack.ServiceMailcatcher, stack.RoleMailcatcher, "",
		"mailcatcher",
		"--smtp-listen", ":"+strconv.Itoa(stack.MailSMTPContainerPort),
		"--http-listen", ":"+strconv.Itoa(stack.MailWebContainerPort))
	svc.Ports = b.port(b.s.SMTP.WebPort, stack.MailWebContainerPort)
	svc.HealthCheck = stackgenHealth(stack.MailWebContainerPort, "/healthz")
	b.p.Services[svc.Name] = svc
}

// smtpPasswordNeeded reports whether an external SMTP server with a user is configured.
func (b *builder) smtpPasswordNeeded() bool {
	m := b.s.SMTP
	return m.Mode == stack.SMTPModeExternal && (m.User != "" || m.PasswordFile != "")
}

// smtpSecret declares the SMTP password secret: from password_file, or from
// STACKGEN_SMTP_PASSWORD at `up` time.
func (b *builder) smtpSecret() error {
	if !b.smtpPasswordNeeded() {
		return nil
	}
	if f := b.s.SMTP.PasswordFile; f != "" {
		src, err := b.rel(f)
		if err != nil {
			return fmt.Errorf("smtp.password_file: %w", err)
		}
		b.p.Secrets[SecretSMTPPassword] = types.SecretConfig{File: src}
		return nil
	}
	b.p.Secrets[SecretSMTPPassword] = types.SecretConfig{Environment: EnvSMTPPassword}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
