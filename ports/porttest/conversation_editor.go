package porttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// ConversationEditor tests a ports.ConversationEditor over the same data as
// Stores.Conversations.
func ConversationEditor(t *testing.T, newStores NewStores) {
	t.Run("rename sets the title and keeps the list order", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		older := f.conversation("acme", u.ID, "old", at(0))
		newer := f.conversation("acme", u.ID, "new", at(time.Hour))

		got, err := f.s.ConversationEdits.Rename(f.ctx, "acme", u.ID, older.ID, "Refund questions")
		require.NoError(t, err)
		want := older
		want.Title = "Refund questions"
		assert.Equal(t, normConversation(want), normConversation(got))

		stored, err := f.s.Conversations.Get(f.ctx, "acme", u.ID, older.ID)
		require.NoError(t, err)
		assert.Equal(t, normConversation(want), normConversation(stored))
		list, err := f.s.Conversations.List(f.ctx, "acme", u.ID, domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.ConversationID{newer.ID, older.ID}, conversationIDs(list))
	})

	t.Run("rename of unknown, another user's or another tenant's conversation is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		pat := f.user("acme", "pat@example.com")
		sam := f.user("acme", "sam@example.com")
		gus := f.user("globex", "gus@example.com")
		c := f.conversation("acme", pat.ID, "Mine", at(0))

		for _, tc := range []struct {
			name   string
			tenant domain.TenantID
			user   domain.UserID
			id     domain.ConversationID
		}{
			{name: "unknown", tenant: "acme", user: pat.ID, id: domain.ConversationID(newID())},
			{name: "another user", tenant: "acme", user: sam.ID, id: c.ID},
			{name: "another tenant", tenant: "globex", user: gus.ID, id: c.ID},
			{name: "right user, wrong tenant", tenant: "globex", user: pat.ID, id: c.ID},
		} {
			_, err := f.s.ConversationEdits.Rename(f.ctx, tc.tenant, tc.user, tc.id, "Taken over")
			requireKind(t, domain.KindNotFound, err)
			requireKind(t, domain.KindNotFound, f.s.ConversationEdits.Delete(f.ctx, tc.tenant, tc.user, tc.id))
		}
		got, err := f.s.Conversations.Get(f.ctx, "acme", pat.ID, c.ID)
		require.NoError(t, err)
		assert.Equal(t, "Mine", got.Title, "nobody else renamed or deleted it")
	})

	t.Run("delete removes the conversation and its messages; again is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		gone := f.conversation("acme", u.ID, "gone", at(0))
		kept := f.conversation("acme", u.ID, "kept", at(time.Hour))
		require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", gone.ID, message(gone.ID, domain.MessageUser, "bye", at(time.Minute))))
		require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", kept.ID, message(kept.ID, domain.MessageUser, "hi", at(2*time.Hour))))

		require.NoError(t, f.s.ConversationEdits.Delete(f.ctx, "acme", u.ID, gone.ID))

		_, err := f.s.Conversations.Get(f.ctx, "acme", u.ID, gone.ID)
		requireKind(t, domain.KindNotFound, err)
		_, err = f.s.Conversations.Messages(f.ctx, "acme", gone.ID, 10)
		requireKind(t, domain.KindNotFound, err)
		requireKind(t, domain.KindNotFound, f.s.ConversationEdits.Delete(f.ctx, "acme", u.ID, gone.ID))

		list, err := f.s.Conversations.List(f.ctx, "acme", u.ID, domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.ConversationID{kept.ID}, conversationIDs(list))
		msgs, err := f.s.Conversations.Messages(f.ctx, "acme", kept.ID, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"hi"}, messageContents(msgs))
	})
}
