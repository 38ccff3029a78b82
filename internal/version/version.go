// Package version holds the build's version, stamped by the Makefile with -ldflags.
package version

import "runtime/debug"

// Version is set at link time: -X github.com/signpost-project/signpost/internal/version.Version=...
var Version = ""

// String returns the version, falling back to the module build info for `go install` builds.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}
