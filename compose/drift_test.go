package compose

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackgen/stackgen/stack"
)

// TestDriftBaselineMount checks, through compose-go's loader, that an
// exporter of a model with drift reads its baseline: the deploy folder's
// exporter/<model>.baseline.json mounted read-only at the --baseline path,
// and that a model without drift gets neither.
func TestDriftBaselineMount(t *testing.T) {
	dir := t.TempDir()
	s := mustStack(t, dir, "name: d\nmodels:\n  - name: a\n    kind: demo\n    drift: {}\n  - name: b\n    kind: demo\n")
	p, _ := load(t, s, dir)
	tests := []struct {
		service string
		drift   bool
	}{{"a-exporter", true}, {"b-exporter", false}}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			svc := p.Services[tc.service]
			i := slices.Index([]string(svc.Command), "--baseline")
			hasFlag := i >= 0 && i+1 < len(svc.Command) && svc.Command[i+1] == stack.ExporterBaselinePath
			var mount *types.ServiceVolumeConfig
			for j, v := range svc.Volumes {
				if v.Target == stack.ExporterBaselinePath {
					mount = &svc.Volumes[j]
				}
			}
			if !tc.drift {
				if i >= 0 || mount != nil {
					t.Errorf("no drift, yet --baseline %v / mount %+v", i >= 0, mount)
				}
				return
			}
			if !hasFlag {
				t.Errorf("command %v lacks --baseline %s", svc.Command, stack.ExporterBaselinePath)
			}
			want := filepath.Join(dir, "deploy", "exporter", "a.baseline.json")
			if mount == nil || mount.Type != types.VolumeTypeBind || !mount.ReadOnly || mount.Source != want {
				t.Errorf("mount %+v, want a read-only bind of %s", mount, want)
			}
		})
	}
}
