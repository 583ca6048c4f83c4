package bootstrap

import (
	"runtime/debug"
	"strings"
)

// versionLine is what `tenantry --version` prints, from the build information the Go
// toolchain embeds: the main module's version ("(devel)" for a build from a checkout),
// the commit it was built from with its time and "+dirty" when the tree had uncommitted
// changes ("unknown" when built outside version control), and the Go release.
func versionLine(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "tenantry (unknown build)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	commit := settings["vcs.revision"]
	if commit == "" {
		commit = "unknown"
	}
	if settings["vcs.modified"] == "true" {
		commit += "+dirty"
	}
	parts := []string{"tenantry", bi.Main.Version, "commit", commit}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	return strings.Join(append(parts, bi.GoVersion), " ")
}
