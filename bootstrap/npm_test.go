package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nodeTools finds node and npm, and any extra files the test needs. Without them the
// test skips, except under CI=true, where a missing tool is a failure (.ci/run installs
// what the suite needs).
func nodeTools(t *testing.T, what string, files ...string) (node, npm string) {
	t.Helper()
	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	errs := []error{nodeErr, npmErr}
	for _, f := range files {
		_, err := os.Stat(f)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s needs node, npm and %v under CI=true: %v", what, files, err)
		}
		t.Skipf("%s needs node, npm and %v: %v", what, files, err)
	}
	return node, npm
}

// npmModules installs the dependency pkg named in dir/package.json once into
// os.TempDir()/tenantry-<pkg>/<pkg>@<version spec> and returns its node_modules. The
// install goes to a scratch directory renamed into place, so a half-finished or
// concurrent install is never used, and later runs reuse it.
func npmModules(t *testing.T, npm, dir, pkg string) string {
	t.Helper()
	manifestBytes, err := os.ReadFile(filepath.Join(dir, "package.json"))
	require.NoError(t, err)
	var manifest struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	require.NoError(t, json.Unmarshal(manifestBytes, &manifest))
	spec := manifest.Dependencies[pkg]
	require.NotEmpty(t, spec, "package.json must depend on %s", pkg)
	root := filepath.Join(os.TempDir(), "tenantry-"+pkg)
	target := filepath.Join(root, pkg+"@"+regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(spec, "_"))
	modules := filepath.Join(target, "node_modules")
	marker := filepath.Join(modules, pkg, "package.json")
	if _, err := os.Stat(marker); err == nil {
		return modules
	}
	require.NoError(t, os.MkdirAll(root, 0o755))
	scratch, err := os.MkdirTemp(root, "install-")
	require.NoError(t, err)
	defer os.RemoveAll(scratch) // gone after the rename; cleans up a failed install
	require.NoError(t, os.WriteFile(filepath.Join(scratch, "package.json"), manifestBytes, 0o644))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", "--loglevel=error")
	cmd.Dir = scratch
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm install %s@%s:\n%s", pkg, spec, out)
	// Losing the race to a concurrent install (the target exists) is fine.
	if err := os.Rename(scratch, target); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("move the %s install into place: %v", pkg, err)
	}
	_, err = os.Stat(marker)
	require.NoError(t, err, "%s is not installed in %s", pkg, target)
	return modules
}
