// Package prometheus renders a stack's Prometheus configuration
// (prometheus.yml) from typed values. Alert rule files come from the alerting
// package; this package only points Prometheus at them.
package prometheus

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/stack"
)

// ConfigFile is the rendered configuration, relative to the deploy folder.
const ConfigFile = "prometheus/prometheus.yml"

// ModelServerJob is the job label of every model server scrape target that
// exports TF Serving metrics.
//
// Deprecated: use stack.ModelServerJob; names shared by renderers live in stack.
const ModelServerJob = stack.ModelServerJob

// ModelLabel is the target label naming the model on every scrape target.
//
// Deprecated: use stack.ModelLabel.
const ModelLabel = stack.ModelLabel

// Config is the subset of Prometheus' configuration file that stackgen writes.
type Config struct {
	Global        Global         `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files,omitempty"`
	Alerting      *Alerting      `yaml:"alerting,omitempty"`
	ScrapeConfigs []ScrapeConfig `yaml:"scrape_configs"`
}

// Global holds the global section.
type Global struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels,omitempty"`
}

// Alerting lists the Alertmanagers alerts are sent to.
type Alerting struct {
	Alertmanagers []AlertmanagerConfig `yaml:"alertmanagers"`
}

// AlertmanagerConfig is one Alertmanager discovery section.
type AlertmanagerConfig struct {
	StaticConfigs []StaticConfig `yaml:"static_configs"`
}

// ScrapeConfig is one scrape job.
type ScrapeConfig struct {
	JobName        string          `yaml:"job_name"`
	ScrapeInterval string          `yaml:"scrape_interval,omitempty"`
	MetricsPath    string          `yaml:"metrics_path,omitempty"`
	Scheme         string          `yaml:"scheme,omitempty"`
	TLSConfig      *TLSConfig      `yaml:"tls_config,omitempty"`
	StaticConfigs  []StaticConfig  `yaml:"static_configs,omitempty"`
	DNSSDConfigs   []DNSSDConfig   `yaml:"dns_sd_configs,omitempty"`
	RelabelConfigs []RelabelConfig `yaml:"relabel_configs,omitempty"`
}

// TLSConfig holds the scrape TLS settings.
type TLSConfig struct {
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// StaticConfig is a list of targets sharing labels.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

// DNSSDConfig discovers every replica of a service through Docker's DNS.
type DNSSDConfig struct {
	Names []string `yaml:"names"`
	Type  string   `yaml:"type"`
	Port  int      `yaml:"port"`
}

// RelabelConfig is one relabelling step.
type RelabelConfig struct {
	TargetLabel string `yaml:"target_label"`
	Replacement string `yaml:"replacement"`
}

// Build returns the Prometheus configuration for s.
func Build(s *stack.Stack) Config {
	c := Config{
		Global: Global{
			ScrapeInterval:     s.Prometheus.ScrapeInterval.String(),
			EvaluationInterval: s.Prometheus.EvaluationInterval.String(),
			ExternalLabels:     map[string]string{"stack": s.Name},
		},
		RuleFiles: []string{"rules/*.yml"},
	}
	if s.AlertmanagerEnabled() {
		c.Alerting = &Alerting{Alertmanagers: []AlertmanagerConfig{{StaticConfigs: []StaticConfig{{
			Targets: []string{stack.ServiceAlertmanager + ":" + strconv.Itoa(stack.AlertmanagerContainerPort)},
		}}}}}
	}
	c.ScrapeConfigs = append(c.ScrapeConfigs, ScrapeConfig{
		JobName:       stack.PrometheusJob,
		StaticConfigs: []StaticConfig{{Targets: []string{"localhost:" + strconv.Itoa(stack.PrometheusContainerPort)}}},
	})
	exp := ScrapeConfig{JobName: s.Prometheus.JobName}
	for _, m := range s.Models {
		exp.StaticConfigs = append(exp.StaticConfigs, StaticConfig{
			Targets: []string{m.ExporterService() + ":" + strconv.Itoa(stack.ExporterContainerPort)},
			Labels:  map[string]string{stack.ModelLabel: m.Name},
		})
	}
	c.ScrapeConfigs = append(c.ScrapeConfigs, exp)

	local := ScrapeConfig{JobName: stack.ModelServerJob, MetricsPath: stack.TFServingMetricsPath}
	var remotes []ScrapeConfig
	for _, m := range s.Models {
		if !m.ExportsTFServingMetrics() {
			continue
		}
		labels := map[string]string{stack.ModelLabel: m.Name}
		if m.Kind == stack.KindRemote {
			remotes = append(remotes, remoteJob(m, labels))
			continue
		}
		if m.Replicas > 1 {
			// Every replica through Docker's DNS, in a job of its own since
			// dns_sd_configs carry no labels; relabelling restores job and model.
			remotes = append(remotes, ScrapeConfig{
				JobName:      stack.ModelServerJob + "_" + m.Name,
				MetricsPath:  m.MetricsPath,
				DNSSDConfigs: []DNSSDConfig{{Names: []string{m.ServiceName()}, Type: "A", Port: m.Port}},
				RelabelConfigs: []RelabelConfig{
					{TargetLabel: "job", Replacement: stack.ModelServerJob},
					{TargetLabel: stack.ModelLabel, Replacement: m.Name},
				},
			})
			continue
		}
		local.StaticConfigs = append(local.StaticConfigs, StaticConfig{
			Targets: []string{m.ServiceName() + ":" + strconv.Itoa(m.Port)},
			Labels:  labels,
		})
	}
	if len(local.StaticConfigs) > 0 {
		c.ScrapeConfigs = append(c.ScrapeConfigs, local)
	}
	c.ScrapeConfigs = append(c.ScrapeConfigs, remotes...)
	return c
}

// remoteJob scrapes a model served elsewhere (https allowed), keeping the
// model_server job label so dashboards and alerts see it like a local one.
func remoteJob(m stack.Model, labels map[string]string) ScrapeConfig {
	host, scheme := remoteHost(m.URL)
	j := ScrapeConfig{
		JobName:        stack.ModelServerJob + "_" + m.Name,
		MetricsPath:    m.MetricsPath,
		Scheme:         scheme,
		StaticConfigs:  []StaticConfig{{Targets: []string{host}, Labels: labels}},
		RelabelConfigs: []RelabelConfig{{TargetLabel: "job", Replacement: stack.ModelServerJob}},
	}
	if scheme == "https" && m.TLSSkipVerify {
		j.TLSConfig = &TLSConfig{InsecureSkipVerify: true}
	}
	return j
}

// Render marshals the configuration of s.
func Render(s *stack.Stack) (map[string][]byte, error) {
	data, err := yaml.Marshal(Build(s))
	if err != nil {
		return nil, fmt.Errorf("marshal prometheus.yml: %w", err)
	}
	return map[string][]byte{ConfigFile: data}, nil
}
