package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// Every GET route answers HEAD with GET's status and headers and no body, over a real
// net/http server (RFC 9110: a server that supports GET supports HEAD).
func TestHeadOnEveryGetRoute(t *testing.T) {
	ev := newEnv(t)
	srv := httptest.NewServer(ev.e)
	t.Cleanup(srv.Close)
	tokens := map[bool]string{false: ev.token("acme-admin"), true: ev.token("root")}
	params := strings.NewReplacer(":id", "acme", ":model", "tenantry-acme", ":file", "app.js")

	gets, oks := 0, 0
	for _, r := range ev.e.Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		gets++
		path := params.Replace(r.Path)
		send := func(method string) (*http.Response, []byte) {
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tokens[strings.HasPrefix(path, "/admin/")])
			// Uncompressed, so that the GET has a Content-Length to compare (a gzipped GET
			// is sent chunked).
			req.Header.Set("Accept-Encoding", "identity")
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			return res, body
		}
		get, getBody := send(http.MethodGet)
		head, headBody := send(http.MethodHead)

		assert.Equal(t, get.StatusCode, head.StatusCode, "HEAD %s", path)
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"), "HEAD %s", path)
		assert.Equal(t, get.Header.Get("Cache-Control"), head.Header.Get("Cache-Control"), "HEAD %s", path)
		assert.Empty(t, headBody, "HEAD %s sent a body", path)
		if get.StatusCode == http.StatusOK {
			oks++
			assert.Equal(t, get.ContentLength, head.ContentLength, "HEAD %s: Content-Length of the GET", path)
			assert.NotEmpty(t, getBody)
		}
	}
	require.Positive(t, gets)
	assert.Greater(t, oks, gets/2, "most routes answered 200, so the comparison covers real responses")

	var logged bool
	for _, e := range ev.logs.FilterMessage("request").AllUntimed() {
		if e.Level == zapcore.InfoLevel && e.ContextMap()["method"] == http.MethodHead {
			logged = true
		}
	}
	assert.True(t, logged, "the request log records the method the client sent")
}

func TestHeadOnAPostOnlyRouteIsNotAllowed(t *testing.T) {
	ev := newEnv(t)
	rec := ev.do(http.MethodHead, "/auth/token", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// With gzip negotiated, HEAD carries the headers of the compressed GET (RFC 9110,
// section 9.3.2): the same Content-Encoding and Vary, and no body; without it, neither
// is compressed. Over HTTP/1.1 and h2c.
func TestHeadMatchesCompressedGet(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		for _, enc := range []string{"gzip", "identity"} {
			t.Run(proto+"/"+enc, func(t *testing.T) {
				ev := newEnv(t)
				base, client := protocolServer(t, ev, proto)
				send := func(method string) (*http.Response, []byte) {
					req, err := http.NewRequestWithContext(t.Context(), method, base+"/openapi.json", nil)
					require.NoError(t, err)
					req.Header.Set("Accept-Encoding", enc)
					res, err := client.Do(req)
					require.NoError(t, err)
					defer res.Body.Close()
					body, err := io.ReadAll(res.Body)
					require.NoError(t, err)
					require.Equal(t, map[string]int{"HTTP/1.1": 1, "h2c": 2}[proto], res.ProtoMajor)
					return res, body
				}
				get, getBody := send(http.MethodGet)
				head, headBody := send(http.MethodHead)

				require.Equal(t, http.StatusOK, get.StatusCode)
				assert.Equal(t, http.StatusOK, head.StatusCode)
				assert.NotEmpty(t, getBody)
				assert.Empty(t, headBody, "HEAD sent a body")
				if enc == "gzip" {
					assert.Equal(t, "gzip", get.Header.Get("Content-Encoding"), "the GET is compressed")
				} else {
					assert.Empty(t, get.Header.Get("Content-Encoding"))
				}
				assert.Equal(t, get.Header.Get("Content-Encoding"), head.Header.Get("Content-Encoding"))
				assert.Equal(t, get.Header.Values("Vary"), head.Header.Values("Vary"))
				assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
				if get.ContentLength >= 0 {
					assert.Equal(t, get.ContentLength, head.ContentLength, "Content-Length of the GET")
				}
			})
		}
	}
}
