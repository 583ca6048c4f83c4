package bootstrap

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/tenantry/tenantry"

type listedPackage struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// layerOf names the hexagon layer of a package of this module ("" for the rest).
func layerOf(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	switch {
	case path == module:
		return "main"
	case rel == "domain", rel == "ports", rel == "application", rel == "bootstrap":
		return rel
	case strings.HasPrefix(rel, "ports/"):
		return "porttest"
	case strings.HasPrefix(rel, "adapters/"):
		return "adapter"
	}
	return "other"
}

// adapterOf returns "adapters/x" for any package under adapters/x.
func adapterOf(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, module+"/"), "/")
	if len(parts) >= 2 && parts[0] == "adapters" {
		return parts[0] + "/" + parts[1]
	}
	return ""
}

// sharedAdapters holds small infrastructure that several adapters share (a memory
// budget for in-process indexes): any adapter may import it, and it imports only the
// standard library, so it can never carry one adapter into another.
const sharedAdapters = "adapters/internal"

var frameworks = []string{"go.uber.org/zap", "gorm.io/", "github.com/labstack/echo", "github.com/lestrrat-go/jwx"}

// violations applies the dependency rule of STYLE.md §1 to non-test imports.
func violations(pkgs []listedPackage, isStd func(string) bool) []string {
	var out []string
	for _, p := range pkgs {
		layer := layerOf(p.ImportPath)
		for _, imp := range p.Imports {
			own := strings.HasPrefix(imp, module)
			impLayer := ""
			if own {
				impLayer = layerOf(imp)
			}
			bad := ""
			switch {
			case own && impLayer == "bootstrap" && layer != "main":
				bad = "only main may import bootstrap"
			case layer == "domain" && !isStd(imp):
				bad = "domain imports only the standard library"
			case layer == "ports" && !isStd(imp) && impLayer != "domain":
				bad = "ports imports only domain and the standard library"
			case layer == "application" && !isStd(imp) && impLayer != "domain" && impLayer != "ports":
				bad = "application imports only domain, ports and the standard library"
			case adapterOf(p.ImportPath) == sharedAdapters && !isStd(imp):
				bad = "adapters/internal imports only the standard library"
			case layer == "adapter" && impLayer == "adapter" && adapterOf(imp) != adapterOf(p.ImportPath) && adapterOf(imp) != sharedAdapters:
				bad = "adapters never import each other"
			case layer == "adapter" && impLayer == "application" && adapterOf(p.ImportPath) != "adapters/httpapi":
				bad = "only httpapi may import application"
			case layer != "adapter" && layer != "bootstrap" && layer != "main" && hasAnyPrefix(imp, frameworks):
				bad = "zap, GORM, Echo and JWX belong in adapters and bootstrap only"
			case strings.HasPrefix(imp, "github.com/lestrrat-go/jwx") && adapterOf(p.ImportPath) != "adapters/jwtauth":
				bad = "JWX stays inside adapters/jwtauth, so that a move to jwx/v3 changes one package"
			}
			if bad != "" {
				out = append(out, p.ImportPath+" imports "+imp+": "+bad)
			}
		}
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func listPackages(t *testing.T, patterns ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Imports,Standard"}, patterns...)...)
	out, err := cmd.Output()
	require.NoError(t, err, "go list failed")
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func stdChecker(t *testing.T) func(string) bool {
	t.Helper()
	std := map[string]bool{}
	for _, p := range listPackages(t, "std") {
		std[p.ImportPath] = true
	}
	return func(path string) bool { return std[path] }
}

func TestArchitectureDependencyRule(t *testing.T) {
	pkgs := listPackages(t, module+"/...")
	require.NotEmpty(t, pkgs)
	layers := map[string]bool{}
	for _, p := range pkgs {
		layers[layerOf(p.ImportPath)] = true
	}
	for _, l := range []string{"main", "domain", "ports", "application", "adapter", "bootstrap"} {
		assert.True(t, layers[l], "no package found in layer %s", l)
	}
	assert.Empty(t, violations(pkgs, stdChecker(t)))
}

func TestArchitectureRuleCatchesPlantedImports(t *testing.T) {
	isStd := func(p string) bool { return !strings.Contains(p, ".") }
	tests := []struct {
		name string
		pkg  listedPackage
		want string
	}{
		{"domain imports zap", listedPackage{ImportPath: module + "/domain", Imports: []string{"go.uber.org/zap"}}, "domain imports only"},
		{"ports imports an adapter", listedPackage{ImportPath: module + "/ports", Imports: []string{module + "/adapters/memory"}}, "ports imports only"},
		{"application imports gorm", listedPackage{ImportPath: module + "/application", Imports: []string{"gorm.io/gorm"}}, "application imports only"},
		{"adapter imports adapter", listedPackage{ImportPath: module + "/adapters/sqlstore", Imports: []string{module + "/adapters/cache"}}, "never import each other"},
		{"adapter imports bootstrap", listedPackage{ImportPath: module + "/adapters/memory", Imports: []string{module + "/bootstrap"}}, "only main may import bootstrap"},
		{"pinecone imports application", listedPackage{ImportPath: module + "/adapters/pinecone", Imports: []string{module + "/application"}}, "only httpapi"},
		{"bootstrap imports jwx", listedPackage{ImportPath: module + "/bootstrap", Imports: []string{"github.com/lestrrat-go/jwx/v2/jwk"}}, "inside adapters/jwtauth"},
		{"httpapi imports jwx", listedPackage{ImportPath: module + "/adapters/httpapi", Imports: []string{"github.com/lestrrat-go/jwx/v2/jwt"}}, "inside adapters/jwtauth"},
		{"shared adapter code imports an adapter", listedPackage{ImportPath: module + "/adapters/internal/membudget", Imports: []string{module + "/adapters/memory"}}, "only the standard library"},
		{"shared adapter code imports a library", listedPackage{ImportPath: module + "/adapters/internal/membudget", Imports: []string{"go.uber.org/zap"}}, "only the standard library"},
		{"porttest imports echo", listedPackage{ImportPath: module + "/ports/porttest", Imports: []string{"github.com/labstack/echo/v4"}}, "adapters and bootstrap only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := violations([]listedPackage{tc.pkg}, isStd)
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tc.want)
		})
	}
	ok := []listedPackage{
		{ImportPath: module + "/adapters/httpapi", Imports: []string{module + "/application", module + "/adapters/httpapi/internal/x", "github.com/labstack/echo/v4"}},
		{ImportPath: module, Imports: []string{module + "/bootstrap"}},
		{ImportPath: module + "/application", Imports: []string{module + "/domain", module + "/ports", "context"}},
		{ImportPath: module + "/adapters/jwtauth", Imports: []string{"github.com/lestrrat-go/jwx/v2/jwt"}},
		{ImportPath: module + "/adapters/lexical", Imports: []string{module + "/adapters/internal/membudget"}},
		{ImportPath: module + "/adapters/internal/membudget", Imports: []string{"sync/atomic"}},
	}
	assert.Empty(t, violations(ok, isStd))
}
