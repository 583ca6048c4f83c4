package pineconetest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
)

// The fake is only as good as its checks: each request here breaks the documented
// protocol and must be refused and recorded.
func TestServerRefusesUndocumentedRequests(t *testing.T) {
	t.Parallel()
	const key = "pcsk_test"
	good := http.Header{"Api-Key": {key}, "X-Pinecone-Api-Version": {pineconetest.APIVersions[0]}, "Content-Type": {"application/json"}}
	with := func(k, v string) http.Header {
		h := good.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	vec := `{"id":"d#0","values":[1,0,0,0],"metadata":{"text":"t"}}`
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		body   string
		status int
	}{
		{name: "no version header", method: "POST", path: "/query", header: with("X-Pinecone-Api-Version", ""), body: `{"namespace":"a","topK":1,"vector":[1,0,0,0]}`, status: 400},
		{name: "another version", method: "POST", path: "/query", header: with("X-Pinecone-Api-Version", "2024-07"), body: `{"namespace":"a","topK":1,"vector":[1,0,0,0]}`, status: 400},
		{name: "2025-04, past its 12 months", method: "POST", path: "/query", header: with("X-Pinecone-Api-Version", "2025-04"), body: `{"namespace":"a","topK":1,"vector":[1,0,0,0]}`, status: 400},
		{name: "describe model by POST", method: "POST", path: "/models/llama-text-embed-v2", header: good, body: `{}`, status: 405},
		{name: "no key", method: "POST", path: "/query", header: with("Api-Key", ""), body: `{"namespace":"a","topK":1,"vector":[1,0,0,0]}`, status: 401},
		{name: "bearer auth", method: "POST", path: "/query", header: with("Authorization", "Bearer x"), body: `{"namespace":"a","topK":1,"vector":[1,0,0,0]}`, status: 400},
		{name: "not json", method: "POST", path: "/query", header: with("Content-Type", "text/plain"), body: `{}`, status: 400},
		{name: "snake case topK", method: "POST", path: "/query", header: good, body: `{"namespace":"a","top_k":1,"vector":[1,0,0,0]}`, status: 400},
		{name: "query without namespace", method: "POST", path: "/query", header: good, body: `{"topK":1,"vector":[1,0,0,0]}`, status: 400},
		{name: "upsert without namespace", method: "POST", path: "/vectors/upsert", header: good, body: `{"vectors":[` + vec + `]}`, status: 400},
		{name: "upsert of nothing", method: "POST", path: "/vectors/upsert", header: good, body: `{"vectors":[],"namespace":"a"}`, status: 400},
		{name: "upsert of 1001", method: "POST", path: "/vectors/upsert", header: good, body: `{"namespace":"a","vectors":[` + strings.Repeat(vec+",", 1000) + vec + `]}`, status: 400},
		{name: "delete by filter", method: "POST", path: "/vectors/delete", header: good, body: `{"namespace":"a","filter":{"document_id":{"$eq":"d"}}}`, status: 400},
		{name: "delete all", method: "POST", path: "/vectors/delete", header: good, body: `{"namespace":"a","deleteAll":true}`, status: 400},
		{name: "list with an unknown parameter", method: "GET", path: "/vectors/list?namespace=a&pageSize=5", header: good, status: 400},
		{name: "wrong method", method: "GET", path: "/query", header: good, status: 405},
		{name: "unknown endpoint", method: "POST", path: "/vectors/query", header: good, body: `{}`, status: 404},
		{name: "embed with unknown parameter", method: "POST", path: "/embed", header: good, body: `{"model":"m","inputs":[{"text":"x"}],"parameters":{"dims":3}}`, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := pineconetest.New(t, 4, key)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header = tc.header
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			assert.Equal(t, tc.status, res.StatusCode)
			assert.Len(t, srv.TakeViolations(), 1)
		})
	}
}

func TestServerAcceptsEveryServedVersion(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, 4, "pcsk_test")
	for _, v := range pineconetest.APIVersions {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/describe_index_stats", strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header = http.Header{"Api-Key": {"pcsk_test"}, "X-Pinecone-Api-Version": {v}, "Content-Type": {"application/json"}}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, v)
	}
	assert.Empty(t, srv.Violations())
}
