package stack

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

var (
	stackNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	modelNameRE = dnsLabelRE
	alertNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envKeyRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	jobNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

var (
	kinds          = []string{KindDemo, KindMLflow, KindTFServing, KindCustom, KindRemote}
	protocols      = []string{ProtocolMLflow, ProtocolTFServing, ProtocolCustom}
	engines        = []string{EngineGrafana, EnginePrometheus}
	smtpModes      = []string{SMTPModeExternal, SMTPModeLocal, SMTPModeOff}
	severities     = []string{"critical", "warning", "info"}
	starttls       = []string{"OpportunisticStartTLS", "MandatoryStartTLS", "NoStartTLS"}
	alertSources   = []string{SourceExporter, SourceModelServer}
	tfMetricPrefix = ":tensorflow:serving:"
)

// validator collects problems, locating each field through the positions map.
type validator struct {
	pos   positions
	probs Problems
}

func (v *validator) add(field, format string, args ...any) {
	line, col := v.pos.lookup(field)
	v.probs = append(v.probs, Problem{Line: line, Column: col, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(field, got string, allowed []string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	msg := fmt.Sprintf("must be one of %s (got %q)", strings.Join(allowed, ", "), got)
	if s := suggest(got, allowed); s != "" && got != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	v.add(field, "%s", msg)
}

func (v *validator) port(field string, p int) {
	if p < 0 || p > 65535 {
		v.add(field, "must be a port between 1 and 65535 (got %d)", p)
	}
}

func (v *validator) path(field, p string) {
	if p != "" && !strings.HasPrefix(p, "/") {
		v.add(field, "must start with / (got %q)", p)
	}
}

// Validate checks a Stack with defaults applied and returns every problem
// found, without positions (use Load or Parse for located problems).
func (s *Stack) Validate() Problems {
	return s.validate(positions{})
}

func (s *Stack) validate(pos positions) Problems {
	v := &validator{pos: pos}
	if s.Name == "" {
		v.add("name", "is required: a short lower-case name for the stack, e.g. name: demo")
	} else if !stackNameRE.MatchString(s.Name) {
		v.add("name", "must be lower-case letters, digits, '-' or '_', starting with a letter or digit (got %q)", s.Name)
	}
	if net.ParseIP(s.BindAddress) == nil {
		v.add("bind_address", "must be an IP address such as 127.0.0.1 or 0.0.0.0 (got %q)", s.BindAddress)
	}
	if len(s.Models) == 0 {
		v.add("models", "at least one model is required, e.g. models: [{name: demo, kind: demo}]")
	}
	seen := map[string]bool{}
	for i, m := range s.Models {
		v.model(s, fmt.Sprintf("models[%d]", i), m, seen)
		v.drift(s, fmt.Sprintf("models[%d]", i), &s.Models[i])
	}
	v.exporter(s.Exporter)
	v.prometheus(s.Prometheus)
	if s.Grafana.AdminUser == "" {
		v.add("grafana.admin_user", "must not be empty")
	}
	v.oneOf("alerting.engine", s.Alerting.Engine, engines)
	if s.Alerting.Engine == EngineGrafana && !s.Grafana.IsEnabled() {
		if _, set := v.pos["alerting.engine"]; set || len(v.pos) == 0 {
			v.add("alerting.engine", "grafana needs grafana.enabled: true; set alerting.engine: prometheus to alert without Grafana")
		} else {
			// The engine is grafana by default: point at the line the user wrote.
			v.add("grafana.enabled", "false leaves the default alerting engine (grafana) without Grafana; set alerting.engine: prometheus to alert without Grafana")
		}
	}
	v.smtp(s)
	v.kubernetes(s)
	v.alerts(s)
	v.ports(s)
	v.images(s)
	v.services(s)
	return v.probs
}

func (v *validator) model(s *Stack, p string, m Model, seen map[string]bool) {
	switch {
	case m.Name == "":
		v.add(p+".name", "is required")
	case !modelNameRE.MatchString(m.Name):
		v.add(p+".name", "must be lower-case letters, digits or '-', starting and ending with a letter or digit (got %q)", m.Name)
	case seen[m.Name]:
		v.add(p+".name", "%q is used by another model; model names must be unique", m.Name)
	case reservedModelName(m.Name):
		v.add(p+".name", "%q is the name of a stack service; pick another model name", m.Name)
	default:
		v.serviceNameLength(p+".name", m)
	}
	seen[m.Name] = true
	if m.Kind == "" {
		v.add(p+".kind", "is required: one of %s", strings.Join(kinds, ", "))
		return
	}
	if !contains(kinds, m.Kind) {
		// The other checks (and the protocol's default) depend on the kind.
		v.oneOf(p+".kind", m.Kind, kinds)
		return
	}
	v.oneOf(p+".protocol", m.Protocol, protocols)
	v.port(p+".port", m.Port)
	v.port(p+".host_port", m.HostPort)
	v.port(p+".exporter_port", m.ExporterPort)
	v.path(p+".predict_path", m.PredictPath)
	v.path(p+".health_path", m.HealthPath)
	v.path(p+".metrics_path", m.MetricsPath)
	if m.Replicas < 1 {
		v.add(p+".replicas", "must be >= 1 (got %d)", m.Replicas)
	}
	if m.Replicas > 1 && m.HostPort != 0 {
		v.add(p+".host_port", "cannot publish one host port for %d replicas; remove host_port (the exporter is the entry point)", m.Replicas)
	}
	for _, k := range keys(m.Environment) {
		if !envKeyRE.MatchString(k) {
			v.add(p+".environment."+k, "is not a valid environment variable name")
		}
	}
	switch m.Kind {
	case KindDemo:
		if m.Image != "" || m.Build != "" {
			v.add(imageOrBuild(p, m), "kind demo runs stackgen's own demo model; remove image/build or use kind custom")
		}
	case KindMLflow, KindCustom:
		if m.Image == "" && m.Build == "" {
			v.add(p, "kind %s needs image: (e.g. the image from 'mlflow models build-docker') or build: (a folder with a Dockerfile)", m.Kind)
		}
	case KindTFServing:
		if m.ModelName == "" {
			v.add(p+".model_name", "kind tfserving needs model_name: (the model's name under /v1/models/NAME)")
		}
	case KindRemote:
		if m.Image != "" || m.Build != "" {
			v.add(imageOrBuild(p, m), "kind remote runs no model server; remove image/build")
		}
		if m.HostPort != 0 {
			v.add(p+".host_port", "kind remote runs no model server to publish; remove host_port")
		}
		if m.URL == "" {
			v.add(p+".url", "kind remote needs url: (e.g. https://model.example.com)")
		} else if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p+".url", "must be an http:// or https:// URL with a host (got %q)", m.URL)
		}
		if m.Protocol == ProtocolTFServing && m.ModelName == "" {
			v.add(p+".model_name", "protocol tfserving needs model_name:")
		}
	}
	if m.Kind != KindRemote && m.URL != "" {
		v.add(p+".url", "only kind remote takes url:")
	}
	if m.Build != "" {
		dir := m.Build
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.Dir(), dir)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			v.add(p+".build", "folder %q does not exist (relative to stack.yaml)", m.Build)
		}
	}
	if m.ModelBasePath != "" && m.Kind != KindTFServing {
		v.add(p+".model_base_path", "only kind tfserving mounts a model folder")
	}
}

// imageOrBuild is the field of m to blame for an image or build it must not
// have: image when set, else build.
func imageOrBuild(p string, m Model) string {
	if m.Image != "" {
		return p + ".image"
	}
	return p + ".build"
}

func (v *validator) exporter(e Exporter) {
	v.port("exporter.port", e.Port)
	for i, b := range e.Buckets {
		if b <= 0 {
			v.add(fmt.Sprintf("exporter.buckets[%d]", i), "must be > 0 (got %g)", b)
		} else if i > 0 && b <= e.Buckets[i-1] {
			v.add(fmt.Sprintf("exporter.buckets[%d]", i), "buckets must be ascending (%g after %g)", b, e.Buckets[i-1])
		}
	}
	if e.Timeout <= 0 {
		v.add("exporter.timeout", "must be > 0")
	}
	if e.MaxBody <= 0 {
		v.add("exporter.max_body", "must be > 0 bytes (got %d)", e.MaxBody)
	}
	v.minInterval("exporter.body_timeout", e.BodyTimeout)
	if e.MaxInFlight < 1 {
		v.add("exporter.max_in_flight", "must be >= 1 (got %d)", e.MaxInFlight)
	}
}

func (v *validator) prometheus(p Prometheus) {
	v.port("prometheus.port", p.Port)
	v.minInterval("prometheus.scrape_interval", p.ScrapeInterval)
	v.minInterval("prometheus.evaluation_interval", p.EvaluationInterval)
	if d, err := model.ParseDuration(p.Retention); err != nil || d <= 0 {
		v.add("prometheus.retention", "must be a duration such as 15d or 12h (got %q)", p.Retention)
	}
	if !jobNameRE.MatchString(p.JobName) {
		v.add("prometheus.job_name", "must be letters, digits, '_' or '-' (got %q)", p.JobName)
	} else if p.JobName == PrometheusJob || p.JobName == ModelServerJob || strings.HasPrefix(p.JobName, ModelServerJob+"_") {
		// Prometheus refuses two scrape jobs of one name.
		v.add("prometheus.job_name", "%q is the name of another scrape job of the stack (%s, %s, %s_MODEL); pick another, e.g. %s", p.JobName, PrometheusJob, ModelServerJob, ModelServerJob, DefaultJobName)
	}
}

func (v *validator) smtp(s *Stack) {
	m := s.SMTP
	v.oneOf("smtp.mode", m.Mode, smtpModes)
	v.oneOf("smtp.starttls_policy", m.StartTLSPolicy, starttls)
	v.port("smtp.web_port", m.WebPort)
	if m.Mode == SMTPModeOff {
		return
	}
	if m.Mode == SMTPModeExternal {
		if m.Host == "" {
			v.add("smtp.host", "is required for smtp.mode external: host:port, e.g. smtp.gmail.com:587 (or use smtp.mode: local for the built-in mail catcher)")
		} else if h, port, err := net.SplitHostPort(m.Host); err != nil || h == "" || port == "" {
			v.add("smtp.host", "must be host:port, e.g. smtp.gmail.com:587 (got %q)", m.Host)
		}
		if m.FromAddress == "" {
			v.add("smtp.from_address", "is required: the sender address of alert emails")
		}
		if len(m.Recipients) == 0 {
			v.add("smtp.recipients", "at least one recipient is required for alert emails")
		}
		if m.PasswordFile != "" {
			f := m.PasswordFile
			if !filepath.IsAbs(f) {
				f = filepath.Join(s.Dir(), f)
			}
			if st, err := os.Stat(f); err != nil {
				v.add("smtp.password_file", "file %q does not exist (relative to stack.yaml); or unset it and export STACKGEN_SMTP_PASSWORD", m.PasswordFile)
			} else if !st.Mode().IsRegular() || st.Size() == 0 {
				v.add("smtp.password_file", "%q is empty or not a file; write the SMTP password into it, or unset it and export STACKGEN_SMTP_PASSWORD", m.PasswordFile)
			}
		}
	}
	if m.FromAddress != "" {
		if _, err := mail.ParseAddress(m.FromAddress); err != nil {
			v.add("smtp.from_address", "is not an email address (got %q)", m.FromAddress)
		}
	}
	for i, r := range m.Recipients {
		if _, err := mail.ParseAddress(r); err != nil {
			v.add(fmt.Sprintf("smtp.recipients[%d]", i), "is not an email address (got %q)", r)
		}
	}
}

func (v *validator) alerts(s *Stack) {
	defaults := map[string]Alert{}
	for _, d := range s.defaultAlerts() {
		defaults[d.Name] = d
	}
	seen := map[string]bool{}
	for i, a := range s.Alerts {
		p := fmt.Sprintf("alerts[%d]", i)
		if a.Name == "" {
			v.add(p+".name", "is required")
		} else if !alertNameRE.MatchString(a.Name) {
			v.add(p+".name", "must be letters, digits and '_' (got %q)", a.Name)
		} else if seen[a.Name] {
			v.add(p+".name", "%q is used by another alert; alert names must be unique", a.Name)
		}
		seen[a.Name] = true
		merged := a
		if d, ok := defaults[a.Name]; ok && s.Alerting.DefaultsEnabled() {
			merged = overlay(d, a)
		} else if a.Kind == "" {
			msg := fmt.Sprintf("is required: one of %s", strings.Join(AlertKindNames(), ", "))
			if sg := suggest(a.Name, keys(defaults)); sg != "" {
				msg += fmt.Sprintf(" (or did you mean the default alert %q?)", sg)
			}
			v.add(p+".kind", "%s", msg)
			continue
		}
		v.alert(s, p, a, merged)
	}
}

// alert checks one alert; a is as written, m is a merged with its default.
func (v *validator) alert(s *Stack, p string, a, m Alert) {
	k, ok := AlertKinds[m.Kind]
	if !ok {
		v.oneOf(p+".kind", m.Kind, AlertKindNames())
		return
	}
	src := m.Source
	if src == "" {
		src = SourceExporter
	}
	v.oneOf(p+".source", src, alertSources)
	if !contains(k.Sources, src) {
		v.add(p+".source", "kind %s works on %s metrics only", m.Kind, strings.Join(k.Sources, ", "))
	}
	if m.Severity != "" {
		v.oneOf(p+".severity", m.Severity, severities)
	}
	v.annotation(s, p+".summary", m.Name, a.Summary)
	if k.NeedsThreshold {
		if m.Threshold == nil {
			v.add(p+".threshold", "is required for kind %s (in %s)", m.Kind, k.Unit)
		} else if *m.Threshold <= 0 {
			v.add(p+".threshold", "must be > 0 (got %g)", *m.Threshold)
		} else if m.Kind == AlertErrorRatioHigh && *m.Threshold >= 1 {
			v.add(p+".threshold", "is a ratio between 0 and 1, e.g. 0.05 for 5%% (got %g)", *m.Threshold)
		}
	} else if a.Threshold != nil && (m.Kind == AlertFeatureDrift || m.Kind == AlertPredictionDrift) {
		v.add(p+".threshold", "kind %s takes its PSI threshold from models[].drift.threshold; set it there", m.Kind)
	} else if a.Threshold != nil && m.Kind != AlertTrafficSpike {
		v.add(p+".threshold", "kind %s takes no threshold", m.Kind)
	}
	if m.Kind == AlertConfidenceDrop && m.Threshold != nil && *m.Threshold >= 1 {
		v.add(p+".threshold", "is a drop in mean top-class probability between 0 and 1, e.g. 0.1 (got %g)", *m.Threshold)
	}
	if k.NeedsFactor && (m.Factor == nil || *m.Factor <= 1) {
		got := "nothing"
		if m.Factor != nil {
			got = strconv.FormatFloat(*m.Factor, 'g', -1, 64)
		}
		v.add(p+".factor", "must be > 1, e.g. 3 for rate[1m] > 3 × rate[15m] (got %s)", got)
	}
	if m.Window != 0 && m.Window < 2*s.Prometheus.ScrapeInterval {
		v.add(p+".window", "must be at least twice prometheus.scrape_interval (%s) so rate() has two samples (got %s)", s.Prometheus.ScrapeInterval, m.Window)
	}
	if m.For != nil && *m.For < 0 {
		v.add(p+".for", "must not be negative")
	}
	if m.Model != "" && s.Model(m.Model) == nil {
		v.add(p+".model", "no model is named %q (models: %s)", m.Model, strings.Join(modelNames(s), ", "))
		return
	}
	if isDriftKind(m.Kind) && (a.Kind != "" || a.Model != "") && len(s.ModelsFor(m)) == 0 {
		v.add(p+".kind", "kind %s needs a model with drift configured (models[].drift: {baseline: FILE}%s)", m.Kind, driftNeeds(m.Kind))
	}
	scope := s.ModelsFor(Alert{Model: m.Model})
	tfScope := 0
	for _, md := range scope {
		if md.ExportsTFServingMetrics() {
			tfScope++
		}
	}
	if src == SourceModelServer && tfScope == 0 && (a.Source != "" || a.Kind != "") {
		v.add(p+".source", "model_server alerts use TF Serving metrics (:tensorflow:serving:*), which no model in scope exports (kinds tfserving and demo do); use source: exporter")
	}
	if m.Kind == AlertCustom {
		if m.Expr == "" {
			v.add(p+".expr", "is required for kind custom: a PromQL condition, e.g. sum(rate(http_requests_total[5m])) > 10")
			return
		}
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(m.Expr)
		if err != nil {
			v.add(p+".expr", "is not valid PromQL: %v", err)
			return
		}
		for _, name := range metricNames(expr) {
			if strings.HasPrefix(name, tfMetricPrefix) && tfScope == 0 {
				v.add(p+".expr", "uses %s, a TF Serving metric that no model in scope exports (kinds tfserving and demo do)", name)
			}
		}
	} else if a.Expr != "" {
		v.add(p+".expr", "only kind custom takes expr")
	}
}

// metricNames lists the metric names an expression selects, sorted.
func metricNames(e parser.Expr) []string {
	set := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name != "" {
				set[vs.Name] = true
			}
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					set[m.Value] = true
				}
			}
		}
		return nil
	})
	return keys(set)
}

func modelNames(s *Stack) []string {
	out := make([]string, len(s.Models))
	for i, m := range s.Models {
		out[i] = m.Name
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ports reports host ports published twice.
func (v *validator) ports(s *Stack) {
	type use struct {
		field string
		port  int
	}
	var uses []use
	for i, m := range s.Models {
		if m.HostPort != 0 {
			uses = append(uses, use{fmt.Sprintf("models[%d].host_port", i), m.HostPort})
		}
		f := fmt.Sprintf("models[%d].exporter_port", i)
		if _, ok := v.pos[f]; !ok {
			f = "exporter.port"
		}
		uses = append(uses, use{f, m.ExporterPort})
	}
	uses = append(uses, use{"prometheus.port", s.Prometheus.Port})
	if s.Grafana.IsEnabled() {
		uses = append(uses, use{"grafana.port", s.Grafana.Port})
	}
	if s.AlertmanagerEnabled() {
		uses = append(uses, use{"alerting.alertmanager_port", s.Alerting.AlertmanagerPort})
	}
	if s.MailCatcherEnabled() {
		uses = append(uses, use{"smtp.web_port", s.SMTP.WebPort})
	}
	first := map[int]string{}
	for _, u := range uses {
		if prev, ok := first[u.port]; ok {
			field, other := u.field, prev
			// Report the clash on a field written in the file when the
			// later one is only a default.
			if _, set := v.pos[field]; !set {
				if _, otherSet := v.pos[other]; otherSet {
					field, other = other, field
				}
			}
			if _, set := v.pos[other]; !set && len(v.pos) > 0 {
				other += " (by default)"
			}
			v.add(field, "host port %d is already used by %s; pick another port", u.port, other)
			continue
		}
		first[u.port] = u.field
	}
}
