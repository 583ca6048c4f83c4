package porttest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func normConversation(c domain.Conversation) domain.Conversation {
	c.CreatedAt = utc(c.CreatedAt)
	c.UpdatedAt = utc(c.UpdatedAt)
	return c
}

func normMessages(ms []domain.Message) []domain.Message {
	out := make([]domain.Message, 0, len(ms))
	for _, m := range ms {
		m.CreatedAt = utc(m.CreatedAt)
		if len(m.Sources) == 0 {
			m.Sources = nil
		}
		out = append(out, m)
	}
	return out
}

func conversationIDs(cs []domain.Conversation) []domain.ConversationID {
	out := make([]domain.ConversationID, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func messageContents(ms []domain.Message) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Content)
	}
	return out
}

// ConversationStore tests a ports.ConversationStore.
func ConversationStore(t *testing.T, newStores NewStores) {
	t.Run("create then get round-trips every field", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		want := domain.Conversation{ID: domain.ConversationID(newID()), TenantID: "acme", UserID: u.ID, Title: "Where is the travel policy?", CreatedAt: at(0), UpdatedAt: at(time.Minute)}
		require.NoError(t, f.s.Conversations.Create(f.ctx, want))
		got, err := f.s.Conversations.Get(f.ctx, "acme", u.ID, want.ID)
		require.NoError(t, err)
		assert.Equal(t, normConversation(want), normConversation(got))
	})

	t.Run("create with an existing id is Conflict", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		c := f.conversation("acme", u.ID, "First", at(0))
		dup := c
		dup.Title = "Second"
		requireKind(t, domain.KindConflict, f.s.Conversations.Create(f.ctx, dup))
		got, err := f.s.Conversations.Get(f.ctx, "acme", u.ID, c.ID)
		require.NoError(t, err)
		assert.Equal(t, "First", got.Title)
	})

	t.Run("get unknown, another user's or another tenant's conversation is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		pat := f.user("acme", "pat@example.com")
		sam := f.user("acme", "sam@example.com")
		gus := f.user("globex", "gus@example.com")
		c := f.conversation("acme", pat.ID, "Mine", at(0))

		_, err := f.s.Conversations.Get(f.ctx, "acme", pat.ID, domain.ConversationID(newID()))
		requireKind(t, domain.KindNotFound, err)
		_, err = f.s.Conversations.Get(f.ctx, "acme", sam.ID, c.ID)
		requireKind(t, domain.KindNotFound, err)
		_, err = f.s.Conversations.Get(f.ctx, "globex", gus.ID, c.ID)
		requireKind(t, domain.KindNotFound, err)
		_, err = f.s.Conversations.Get(f.ctx, "globex", pat.ID, c.ID)
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("list returns the user's own conversations, most recently updated first", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		pat := f.user("acme", "pat@example.com")
		sam := f.user("acme", "sam@example.com")
		gus := f.user("globex", "gus@example.com")
		c1 := f.conversation("acme", pat.ID, "old", at(0))
		c3 := f.conversation("acme", pat.ID, "new", at(2*time.Hour))
		c2 := f.conversation("acme", pat.ID, "mid", at(time.Hour))
		f.conversation("acme", sam.ID, "sam's", at(3*time.Hour))
		f.conversation("globex", gus.ID, "gus's", at(4*time.Hour))

		cases := []struct {
			name string
			page domain.Page
			want []domain.ConversationID
		}{
			{name: "all", page: domain.Page{Limit: 10}, want: []domain.ConversationID{c3.ID, c2.ID, c1.ID}},
			{name: "first page", page: domain.Page{Limit: 2}, want: []domain.ConversationID{c3.ID, c2.ID}},
			{name: "second page", page: domain.Page{Limit: 2, Offset: 2}, want: []domain.ConversationID{c1.ID}},
			{name: "past the end", page: domain.Page{Limit: 2, Offset: 5}, want: []domain.ConversationID{}},
		}
		for _, tc := range cases {
			got, err := f.s.Conversations.List(f.ctx, "acme", pat.ID, tc.page)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, conversationIDs(got), tc.name)
		}

		got, err := f.s.Conversations.List(f.ctx, "globex", pat.ID, domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, got, "a user listed conversations under another tenant")
	})

	conversationMessages(t, newStores)
}

func conversationMessages(t *testing.T, newStores NewStores) {
	t.Run("append stores messages in order and messages returns them oldest first", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		c := f.conversation("acme", u.ID, "chat", at(0))
		q := message(c.ID, domain.MessageUser, "What is the policy?", at(time.Minute))
		a := message(c.ID, domain.MessageAssistant, "It says [1].", at(2*time.Minute))
		a.Model = "extractive"
		a.Usage = domain.Usage{PromptTokens: 120, CompletionTokens: 30}
		a.Incomplete = true
		a.Sources = []domain.Passage{
			{DocumentID: domain.DocumentID(newID()), Title: "Policy", Chunk: 3, Score: 0.875, Text: "Travel is booked via the portal.", Page: 3, Heading: "Travel"},
			{DocumentID: domain.DocumentID(newID()), Title: "FAQ", Chunk: 0, Score: 0.5, Text: "Ask HR."},
		}
		require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", c.ID, q, a))

		got, err := f.s.Conversations.Messages(f.ctx, "acme", c.ID, 10)
		require.NoError(t, err)
		assert.Equal(t, normMessages([]domain.Message{q, a}), normMessages(got))
	})

	t.Run("messages appended in one call keep their order at equal timestamps", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		c := f.conversation("acme", u.ID, "chat", at(0))
		same := at(time.Minute)
		require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", c.ID,
			message(c.ID, domain.MessageUser, "one", same),
			message(c.ID, domain.MessageAssistant, "two", same),
			message(c.ID, domain.MessageUser, "three", same)))
		require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", c.ID, message(c.ID, domain.MessageAssistant, "four", same)))
		got, err := f.s.Conversations.Messages(f.ctx, "acme", c.ID, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"one", "two", "three", "four"}, messageContents(got))
	})

	t.Run("messages returns up to the last limit, oldest first", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		c := f.conversation("acme", u.ID, "chat", at(0))
		for i, s := range []string{"m1", "m2", "m3", "m4", "m5"} {
			require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", c.ID, message(c.ID, domain.MessageUser, s, at(time.Duration(i+1)*time.Minute))))
		}
		got, err := f.s.Conversations.Messages(f.ctx, "acme", c.ID, 2)
		require.NoError(t, err)
		assert.Equal(t, []string{"m4", "m5"}, messageContents(got))
		got, err = f.s.Conversations.Messages(f.ctx, "acme", c.ID, 50)
		require.NoError(t, err)
		assert.Equal(t, []string{"m1", "m2", "m3", "m4", "m5"}, messageContents(got))
	})

	t.Run("concurrent appends lose no message", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		c := f.conversation("acme", u.ID, "chat", at(0))
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := message(c.ID, domain.MessageUser, fmt.Sprintf("m%d", i), at(time.Minute))
				assert.NoError(t, f.s.Conversations.Append(f.ctx, "acme", c.ID, m))
			})
		}
		wg.Wait()
		got, err := f.s.Conversations.Messages(f.ctx, "acme", c.ID, 100)
		require.NoError(t, err)
		assert.Len(t, got, n)
	})

	t.Run("a new conversation has no messages", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		c := f.conversation("acme", u.ID, "chat", at(0))
		got, err := f.s.Conversations.Messages(f.ctx, "acme", c.ID, 10)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("append touches updated at and reorders the list", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		older := f.conversation("acme", u.ID, "older", at(0))
		newer := f.conversation("acme", u.ID, "newer", at(time.Hour))
		require.NoError(t, f.s.Conversations.Append(f.ctx, "acme", older.ID, message(older.ID, domain.MessageUser, "bump", at(2*time.Hour))))

		got, err := f.s.Conversations.Get(f.ctx, "acme", u.ID, older.ID)
		require.NoError(t, err)
		assert.True(t, got.UpdatedAt.After(newer.UpdatedAt), "UpdatedAt %s not moved past %s", got.UpdatedAt, newer.UpdatedAt)
		list, err := f.s.Conversations.List(f.ctx, "acme", u.ID, domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []domain.ConversationID{older.ID, newer.ID}, conversationIDs(list))
	})

	t.Run("append to an unknown or another tenant's conversation is NotFound and adds nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		gus := f.user("globex", "gus@example.com")
		theirs := f.conversation("globex", gus.ID, "theirs", at(0))

		requireKind(t, domain.KindNotFound, f.s.Conversations.Append(f.ctx, "acme", domain.ConversationID(newID()), message("", domain.MessageUser, "x", at(time.Minute))))
		requireKind(t, domain.KindNotFound, f.s.Conversations.Append(f.ctx, "acme", theirs.ID, message(theirs.ID, domain.MessageUser, "injected", at(time.Minute))))

		msgs, err := f.s.Conversations.Messages(f.ctx, "globex", theirs.ID, 10)
		require.NoError(t, err)
		assert.Empty(t, msgs, "a message reached another tenant's conversation")
		got, err := f.s.Conversations.Get(f.ctx, "globex", gus.ID, theirs.ID)
		require.NoError(t, err)
		assert.Equal(t, normConversation(theirs), normConversation(got), "another tenant's conversation changed")
	})

	t.Run("messages of an unknown or another tenant's conversation is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		gus := f.user("globex", "gus@example.com")
		theirs := f.conversation("globex", gus.ID, "theirs", at(0))
		require.NoError(t, f.s.Conversations.Append(f.ctx, "globex", theirs.ID, message(theirs.ID, domain.MessageUser, "secret", at(time.Minute))))

		got, err := f.s.Conversations.Messages(f.ctx, "acme", theirs.ID, 10)
		requireKind(t, domain.KindNotFound, err)
		assert.Empty(t, got)
		_, err = f.s.Conversations.Messages(f.ctx, "acme", domain.ConversationID(newID()), 10)
		requireKind(t, domain.KindNotFound, err)
	})
}
