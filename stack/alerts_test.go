package stack

import (
	"testing"
	"time"
)

func alertNames(as []Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}

func alertByName(t *testing.T, as []Alert, name string) Alert {
	t.Helper()
	for _, a := range as {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no alert %q in %v", name, alertNames(as))
	return Alert{}
}

func TestEffectiveAlertsDefaults(t *testing.T) {
	s := mustParse(t, head)
	got := s.EffectiveAlerts()
	if len(got) != len(DefaultAlerts()) {
		t.Fatalf("EffectiveAlerts = %v, want the %d defaults", alertNames(got), len(DefaultAlerts()))
	}
	for i, d := range DefaultAlerts() {
		if got[i].Name != d.Name {
			t.Errorf("alert %d = %s, want %s (catalog order)", i, got[i].Name, d.Name)
		}
		if _, ok := AlertKinds[got[i].Kind]; !ok {
			t.Errorf("default %s has unknown kind %q", d.Name, got[i].Kind)
		}
	}
	// The default set must itself be valid on a stack where all of it applies.
	if probs := s.Validate(); len(probs) != 0 {
		t.Errorf("Validate() = %v", probs)
	}
}

func TestEffectiveAlertsOverrideDisableAdd(t *testing.T) {
	s := mustParse(t, head+`alerts:
  - name: high_latency_p95
    threshold: 0.3
    severity: critical
  - name: high_cpu
    enabled: false
  - name: busy
    kind: request_rate_high
    threshold: 100
  - name: never_on
    kind: target_down
    enabled: false
  - name: errors
    kind: custom
    expr: sum(rate(http_requests_total{code=~"5.."}[5m])) > 1
    for: 5m
`)
	got := s.EffectiveAlerts()
	want := []string{"high_request_rate", "high_latency_p95", "high_error_ratio", "exporter_down", "high_memory",
		"tf_high_latency_p99", "tf_low_traffic", "tf_traffic_spike", "busy", "errors"}
	if names := alertNames(got); len(names) != len(want) {
		t.Fatalf("EffectiveAlerts = %v, want %v", names, want)
	}
	for i, n := range want {
		if got[i].Name != n {
			t.Errorf("alert %d = %s, want %s", i, got[i].Name, n)
		}
	}

	// The override changes only the fields it sets.
	lat := alertByName(t, got, "high_latency_p95")
	if *lat.Threshold != 0.3 || lat.Severity != "critical" || lat.Kind != AlertLatencyP95High ||
		lat.Window.D() != 5*time.Minute || lat.For.D() != 2*time.Minute || lat.Source != SourceExporter {
		t.Errorf("overridden alert = %+v", lat)
	}
	// The default set is not modified by an override.
	if def := alertByName(t, DefaultAlerts(), "high_latency_p95"); *def.Threshold != 0.5 {
		t.Errorf("DefaultAlerts changed: threshold %v", *def.Threshold)
	}

	// A new alert gets severity, source, window and for defaults.
	busy := alertByName(t, got, "busy")
	if busy.Severity != "warning" || busy.Source != SourceExporter || busy.Window.D() != 5*time.Minute || busy.For.D() != time.Minute {
		t.Errorf("added alert = %+v", busy)
	}
	errs := alertByName(t, got, "errors")
	if errs.Window != 0 || errs.For.D() != 5*time.Minute {
		t.Errorf("custom alert: window %v (want none), for %v", errs.Window, errs.For)
	}
}

func TestEffectiveAlertsDefaultsOff(t *testing.T) {
	s := mustParse(t, head+`alerting:
  defaults: false
alerts:
  - name: busy
    kind: request_rate_high
    threshold: 100
`)
	if got := alertNames(s.EffectiveAlerts()); len(got) != 1 || got[0] != "busy" {
		t.Errorf("EffectiveAlerts = %v, want [busy]", got)
	}
	// With defaults off, a default's name is an ordinary alert and needs a kind.
	_, err := Parse([]byte(head+"alerting:\n  defaults: false\nalerts:\n  - name: high_cpu\n    threshold: 1\n"), "stack.yaml")
	if err == nil {
		t.Fatal("an alert without kind was accepted with alerting.defaults: false")
	}
}

func TestEffectiveAlertsReenableAndOverrideValidation(t *testing.T) {
	// Overriding a default with an invalid value is caught.
	_, err := Parse([]byte(head+"alerts:\n  - name: high_error_ratio\n    threshold: 2\n"), "stack.yaml")
	if err == nil || err.Error() != "stack.yaml:7:5: alerts[0].threshold: is a ratio between 0 and 1, e.g. 0.05 for 5% (got 2)" {
		t.Errorf("err = %v", err)
	}
	// A disabled-then-enabled default (two files merged by hand) is kept.
	s := mustParse(t, head+"alerts:\n  - name: high_cpu\n    enabled: true\n")
	alertByName(t, s.EffectiveAlerts(), "high_cpu")
}

func TestModelsFor(t *testing.T) {
	s := mustParse(t, `name: x
models:
  - name: ml
    kind: mlflow
    image: ml:1
  - name: tf
    kind: tfserving
    model_name: tf
`)
	names := func(ms []Model) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	for _, tt := range []struct {
		a    Alert
		want []string
	}{
		{Alert{Source: SourceExporter}, []string{"ml", "tf"}},
		{Alert{Source: SourceModelServer}, []string{"tf"}},
		{Alert{Source: SourceExporter, Model: "ml"}, []string{"ml"}},
		{Alert{Source: SourceModelServer, Model: "ml"}, nil},
	} {
		got := names(s.ModelsFor(tt.a))
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
			t.Errorf("ModelsFor(%+v) = %v, want %v", tt.a, got, tt.want)
		}
	}
}

func TestAlertKindNames(t *testing.T) {
	names := AlertKindNames()
	if len(names) != len(AlertKinds) {
		t.Fatalf("AlertKindNames() = %v", names)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("AlertKindNames() not sorted: %v", names)
		}
	}
}
