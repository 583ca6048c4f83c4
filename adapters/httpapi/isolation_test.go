package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// TestTenantIsolation has every kind of caller outside tenant globex try to read,
// list, change and delete globex's resources through the tenant-scoped routes.
func TestTenantIsolation(t *testing.T) {
	ev := newEnv(t)
	docID := ev.ingest("globex-admin", `{"title":"Globex secret plan","text":"The launch code word is PAPAYA."}`)
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("globex-admin"), `{"message":"What is the code word?"}`)
	evs, _ := readEvents(t, res.Body)
	require.Equal(t, "done", evs[len(evs)-1].Type)
	var done struct {
		ConversationID string `json:"conversation_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(evs[len(evs)-1].Data), &done))
	convID := done.ConversationID

	type attempt struct {
		method, path, body string
	}
	byID := []attempt{
		{http.MethodGet, "/documents/" + docID, ""},
		{http.MethodDelete, "/documents/" + docID, ""},
		{http.MethodGet, "/conversations/" + convID, ""},
		{http.MethodPatch, "/conversations/" + convID, `{"title":"taken over"}`},
		{http.MethodDelete, "/conversations/" + convID, ""},
		{http.MethodPatch, "/tenant/users/u-globex-admin", `{"disabled":true}`},
		{http.MethodPost, "/chat/stream", `{"message":"more","conversation_id":"` + convID + `"}`},
	}
	unknownIDs := strings.NewReplacer(docID, "no-such-id", convID, "no-such-id", "u-globex-admin", "u-no-such-id")
	lists := []string{"/documents", "/conversations", "/tenant/users", "/tenant/audit", "/usage", "/tenant"}

	for _, caller := range []string{"acme-admin", "acme-member"} {
		for _, a := range byID {
			t.Run(caller+" "+a.method+" "+a.path, func(t *testing.T) {
				rec := ev.as(caller, a.method, a.path, a.body)
				if caller == "acme-member" && rec.Code == http.StatusForbidden {
					// A role check that precedes the lookup leaks nothing as long as
					// an id that exists nowhere gets the same answer.
					p := requireProblem(t, rec, http.StatusForbidden, "forbidden")
					other := requireProblem(t, ev.as(caller, a.method, unknownIDs.Replace(a.path), a.body), http.StatusForbidden, "forbidden")
					assert.Equal(t, other.Detail, p.Detail)
					return
				}
				requireProblem(t, rec, http.StatusNotFound, "not_found")
			})
		}
		for _, path := range lists {
			t.Run(caller+" lists "+path, func(t *testing.T) {
				rec := ev.as(caller, http.MethodGet, path, "")
				if rec.Code == http.StatusForbidden { // members may not read the tenant's audit log
					requireProblem(t, rec, http.StatusForbidden, "forbidden")
					return
				}
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				body := rec.Body.String()
				for _, leak := range []string{"globex", "Globex", docID, convID, "PAPAYA"} {
					assert.NotContains(t, body, leak)
				}
			})
		}
	}
	// Callers without a tenant (the platform admin included) have no tenant context.
	for _, caller := range []string{"loner", "root"} {
		for _, a := range append(byID, attempt{http.MethodGet, "/documents", ""}) {
			t.Run(caller+" "+a.method+" "+a.path, func(t *testing.T) {
				requireProblem(t, ev.as(caller, a.method, a.path, a.body), http.StatusForbidden, "tenant_required")
			})
		}
	}
	// The chat of another tenant never retrieves globex's passages.
	res = chat(t, srv, ev.token("acme-member"), `{"message":"What is the launch code word?"}`)
	evs, _ = readEvents(t, res.Body)
	for _, e := range evs {
		assert.False(t, strings.Contains(e.Data, "PAPAYA"), "leaked in %s event", e.Type)
	}

	// Nothing of globex changed.
	_, err := ev.db.Documents().Get(t.Context(), "globex", domain.DocumentID(docID))
	require.NoError(t, err)
	u, err := ev.db.Users().Get(t.Context(), "u-globex-admin")
	require.NoError(t, err)
	assert.False(t, u.Disabled)
	msgs, err := ev.db.Conversations().Messages(t.Context(), "globex", domain.ConversationID(convID), 10)
	require.NoError(t, err)
	assert.Len(t, msgs, 2)
}
