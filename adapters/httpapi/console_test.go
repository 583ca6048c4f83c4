package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/httpapi"
)

func consoleGet(t *testing.T, h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestConsolePageAndAssets serves the page and every file it references, each with
// its content type, the console's CSP and an ETag that revalidates.
func TestConsolePageAndAssets(t *testing.T) {
	t.Parallel()
	h := httpapi.New(httpapi.Config{}, httpapi.Deps{})

	page := consoleGet(t, h, "/")
	require.Equal(t, http.StatusOK, page.Code)
	assert.Equal(t, "text/html; charset=utf-8", page.Header().Get("Content-Type"))
	assert.Equal(t, httpapi.ConsoleCSP, page.Header().Get("Content-Security-Policy"))
	assert.Equal(t, "no-cache", page.Header().Get("Cache-Control"))
	assert.Equal(t, "nosniff", page.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", page.Header().Get("X-Frame-Options"))
	html := page.Body.String()
	assert.Contains(t, html, `<html lang="en">`)
	assert.Contains(t, html, `name="viewport"`)

	refs := regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"`).FindAllStringSubmatch(html, -1)
	require.NotEmpty(t, refs)
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, ref := range refs {
		path := ref[1]
		rec := consoleGet(t, h, path)
		require.Equal(t, http.StatusOK, rec.Code, path)
		assert.Equal(t, wantType[path[strings.LastIndex(path, "."):]], rec.Header().Get("Content-Type"), path)
		assert.Equal(t, httpapi.ConsoleCSP, rec.Header().Get("Content-Security-Policy"), path)
		etag := rec.Header().Get("ETag")
		require.NotEmpty(t, etag, path)
		again := consoleGet(t, h, path, "If-None-Match", etag)
		assert.Equal(t, http.StatusNotModified, again.Code, path)
		assert.Empty(t, again.Body.Bytes(), path)
	}
}

// TestConsoleMarkupNeedsNoInlineCode checks what the CSP forbids is not used: inline
// scripts, inline styles, event handler attributes, markup strings and other origins.
func TestConsoleMarkupNeedsNoInlineCode(t *testing.T) {
	t.Parallel()
	h := httpapi.New(httpapi.Config{}, httpapi.Deps{})
	html := consoleGet(t, h, "/").Body.String()
	for _, script := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		assert.Contains(t, script, `src="/console/`, "only the console's own script files")
	}
	assert.NotRegexp(t, `<script[^>]*>[^<]+</script>`, html, "no inline script")
	assert.NotContains(t, html, "<style", "no inline style element")
	assert.NotRegexp(t, `\sstyle=`, html, "no style attributes")
	assert.NotRegexp(t, `\son[a-z]+=`, html, "no event handler attributes")
	assert.NotRegexp(t, `(?:src|href)="(?:https?:)?//`, html, "nothing from another origin")

	// The console's own modules; the vendored renderer and sanitiser are checked by
	// the browser test instead.
	modules, err := filepath.Glob("console/*.js")
	require.NoError(t, err)
	require.Contains(t, modules, filepath.Join("console", "app.js"))
	for _, m := range modules {
		js := consoleGet(t, h, "/console/"+filepath.Base(m)).Body.String()
		require.NotEmpty(t, js, m)
		for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage"} {
			assert.NotContains(t, js, banned, m)
		}
		assert.NotRegexp(t, `https?://`, js, "%s: the console calls its own origin only", m)
	}
}

// TestConsoleUnknownFilesAndOtherRoutes: unknown assets are ordinary 404 problems, the
// page has one address, and the API keeps its stricter default CSP.
func TestConsoleUnknownFilesAndOtherRoutes(t *testing.T) {
	t.Parallel()
	h := httpapi.New(httpapi.Config{}, httpapi.Deps{})
	for _, path := range []string{"/console/nope.js", "/console/index.html", "/console/", "/console/..%2fconsole.go"} {
		rec := consoleGet(t, h, path)
		assert.Equal(t, http.StatusNotFound, rec.Code, path)
		assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), path)
		assert.Equal(t, httpapi.DefaultCSP, rec.Header().Get("Content-Security-Policy"), path)
	}
	rec := consoleGet(t, h, "/healthz")
	assert.Equal(t, httpapi.DefaultCSP, rec.Header().Get("Content-Security-Policy"))

	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post := httptest.NewRecorder()
	h.ServeHTTP(post, req)
	assert.Equal(t, http.StatusMethodNotAllowed, post.Code)
}
