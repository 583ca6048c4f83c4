package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startConversation asks one question as user and returns the new conversation's id.
func startConversation(t *testing.T, ev *env, user string) string {
	t.Helper()
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token(user), `{"message":"How many vacation days do employees get?"}`)
	evs, _ := readEvents(t, res.Body)
	require.Equal(t, "done", evs[len(evs)-1].Type)
	var done struct {
		ConversationID string `json:"conversation_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(evs[len(evs)-1].Data), &done))
	return done.ConversationID
}

func TestConversationRenameAndDelete(t *testing.T) {
	ev := newEnv(t)
	ev.ingest("acme-admin", acmeDoc)
	id := startConversation(t, ev, "acme-member")
	path := "/conversations/" + id

	rec := ev.as("acme-member", http.MethodPatch, path, `{"title":"  Vacation days  "}`, "Content-Type", "application/merge-patch+json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var got struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, id, got.ID)
	assert.Equal(t, "Vacation days", got.Title, "surrounding space is dropped")

	rec = ev.as("acme-member", http.MethodPatch, path, `{"title":"Plain JSON works too"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = ev.as("acme-member", http.MethodGet, "/conversations", "")
	assert.Contains(t, rec.Body.String(), `"title":"Plain JSON works too"`)

	require.Equal(t, http.StatusNoContent, ev.as("acme-member", http.MethodDelete, path, "").Code)
	requireProblem(t, ev.as("acme-member", http.MethodGet, path, ""), http.StatusNotFound, "not_found")
	requireProblem(t, ev.as("acme-member", http.MethodDelete, path, ""), http.StatusNotFound, "not_found")
	requireProblem(t, ev.as("acme-member", http.MethodPatch, path, `{"title":"gone"}`), http.StatusNotFound, "not_found")
	rec = ev.as("acme-member", http.MethodGet, "/conversations", "")
	assert.NotContains(t, rec.Body.String(), id)
}

func TestConversationRenameRejectsBadPatches(t *testing.T) {
	ev := newEnv(t)
	ev.ingest("acme-admin", acmeDoc)
	path := "/conversations/" + startConversation(t, ev, "acme-member")
	cases := []struct {
		name, body, field string
	}{
		{name: "empty title", body: `{"title":"   "}`, field: "title"},
		{name: "null title", body: `{"title":null}`, field: "title"},
		{name: "no title", body: `{}`, field: "title"},
		{name: "too long", body: `{"title":"` + strings.Repeat("x", 201) + `"}`, field: "title"},
		{name: "not a string", body: `{"title":7}`, field: "title"},
		{name: "read-only field", body: `{"title":"ok","id":"other"}`, field: "id"},
		{name: "unknown field", body: `{"title":"ok","pinned":true}`, field: "pinned"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := requireProblem(t, ev.as("acme-member", http.MethodPatch, path, tc.body), http.StatusBadRequest, "invalid_request")
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			assert.Contains(t, fields, tc.field)
		})
	}
	rec := ev.as("acme-member", http.MethodPatch, path, `title=x`, "Content-Type", "application/x-www-form-urlencoded")
	requireProblem(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type")
}

func TestConversationEditsOfAnotherUserOrTenantAre404(t *testing.T) {
	ev := newEnv(t)
	ev.ingest("acme-admin", acmeDoc)
	id := startConversation(t, ev, "acme-member")
	path := "/conversations/" + id
	for _, caller := range []string{"acme-admin", "globex-admin", "root"} {
		t.Run(caller, func(t *testing.T) {
			rename := ev.as(caller, http.MethodPatch, path, `{"title":"mine now"}`)
			remove := ev.as(caller, http.MethodDelete, path, "")
			if caller == "root" {
				// A platform admin without a tenant has no conversations at all.
				requireProblem(t, rename, http.StatusForbidden, "tenant_required")
				requireProblem(t, remove, http.StatusForbidden, "tenant_required")
				return
			}
			requireProblem(t, rename, http.StatusNotFound, "not_found")
			requireProblem(t, remove, http.StatusNotFound, "not_found")
		})
	}
	rec := ev.as("acme-member", http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"title":"How many vacation days do employees get?"`, "untouched by the others")
}
