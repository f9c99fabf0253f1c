package alerting

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/stack"
)

// Rendered paths, relative to the deploy directory.
const (
	PrometheusRulesPath      = "prometheus/rules/alerts.yml"
	AlertmanagerPath         = "alertmanager/alertmanager.yml"
	GrafanaContactPointsPath = "grafana/provisioning/alerting/contact-points.yml"
	GrafanaPoliciesPath      = "grafana/provisioning/alerting/policies.yml"
	GrafanaRulesPath         = "grafana/provisioning/alerting/rules.yml"
)

// SMTPPasswordFile is where the SMTP password secret is mounted in the
// Alertmanager (and Grafana) containers.
const SMTPPasswordFile = "/run/secrets/smtp_password"

// MailCatcherSMTP is the in-stack address of the local mail catcher's SMTP
// port (stack.MailSMTPContainerPort; a test keeps the two equal).
const MailCatcherSMTP = stack.ServiceMailcatcher + ":1025"

// Receiver names.
const (
	EmailReceiver = "email"
	NullReceiver  = "null"
)

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is a Prometheus rule group.
type RuleGroup struct {
	Name     string      `yaml:"name"`
	Interval string      `yaml:"interval,omitempty"`
	Rules    []AlertRule `yaml:"rules"`
}

// AlertRule is a Prometheus alerting rule.
type AlertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// PrometheusRules builds the Prometheus rule file: one group per model (named
// after it) plus a "stack" group for stack-wide custom alerts.
func PrometheusRules(s *stack.Stack) (RuleFile, error) {
	rules, err := Rules(s)
	if err != nil {
		return RuleFile{}, err
	}
	f := RuleFile{Groups: []RuleGroup{}}
	index := map[string]int{}
	for _, r := range rules {
		g := r.Model
		if g == "" {
			g = "stack"
		}
		name := "stackgen-" + g
		i, ok := index[name]
		if !ok {
			i = len(f.Groups)
			index[name] = i
			f.Groups = append(f.Groups, RuleGroup{Name: name, Interval: s.Prometheus.EvaluationInterval.String()})
		}
		ar := AlertRule{
			Alert:  r.Name,
			Expr:   r.Query.Condition(),
			Labels: r.Labels,
			Annotations: map[string]string{
				"summary":     r.Summary("$value"),
				"description": r.Description(),
			},
		}
		if r.Alert.For != nil && *r.Alert.For > 0 {
			ar.For = r.Alert.For.String()
		}
		f.Groups[i].Rules = append(f.Groups[i].Rules, ar)
	}
	return f, nil
}

// AlertmanagerConfig is the subset of Alertmanager's configuration stackgen renders.
type AlertmanagerConfig struct {
	Global    *AMGlobal    `yaml:"global,omitempty"`
	Route     AMRoute      `yaml:"route"`
	Receivers []AMReceiver `yaml:"receivers"`
}

// AMGlobal is Alertmanager's global section (SMTP defaults).
type AMGlobal struct {
	ResolveTimeout       string `yaml:"resolve_timeout,omitempty"`
	SMTPSmarthost        string `yaml:"smtp_smarthost,omitempty"`
	SMTPFrom             string `yaml:"smtp_from,omitempty"`
	SMTPHello            string `yaml:"smtp_hello,omitempty"`
	SMTPAuthUsername     string `yaml:"smtp_auth_username,omitempty"`
	SMTPAuthPasswordFile string `yaml:"smtp_auth_password_file,omitempty"`
	SMTPRequireTLS       *bool  `yaml:"smtp_require_tls,omitempty"`
}

// AMRoute is Alertmanager's root route.
type AMRoute struct {
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by,omitempty"`
	GroupWait      string   `yaml:"group_wait,omitempty"`
	GroupInterval  string   `yaml:"group_interval,omitempty"`
	RepeatInterval string   `yaml:"repeat_interval,omitempty"`
}

// AMReceiver is an Alertmanager receiver; without email configs it drops alerts.
type AMReceiver struct {
	Name         string          `yaml:"name"`
	EmailConfigs []AMEmailConfig `yaml:"email_configs,omitempty"`
}

// AMEmailConfig is an Alertmanager email notifier.
type AMEmailConfig struct {
	To           string       `yaml:"to"`
	SendResolved bool         `yaml:"send_resolved"`
	TLSConfig    *AMTLSConfig `yaml:"tls_config,omitempty"`
}

// AMTLSConfig is the TLS configuration of an email notifier.
type AMTLSConfig struct {
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Alertmanager builds the Alertmanager configuration. SMTP mode local sends
// to the in-stack mail catcher without authentication; external sends to
// smtp.host, authenticating as smtp.user with the password read from
// SMTPPasswordFile (smtp_auth_password_file, Alertmanager ≥ 0.25);
// off routes everything to a receiver that drops alerts.
//
// smtp_require_tls follows starttls_policy: NoStartTLS → false, Mandatory
// and Opportunistic → true. Alertmanager has no opportunistic mode (with
// require_tls false it never upgrades), so Opportunistic errs on the side of
// not sending credentials in clear. Port 465 (implicit TLS) is handled by
// Alertmanager itself.
func Alertmanager(s *stack.Stack) AlertmanagerConfig {
	route := AMRoute{
		Receiver:       EmailReceiver,
		GroupBy:        []string{"alertname", LabelModel},
		GroupWait:      "10s",
		GroupInterval:  "1m",
		RepeatInterval: "4h",
	}
	m := s.SMTP
	if !m.Enabled() {
		route.Receiver = NullReceiver
		return AlertmanagerConfig{Route: route, Receivers: []AMReceiver{{Name: NullReceiver}}}
	}
	requireTLS := m.StartTLSPolicy != "NoStartTLS"
	g := &AMGlobal{
		ResolveTimeout: "5m",
		SMTPSmarthost:  m.Host,
		SMTPFrom:       fromHeader(m),
		SMTPHello:      "stackgen",
		SMTPRequireTLS: &requireTLS,
	}
	if m.Mode == stack.SMTPModeLocal {
		g.SMTPSmarthost = MailCatcherSMTP
	} else if m.User != "" {
		g.SMTPAuthUsername = m.User
		g.SMTPAuthPasswordFile = SMTPPasswordFile
	}
	ec := AMEmailConfig{To: strings.Join(m.Recipients, ", "), SendResolved: true}
	if m.SkipVerify {
		ec.TLSConfig = &AMTLSConfig{InsecureSkipVerify: true}
	}
	return AlertmanagerConfig{
		Global:    g,
		Route:     route,
		Receivers: []AMReceiver{{Name: EmailReceiver, EmailConfigs: []AMEmailConfig{ec}}},
	}
}

// fromHeader is the From address with the display name, e.g. "stackgen alerts" <a@b>.
func fromHeader(m stack.SMTP) string {
	if m.FromName == "" {
		return m.FromAddress
	}
	return (&mail.Address{Name: m.FromName, Address: m.FromAddress}).String()
}

// marshal encodes v as YAML with two-space indentation, behind a header comment.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by stackgen from stack.yaml; edit stack.yaml and re-render instead.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return b.Bytes(), nil
}
