package bootstrap

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionLine(t *testing.T) {
	t.Parallel()
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{name: "a release", ok: true, bi: &debug.BuildInfo{GoVersion: "go1.26.10", Main: debug.Module{Version: "v1.4.0"},
			Settings: vcs("vcs.revision", "0123abcd", "vcs.time", "2026-12-05T17:00:00Z", "vcs.modified", "false")},
			want: "tenantry v1.4.0 commit 0123abcd 2026-12-05T17:00:00Z go1.26.10"},
		{name: "a dirty checkout", ok: true, bi: &debug.BuildInfo{GoVersion: "go1.26.10", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "0123abcd", "vcs.time", "2026-12-05T17:00:00Z", "vcs.modified", "true")},
			want: "tenantry (devel) commit 0123abcd+dirty 2026-12-05T17:00:00Z go1.26.10"},
		{name: "outside version control", ok: true, bi: &debug.BuildInfo{GoVersion: "go1.26.10", Main: debug.Module{Version: "(devel)"}},
			want: "tenantry (devel) commit unknown go1.26.10"},
		{name: "no build information", want: "tenantry (unknown build)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, versionLine(tc.bi, tc.ok))
		})
	}
}

// The real binary reports the commit it was built from, as git names it. It is built
// here with -buildvcs=true, since GOFLAGS may turn stamping off for other builds.
func TestBinaryVersionNamesItsCommit(t *testing.T) {
	head, gitErr := exec.Command("git", "rev-parse", "HEAD").Output()
	top, _ := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	dotGit, statErr := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git"))
	if gitErr != nil || statErr != nil || !dotGit.IsDir() {
		// Outside a git checkout, or in a linked worktree (whose .git is a file the go
		// command does not read), there is no commit to stamp, and the binary says so.
		r := mustRunBinary(t, env{}, "", "--version")
		assert.Contains(t, r.out, " commit unknown ", "git: %v, .git: %v", gitErr, statErr)
		return
	}
	bin := filepath.Join(t.TempDir(), "tenantry")
	out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, module).CombinedOutput()
	require.NoError(t, err, "%s", out)

	got, err := exec.Command(bin, "--version").Output()
	require.NoError(t, err)

	line := strings.TrimSpace(string(got))
	assert.Regexp(t, regexp.MustCompile(`^tenantry \S+ commit [0-9a-f]{40}(\+dirty)? \S+ go1\.\d+`), line)
	assert.Contains(t, line, " commit "+strings.TrimSpace(string(head)))
}
