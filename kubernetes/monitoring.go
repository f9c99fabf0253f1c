package kubernetes

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/drift"
	"github.com/stackgen/stackgen/stack"
)

// File names of the stack-wide monitoring objects.
const (
	PrometheusRuleFile     = "prometheusrule.yaml"
	AlertmanagerConfigFile = "alertmanagerconfig.yaml"
)

// monitoringLabels are an object's labels plus the Prometheus selector, so
// kube-prometheus-stack's Prometheus picks it up.
func (b *builder) monitoringLabels(name, component string) map[string]string {
	l := b.labels(name, component)
	for k, v := range b.s.Kubernetes.PrometheusSelector {
		l[k] = v
	}
	return l
}

// jobRelabel sets job and model to what the compose target's static scrape
// configs give, so every dashboard and rule query works unchanged.
func jobRelabel(job, model string) []monitoringv1.RelabelConfig {
	return []monitoringv1.RelabelConfig{
		{Action: "replace", TargetLabel: "job", Replacement: ptr(job)},
		{Action: "replace", TargetLabel: stack.ModelLabel, Replacement: ptr(model)},
	}
}

// serviceMonitor scrapes a model's exporter (job ml_model_exporter) and, when
// the model server exports TF Serving metrics, the server itself (job model_server).
func (b *builder) serviceMonitor(m stack.Model) *monitoringv1.ServiceMonitor {
	interval := monitoringv1.Duration(b.s.Prometheus.ScrapeInterval.String())
	eps := []monitoringv1.Endpoint{{
		Port:           PortExporter,
		Path:           "/metrics",
		Interval:       interval,
		RelabelConfigs: jobRelabel(b.s.Prometheus.JobName, m.Name),
	}}
	if m.HasServer() && m.ExportsTFServingMetrics() {
		eps = append(eps, monitoringv1.Endpoint{
			Port:           PortModel,
			Path:           m.MetricsPath,
			Interval:       interval,
			RelabelConfigs: jobRelabel(stack.ModelServerJob, m.Name),
		})
	}
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
		ObjectMeta: b.meta(m.Name, b.monitoringLabels(m.Name, "model")),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:  metav1.LabelSelector{MatchLabels: b.selectorLabels(m)},
			Endpoints: eps,
		},
	}
}

// alerting adds the alert catalog as a PrometheusRule, whatever the engine
// (kube-prometheus-stack evaluates PrometheusRules out of the box; its
// Grafana alert sidecar is off by default), and for engine prometheus with
// smtp.mode external an AlertmanagerConfig routing them to email. For engine
// grafana, Grafana's own rules come as the grafana_alert ConfigMap (grafana.go)
// and email goes through Grafana; the cluster's Alertmanager routes the
// PrometheusRule's alerts as it is configured (kube-prometheus-stack: a null
// receiver by default), so no email is sent twice unless you route them.
func (b *builder) alerting() error {
	pr, err := PrometheusRule(b.s)
	if err != nil {
		return err
	}
	pr.ObjectMeta = b.meta(b.s.Name, b.monitoringLabels(b.s.Name, "alerting"))
	b.add(PrometheusRuleFile, pr)
	if b.s.Alerting.Engine != stack.EnginePrometheus {
		return nil
	}
	if amc := b.alertmanagerConfig(); amc != nil {
		b.add(AlertmanagerConfigFile, amc)
	}
	return nil
}

// PrometheusRule converts the rule files the compose target renders
// (alerting.PrometheusRules and the drift recording rules, covered by
// promtool test rules) into a PrometheusRule.
func PrometheusRule(s *stack.Stack) (*monitoringv1.PrometheusRule, error) {
	rf, err := alerting.PrometheusRules(s)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: prometheus rules: %w", err)
	}
	pr := &monitoringv1.PrometheusRule{
		TypeMeta: metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
		Spec:     monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{}},
	}
	for _, g := range rf.Groups {
		rg := monitoringv1.RuleGroup{Name: g.Name}
		if g.Interval != "" {
			rg.Interval = ptr(monitoringv1.Duration(g.Interval))
		}
		for _, r := range g.Rules {
			rule := monitoringv1.Rule{
				Alert:       r.Alert,
				Expr:        intstr.FromString(r.Expr),
				Labels:      r.Labels,
				Annotations: r.Annotations,
			}
			if r.For != "" {
				rule.For = ptr(monitoringv1.Duration(r.For))
			}
			rg.Rules = append(rg.Rules, rule)
		}
		pr.Spec.Groups = append(pr.Spec.Groups, rg)
	}
	// The drift recording rules (compose: prometheus/rules/drift-<model>.yml),
	// which the drift alerts read.
	groups, err := drift.RuleGroups(s)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: drift rules: %w", err)
	}
	for _, g := range groups {
		rg := monitoringv1.RuleGroup{Name: g.Name}
		if g.Interval != "" {
			rg.Interval = ptr(monitoringv1.Duration(g.Interval))
		}
		for _, r := range g.Rules {
			rg.Rules = append(rg.Rules, monitoringv1.Rule{Record: r.Record, Expr: intstr.FromString(r.Expr), Labels: r.Labels})
		}
		pr.Spec.Groups = append(pr.Spec.Groups, rg)
	}
	return pr, nil
}

// alertmanagerConfig routes the stack's alerts to email through
// kube-prometheus-stack's Alertmanager, with the SMTP password taken from the
// Secret the user creates (kubernetes.smtp_secret); nil unless smtp.mode is
// external (the local mail catcher has no Kubernetes counterpart).
func (b *builder) alertmanagerConfig() *monitoringv1alpha1.AlertmanagerConfig {
	m := b.s.SMTP
	if m.Mode != stack.SMTPModeExternal {
		return nil
	}
	am := alerting.Alertmanager(b.s)
	route := &monitoringv1alpha1.Route{
		Receiver:       alerting.EmailReceiver,
		GroupBy:        am.Route.GroupBy,
		GroupWait:      ptr(monitoringv1.NonEmptyDuration(am.Route.GroupWait)),
		GroupInterval:  ptr(monitoringv1.NonEmptyDuration(am.Route.GroupInterval)),
		RepeatInterval: ptr(monitoringv1.NonEmptyDuration(am.Route.RepeatInterval)),
	}
	ec := monitoringv1alpha1.EmailConfig{
		SendResolved: ptr(true),
		To:           ptr(strings.Join(m.Recipients, ", ")),
		From:         ptr(am.Global.SMTPFrom),
		Hello:        ptr(am.Global.SMTPHello),
		Smarthost:    ptr(m.Host),
		RequireTLS:   am.Global.SMTPRequireTLS,
	}
	if m.User != "" {
		ec.AuthUsername = ptr(m.User)
		ec.AuthPassword = &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: b.s.Kubernetes.SMTPSecret.Name},
			Key:                  b.s.Kubernetes.SMTPSecret.Key,
		}
	}
	if m.SkipVerify {
		ec.TLSConfig = &monitoringv1.SafeTLSConfig{InsecureSkipVerify: ptr(true)}
	}
	return &monitoringv1alpha1.AlertmanagerConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1alpha1", Kind: "AlertmanagerConfig"},
		ObjectMeta: b.meta(b.s.Name, b.monitoringLabels(b.s.Name, "alerting")),
		Spec: monitoringv1alpha1.AlertmanagerConfigSpec{
			Route:     route,
			Receivers: []monitoringv1alpha1.Receiver{{Name: alerting.EmailReceiver, EmailConfigs: []monitoringv1alpha1.EmailConfig{ec}}},
		},
	}
}
