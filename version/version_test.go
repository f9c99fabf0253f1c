package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name      string
		bi        *debug.BuildInfo
		ok        bool
		want      Info
		wantShort string
	}{
		{"no build info", nil, false, Info{Version: "devel", GoVersion: "unknown"}, "devel"},
		{"work tree build", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}},
			true, Info{Version: "devel", Commit: "0123456789abcdef0123", GoVersion: "go1.26.8"}, "devel-0123456789ab"},
		{"dirty work tree", &debug.BuildInfo{GoVersion: "go1.26.8",
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}},
			true, Info{Version: "devel", Commit: "0123456789abcdef0123-dirty", GoVersion: "go1.26.8"}, "devel-0123456789ab-dirty"},
		{"module version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			true, Info{Version: "v1.2.3", GoVersion: "go1.26.8"}, "v1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromBuildInfo(tt.bi, tt.ok)
			if got != tt.want {
				t.Fatalf("FromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if s := got.Short(); s != tt.wantShort {
				t.Fatalf("Short = %q, want %q", s, tt.wantShort)
			}
		})
	}
}

func TestGetIsStable(t *testing.T) {
	if Get() != Get() || Get().GoVersion == "" {
		t.Fatalf("Get() = %+v", Get())
	}
}
