package httpapi_test

import (
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// protocolServer serves ev's router on one protocol and returns its base URL and a
// client that speaks only that protocol. The client never decompresses on its own:
// what arrives is what the server sent.
func protocolServer(t *testing.T, ev *env, proto string) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(ev.e)
	var tr *http.Transport
	switch proto {
	case "HTTP/1.1":
		srv.Start()
		tr = &http.Transport{}
	case "HTTP/2 over TLS":
		srv.EnableHTTP2 = true
		srv.StartTLS()
		tr = srv.Client().Transport.(*http.Transport).Clone()
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP2(true)
	case "h2c":
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		tr = &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.DisableCompression = true
	t.Cleanup(srv.Close)
	t.Cleanup(tr.CloseIdleConnections)
	return srv.URL, &http.Client{Transport: tr}
}

// TestCompressionSkipsStreams runs every protocol the server speaks, with and without
// the client accepting gzip: a large JSON body is compressed exactly when the client
// accepts it, and an event stream never is, its events arriving one by one while the
// model is still answering.
func TestCompressionSkipsStreams(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2 over TLS", "h2c"} {
		for _, gz := range []bool{true, false} {
			name := proto + "/identity"
			if gz {
				name = proto + "/gzip"
			}
			t.Run(name, func(t *testing.T) {
				ev := newEnv(t)
				base, client := protocolServer(t, ev, proto)
				do := func(method, path, body string) *http.Response {
					req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
					require.NoError(t, err)
					req.Header.Set("Authorization", "Bearer "+ev.token("acme-member"))
					req.Header.Set("Content-Type", "application/json")
					if gz {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					res, err := client.Do(req)
					require.NoError(t, err)
					t.Cleanup(func() { _ = res.Body.Close() })
					require.Equal(t, map[string]int{"HTTP/1.1": 1, "HTTP/2 over TLS": 2, "h2c": 2}[proto], res.ProtoMajor)
					return res
				}

				res := do(http.MethodGet, "/openapi.json", "")
				require.Equal(t, http.StatusOK, res.StatusCode)
				body := io.Reader(res.Body)
				if gz {
					require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
					zr, err := gzip.NewReader(res.Body)
					require.NoError(t, err)
					body = zr
				} else {
					assert.Empty(t, res.Header.Get("Content-Encoding"))
				}
				var doc map[string]any
				require.NoError(t, json.NewDecoder(body).Decode(&doc))
				assert.Contains(t, doc, "openapi")

				for _, route := range []struct{ path, body string }{
					{"/chat/stream", `{"message":"hello"}`},
					{"/v1/chat/completions", `{"model":"tenantry-acme","stream":true,"messages":[{"role":"user","content":"hello"}]}`},
				} {
					started, release := make(chan struct{}), make(chan struct{})
					ev.vendors.setModel(heldModel(started, release))
					res := do(http.MethodPost, route.path, route.body)
					require.Equal(t, http.StatusOK, res.StatusCode, route.path)
					require.Empty(t, res.Header.Get("Content-Encoding"), "%s is not compressed", route.path)
					assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
					p := newSSEParser(res.Body)
					for range 2 { // the first events, while the model still holds the answer
						_, err := p.Next()
						require.NoError(t, err, route.path)
					}
					close(release)
					rest, err := io.ReadAll(res.Body)
					require.NoError(t, err)
					if route.path == "/chat/stream" {
						assert.Contains(t, string(rest), "event: done")
					} else {
						assert.Contains(t, string(rest), "data: [DONE]")
					}
				}
			})
		}
	}
}

// TestCompressionLeavesSmallBodiesAlone checks gzhttp's threshold: a body under 1 KiB
// goes out as it is even to a client that accepts gzip.
func TestCompressionLeavesSmallBodiesAlone(t *testing.T) {
	ev := newEnv(t)
	base, client := protocolServer(t, ev, "HTTP/1.1")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Empty(t, res.Header.Get("Content-Encoding"))
	assert.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
	var health map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&health), "plain JSON")
}
