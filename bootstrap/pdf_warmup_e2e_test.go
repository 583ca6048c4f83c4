package bootstrap

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pdfiumCacheFiles is each file under dir with its size and modification time: a
// compile that wrote to the cache again would change them.
func pdfiumCacheFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = fmt.Sprintf("%d bytes, modified %s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	require.NoError(t, err)
	return files
}

// TestServeWarmsPDFiumAndKeepsItCompiled: serve compiles PDFium by itself, with no PDF
// uploaded, into TENANTRY_PDFIUM_CACHE_DIR; a restarted serve loads that code instead
// of compiling again, and PDFs are read after either start.
func TestServeWarmsPDFiumAndKeepsItCompiled(t *testing.T) {
	t.Parallel()
	cache := filepath.Join(t.TempDir(), "pdfium")
	e := newEnv(t).with("TENANTRY_PDFIUM_CACHE_DIR", cache)
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	ready := func(s *server) bool { return strings.Contains(s.stderr.String(), `"PDF reader ready"`) }
	uploadPDF := func(s *server, title string) {
		t.Helper()
		token := s.login(t, nil, "admin@acme.test", e2ePassword).AccessToken
		body, contentType := fileForm(t, "handbook.pdf", "application/pdf", title, fixture(t, "handbook.pdf"))
		r := s.do(t, nil, http.MethodPost, "/documents", token, contentType, body)
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var doc struct{ Chunks int }
		require.NoError(t, json.Unmarshal(r.body, &doc))
		assert.Positive(t, doc.Chunks)
	}

	first := startServer(t, e)
	poll(t, 2*time.Minute, "serve did not compile PDFium by itself", func() bool { return ready(first) })
	compiled := pdfiumCacheFiles(t, cache)
	require.NotEmpty(t, compiled, "the compiled code is kept in TENANTRY_PDFIUM_CACHE_DIR")
	uploadPDF(first, "Handbook")
	require.Equal(t, 0, first.stop(t))

	second := startServer(t, e)
	poll(t, 2*time.Minute, "the restarted serve did not load PDFium", func() bool { return ready(second) })
	uploadPDF(second, "Handbook again")
	assert.Equal(t, compiled, pdfiumCacheFiles(t, cache), "the restart compiled PDFium again instead of loading it")
}
