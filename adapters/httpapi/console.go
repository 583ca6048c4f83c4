package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/domain"
)

// consoleFiles is the web console: plain HTML, CSS and JavaScript, served as written,
// with no build step, and the pinned Markdown renderer and sanitiser in vendor/. The
// licences, notes and screenshots beside them stay out of the binary.
//
//go:embed console/*.html console/*.css console/*.js console/*.svg console/vendor/*.js
var consoleFiles embed.FS

// ConsoleCSP is the Content-Security-Policy of the console's pages and assets: its own
// scripts, styles and images, API calls to the same origin, no inline code, no framing,
// and Trusted Types so that the only way from a string to markup is the one policy
// DOMPurify creates for its sanitised output.
const ConsoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types dompurify"

// consoleAsset is one embedded file with what its responses need.
type consoleAsset struct {
	body []byte
	mime string
	etag string
}

// consoleTypes are the content types of the console's files, fixed here rather than
// read from the host's MIME database, which varies between systems.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// consoleAssets loads the embedded files.
func consoleAssets() (map[string]consoleAsset, error) {
	out := map[string]consoleAsset{}
	return out, fs.WalkDir(consoleFiles, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := consoleFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct, ok := consoleTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("console file %s: no content type for its extension", p)
		}
		out[strings.TrimPrefix(p, "console/")] = consoleAsset{body: b, mime: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
}

// registerConsole serves the console at GET / and its assets at GET /console/{file}
// and GET /console/vendor/{file}.
// Responses are revalidated on every load (ETag), so a new binary is picked up at once.
func registerConsole(e *echo.Echo) {
	assets, loadErr := consoleAssets() // only an unknown file type fails; a test checks
	serve := func(c echo.Context, name string) error {
		if loadErr != nil {
			return domain.E(domain.KindInternal, codeInternal, "", loadErr)
		}
		a, ok := assets[name]
		if !ok || name == "index.html" && c.Path() != "/" {
			return domain.ErrNotFound.WithDetail("no such console file")
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", ConsoleCSP)
		h.Set(echo.HeaderContentType, a.mime)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(a.body))
		return nil
	}
	e.GET("/", func(c echo.Context) error { return serve(c, "index.html") })
	e.GET("/console/:file", func(c echo.Context) error { return serve(c, c.Param("file")) })
	e.GET("/console/vendor/:file", func(c echo.Context) error { return serve(c, "vendor/"+c.Param("file")) })
}
