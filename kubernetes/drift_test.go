package kubernetes

import (
	"reflect"
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/drift"
	"github.com/stackgen/stackgen/stack"
)

// TestDriftBaselineConfigMap: a model with drift gets a <model>-baseline
// ConfigMap holding its feature-filtered baseline, mounted read-only into the
// exporter at the --baseline path; a model without drift gets none of it.
func TestDriftBaselineConfigMap(t *testing.T) {
	s, err := stack.Parse([]byte("name: d\nmodels:\n  - {name: a, kind: demo, drift: {features: [age, overtime]}}\n  - {name: b, kind: demo}\nalerting: {defaults: false}\n"), "stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := render(t, s)
	t.Run("PrometheusRule records PSI", func(t *testing.T) {
		var pr monitoringv1.PrometheusRule
		if err := yaml.UnmarshalStrict(files[PrometheusRuleFile], &pr); err != nil {
			t.Fatal(err)
		}
		records := map[string][]string{}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					records[g.Name] = append(records[g.Name], r.Record)
				}
			}
		}
		if !slices.Contains(records[drift.GroupName("a")], stack.RecFeaturePSI) || len(records) != 1 {
			t.Errorf("recording rules by group %v, want %s in %s only", records, stack.RecFeaturePSI, drift.GroupName("a"))
		}
	})
	tests := []struct {
		model string
		drift bool
	}{{"a", true}, {"b", false}}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(files[tc.model+"-deployment.yaml"], &d); err != nil {
				t.Fatal(err)
			}
			var exp corev1.Container
			for _, c := range d.Spec.Template.Spec.Containers {
				if c.Name == PortExporter {
					exp = c
				}
			}
			cmData, hasCM := files[tc.model+"-baseline-configmap.yaml"]
			i := indexOf(exp.Args, "--baseline")
			if !tc.drift {
				if hasCM || i >= 0 || len(exp.VolumeMounts) > 0 || d.Spec.Template.Annotations[AnnotationBaseline] != "" {
					t.Errorf("no drift, yet configmap %v, --baseline %v, mounts %v", hasCM, i >= 0, exp.VolumeMounts)
				}
				return
			}
			if i < 0 || exp.Args[i+1] != stack.ExporterBaselinePath {
				t.Errorf("exporter args %q lack --baseline %s", exp.Args, stack.ExporterBaselinePath)
			}
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict(cmData, &cm); err != nil {
				t.Fatal(err)
			}
			b, err := baseline.Parse([]byte(cm.Data[baselineKey]))
			if err != nil {
				t.Fatalf("the ConfigMap's baseline: %v", err)
			}
			var names []string
			for _, f := range b.Features {
				names = append(names, f.Name)
			}
			if !reflect.DeepEqual(names, []string{"age", "overtime"}) {
				t.Errorf("features %v, want the drift.features subset", names)
			}
			want := corev1.VolumeMount{Name: baselineVolume, MountPath: stack.ExporterBaselinePath, SubPath: baselineKey, ReadOnly: true}
			if !reflect.DeepEqual(exp.VolumeMounts, []corev1.VolumeMount{want}) {
				t.Errorf("mounts %+v, want %+v", exp.VolumeMounts, want)
			}
			found := false
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == baselineVolume && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
					found = true
				}
			}
			if !found || cm.Name != "a-baseline" || cm.Namespace != s.Kubernetes.Namespace {
				t.Errorf("volume for ConfigMap %s/%s not found in %+v", cm.Namespace, cm.Name, d.Spec.Template.Spec.Volumes)
			}
			if len(d.Spec.Template.Annotations[AnnotationBaseline]) != 64 {
				t.Errorf("pod template annotations %v lack the baseline's sha256", d.Spec.Template.Annotations)
			}
		})
	}
}
