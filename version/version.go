// Package version reports which stackgen is running: its module version, the
// VCS commit it was built from and the Go toolchain, all read from the
// binary's build info (nothing is stamped with -ldflags).
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
)

// Info identifies a stackgen build.
type Info struct {
	// Version is the module version ("v1.2.3"), or "devel" for a build from a
	// work tree.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from ("" if unknown),
	// with "-dirty" appended when the work tree had uncommitted changes.
	Commit string `json:"commit,omitempty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// String is the one-line form `stackgen version` prints.
func (i Info) String() string {
	s := "stackgen " + i.Version
	if i.Commit != "" {
		s += " (commit " + i.Commit + ")"
	}
	return s + " " + i.GoVersion
}

// Short is the version and a 12-character commit, fit for an image tag or a
// manifest field: "devel-0123456789ab", "v1.2.3".
func (i Info) Short() string {
	if i.Version != "devel" || i.Commit == "" {
		return i.Version
	}
	c, dirty := strings.CutSuffix(i.Commit, "-dirty")
	if len(c) > 12 {
		c = c[:12]
	}
	if dirty {
		c += "-dirty"
	}
	return i.Version + "-" + c
}

var (
	once sync.Once
	info Info
)

// Get returns the running binary's build information.
func Get() Info {
	once.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		info = FromBuildInfo(bi, ok)
	})
	return info
}

// FromBuildInfo derives Info from build info (ok false: none was embedded).
func FromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	i := Info{Version: "devel", GoVersion: "unknown"}
	if !ok || bi == nil {
		return i
	}
	i.GoVersion = bi.GoVersion
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		i.Version = v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		i.Commit = rev
		if dirty {
			i.Commit += "-dirty"
		}
	}
	return i
}

// UserAgent is "stackgen/VERSION", for HTTP clients.
func UserAgent() string { return fmt.Sprintf("stackgen/%s", Get().Short()) }
