package application_test

import (
	"context"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// collect drains a stream. An error must be the last item; it is returned apart.
func collect(t *testing.T, seq iter.Seq2[domain.Delta, error]) ([]domain.Delta, error) {
	t.Helper()
	var got []domain.Delta
	var streamErr error
	for d, err := range seq {
		require.NoError(t, streamErr, "nothing may follow an error")
		if err != nil {
			streamErr = err
			continue
		}
		got = append(got, d)
	}
	return got, streamErr
}

func answerText(ds []domain.Delta) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Text)
	}
	return b.String()
}

// chatFixture is tenant acme with the refund policy ingested and a member to ask.
type chatFixture struct {
	*env
	admin  domain.TenantContext
	member domain.TenantContext
	doc    domain.Document
}

func newChatFixture(t *testing.T) chatFixture {
	t.Helper()
	e := newEnv(t)
	admin := e.admin("acme")
	doc, err := e.ingest().Execute(context.Background(), application.IngestInput{Tenant: admin, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	member := tenantCtx(e.user("ivy@acme.test", domain.RoleMember, "acme"), admin.Tenant)
	return chatFixture{env: e, admin: admin, member: member, doc: doc}
}

func (f chatFixture) conversationsOf(tc domain.TenantContext) []domain.Conversation {
	f.t.Helper()
	got, err := f.db.Conversations().List(context.Background(), tc.Tenant.ID, tc.Principal.UserID, domain.Page{})
	require.NoError(f.t, err)
	return got
}

func (f chatFixture) messages(id domain.ConversationID) []domain.Message {
	f.t.Helper()
	got, err := f.db.Conversations().Messages(context.Background(), "acme", id, 0)
	require.NoError(f.t, err)
	return got
}

func TestStreamChatAnswersFromTheTenantsDocuments(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	ctx := context.Background()
	const question = "Are gift cards refundable?"

	got, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: question}))

	require.NoError(t, err)
	require.GreaterOrEqual(t, len(got), 3, "sources, text, done")
	first, last := got[0], got[len(got)-1]
	require.NotEmpty(t, first.Sources)
	assert.Empty(t, first.Text)
	assert.False(t, first.Done)
	for _, s := range first.Sources {
		assert.Equal(t, f.doc.ID, s.DocumentID)
		assert.Equal(t, "Refunds", s.Title)
	}
	assert.Contains(t, first.Sources[0].Text, "Gift cards are never refundable")
	for _, d := range got[1 : len(got)-1] {
		assert.Empty(t, d.Sources, "only the first delta carries sources")
		assert.False(t, d.Done)
	}
	text := answerText(got)
	assert.Contains(t, text, "Gift cards are never refundable", "the answer quotes the passage")

	require.True(t, last.Done)
	assert.NotEmpty(t, last.ConversationID)
	assert.NotEmpty(t, last.MessageID)
	assert.Equal(t, "stop", last.FinishReason)
	assert.Equal(t, "extractive", last.Model)
	assert.Positive(t, last.Usage.PromptTokens)
	assert.Positive(t, last.Usage.CompletionTokens)

	calls := f.model.Calls()
	require.Len(t, calls, 1)
	msgs := calls[0].Msgs
	assert.Equal(t, domain.MessageSystem, msgs[0].Role)
	assert.True(t, strings.HasPrefix(msgs[0].Content, domain.DefaultSystemPrompt))
	assert.Contains(t, msgs[0].Content, "Gift cards are never refundable")
	assert.Equal(t, domain.ChatMessage{Role: domain.MessageUser, Content: question}, msgs[len(msgs)-1])
	assert.Equal(t, first.Sources, calls[0].Params.Passages)

	conv, err := f.db.Conversations().Get(ctx, "acme", f.member.Principal.UserID, last.ConversationID)
	require.NoError(t, err)
	assert.Equal(t, question, conv.Title)
	stored := f.messages(last.ConversationID)
	require.Len(t, stored, 2)
	assert.Equal(t, domain.MessageUser, stored[0].Role)
	assert.Equal(t, question, stored[0].Content)
	assert.Equal(t, domain.MessageAssistant, stored[1].Role)
	assert.Equal(t, last.MessageID, stored[1].ID)
	assert.Equal(t, text, stored[1].Content)
	assert.Equal(t, first.Sources, stored[1].Sources)
	assert.Equal(t, last.Usage, stored[1].Usage)
	assert.Equal(t, "extractive", stored[1].Model)
	assert.False(t, stored[1].Incomplete)

	used, err := f.db.Usage().Totals(ctx, "acme", domain.MonthStart(f.clock.Now()))
	require.NoError(t, err)
	assert.Equal(t, int64(last.Usage.Total()), used.Tokens())
}

func TestStreamChatNeverRetrievesAnotherTenantsPassages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acme, globex := e.admin("acme"), e.admin("globex")
	acmeDoc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: acme, Title: "Refunds", Text: refundPolicy})
	require.NoError(t, err)
	globexDoc, err := e.ingest().Execute(ctx, application.IngestInput{Tenant: globex, Title: "Globex refunds",
		Text: "Globex refund policy: gift cards are refundable within seven days. Refunds of gift cards need the Globex receipt."})
	require.NoError(t, err)

	tests := []struct {
		name    string
		tc      domain.TenantContext
		own     domain.DocumentID
		foreign string
	}{
		{name: "acme asks", tc: acme, own: acmeDoc.ID, foreign: "Globex"},
		{name: "globex asks", tc: globex, own: globexDoc.ID, foreign: "thirty days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collect(t, e.streamChat().Execute(ctx, application.ChatInput{Tenant: tc.tc, Message: "Are gift cards refundable? What is the refund policy?"}))

			require.NoError(t, err)
			require.NotEmpty(t, got[0].Sources)
			for _, s := range got[0].Sources {
				assert.Equal(t, tc.own, s.DocumentID)
				assert.NotContains(t, s.Text, tc.foreign)
			}
			assert.NotContains(t, answerText(got), tc.foreign)
		})
	}
	for _, c := range e.model.Calls() {
		assert.NotEqual(t, strings.Contains(c.Msgs[0].Content, "Globex"), strings.Contains(c.Msgs[0].Content, "thirty days"),
			"each prompt holds exactly one tenant's passages")
	}
}

func TestStreamChatFollowUpUsesHistory(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	ctx := context.Background()
	chat := f.streamChat()
	first, err := collect(t, chat.Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}))
	require.NoError(t, err)
	conv := first[len(first)-1].ConversationID

	second, err := collect(t, chat.Execute(ctx, application.ChatInput{Tenant: f.member, Message: "And shipping costs?", ConversationID: conv}))

	require.NoError(t, err)
	assert.Equal(t, conv, second[len(second)-1].ConversationID)
	calls := f.model.Calls()
	require.Len(t, calls, 2)
	msgs := calls[1].Msgs
	require.Len(t, msgs, 4)
	assert.Equal(t, domain.MessageSystem, msgs[0].Role)
	assert.Equal(t, domain.ChatMessage{Role: domain.MessageUser, Content: "Are gift cards refundable?"}, msgs[1])
	assert.Equal(t, domain.ChatMessage{Role: domain.MessageAssistant, Content: answerText(first)}, msgs[2])
	assert.Equal(t, domain.ChatMessage{Role: domain.MessageUser, Content: "And shipping costs?"}, msgs[3])
	assert.Len(t, f.messages(conv), 4)
	assert.Len(t, f.conversationsOf(f.member), 1)
}

func TestStreamChatGivenHistoryReplacesStoredOne(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	history := []domain.Message{
		{Role: domain.MessageUser, Content: "Hello"},
		{Role: domain.MessageAssistant, Content: "Hi, how can I help?"},
	}

	_, err := collect(t, f.streamChat().Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: "Refund for gift cards?", History: history}))

	require.NoError(t, err)
	msgs := f.model.Calls()[0].Msgs
	require.Len(t, msgs, 4)
	assert.Equal(t, "Hello", msgs[1].Content)
	assert.Equal(t, "Hi, how can I help?", msgs[2].Content)
}

func TestStreamChatUnknownConversationIsNotFound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		asker func(f chatFixture) domain.TenantContext
	}{
		{name: "another user's conversation", asker: func(f chatFixture) domain.TenantContext {
			return tenantCtx(f.user("jack@acme.test", domain.RoleMember, "acme"), f.admin.Tenant)
		}},
		{name: "another tenant's conversation", asker: func(f chatFixture) domain.TenantContext {
			return f.env.admin("globex")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newChatFixture(t)
			ctx := context.Background()
			first, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}))
			require.NoError(t, err)
			conv := first[len(first)-1].ConversationID
			asker := tc.asker(f)

			got, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: asker, Message: "What did I ask?", ConversationID: conv}))

			assert.Empty(t, got, "no delta before the error")
			requireKind(t, domain.KindNotFound, err)
			assert.Len(t, f.model.Calls(), 1, "the model is not called for the stranger")
			assert.Len(t, f.messages(conv), 2, "nothing is added to the owner's conversation")
			assert.Empty(t, f.conversationsOf(asker))
		})
	}
}

func TestStreamChatRejectsInvalidMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message string
	}{
		{name: "empty", message: ""},
		{name: "blank", message: " \n\t "},
		{name: "too long", message: strings.Repeat("a", domain.MaxMessageLength+1)},
		{name: "invalid utf-8", message: "hello \xff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newChatFixture(t)

			got, err := collect(t, f.streamChat().Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: tc.message}))

			assert.Empty(t, got)
			requireKind(t, domain.KindInvalid, err)
			assert.Empty(t, f.model.Calls())
			assert.Empty(t, f.conversationsOf(f.member))
		})
	}
}

func TestStreamChatRequestsPerMinute(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	ctx := context.Background()
	f.member.Tenant = f.updateTenant("acme", func(t *domain.Tenant) { t.Limits.RequestsPerMinute = 1 })
	_, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Gift cards?"}))
	require.NoError(t, err)

	got, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Shipping costs?"}))

	assert.Empty(t, got)
	requireKind(t, domain.KindRateLimited, err)
	assert.Positive(t, domain.AsError(err).RetryAfterSeconds)
	assert.LessOrEqual(t, domain.AsError(err).RetryAfterSeconds, 60)
	assert.Len(t, f.model.Calls(), 1, "the refused request never reaches the model")

	f.clock.Advance(time.Minute)
	_, err = collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Shipping costs?"}))
	assert.NoError(t, err, "the budget refills")
}

func TestStreamChatMonthlyTokenQuota(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	f.member.Tenant = f.updateTenant("acme", func(t *domain.Tenant) { t.Limits.MonthlyTokenQuota = 100 })
	lastMonth := domain.MonthStart(now).Add(-time.Hour)
	require.NoError(t, f.db.Usage().Record(ctx, domain.UsageRecord{TenantID: "acme", UserID: f.member.Principal.UserID, PromptTokens: 500, At: lastMonth}))
	_, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Gift cards?"}))
	require.NoError(t, err, "last month's usage does not count")
	require.NoError(t, f.db.Usage().Record(ctx, domain.UsageRecord{TenantID: "acme", UserID: f.member.Principal.UserID, PromptTokens: 60, CompletionTokens: 40, At: now}))

	got, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Shipping costs?"}))

	assert.Empty(t, got)
	requireKind(t, domain.KindRateLimited, err)
	assert.ErrorIs(t, err, domain.ErrQuotaExceeded)
	assert.Len(t, f.model.Calls(), 1)
}

func TestStreamChatMaxConcurrentStreams(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	f.member.Tenant = f.updateTenant("acme", func(t *domain.Tenant) { t.Limits.MaxConcurrentStreams = 1 })
	model := newBlockingModel("thinking… ")
	f.vendors.model = model
	chat := f.streamChat()

	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	done1 := make(chan error, 1)
	go func() {
		_, err := collect(t, chat.Execute(ctx1, application.ChatInput{Tenant: f.member, Message: "Gift cards?"}))
		done1 <- err
	}()
	select {
	case <-model.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the first stream never reached the model")
	}

	got, err := collect(t, chat.Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: "Shipping?"}))

	assert.Empty(t, got)
	requireKind(t, domain.KindRateLimited, err)
	assert.ErrorIs(t, err, domain.ErrTooManyStreams)
	assert.Len(t, model.Calls(), 1, "the refused stream never reaches the model")

	cancel1()
	select {
	case err := <-done1:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("the first stream did not end after cancellation")
	}
	// The slot is free again: a new stream is admitted and gets its sources.
	for d, err := range chat.Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: "Shipping?"}) {
		require.NoError(t, err)
		assert.NotEmpty(t, d.Sources)
		break
	}
}

// TestStreamChatCancellation is not parallel: it checks that no goroutine outlives the
// stream.
func TestStreamChatCancellation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newChatFixture(t)
	model := newBlockingModel("Gift cards are ")
	f.vendors.model = model
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type result struct {
		deltas []domain.Delta
		err    error
	}
	done := make(chan result, 1)
	firstText := make(chan struct{})
	go func() {
		var r result
		for d, err := range f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}) {
			if err != nil {
				r.err = err
				continue
			}
			r.deltas = append(r.deltas, d)
			if d.Text != "" {
				close(firstText)
			}
		}
		done <- r
	}()
	select {
	case <-firstText:
	case <-time.After(5 * time.Second):
		t.Fatal("no text delta arrived")
	}

	cancelled := time.Now()
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the stream did not end after cancellation")
	}

	assert.Less(t, time.Since(cancelled), time.Second, "the stream ends promptly")
	assert.ErrorIs(t, r.err, context.Canceled)
	for _, d := range r.deltas {
		assert.False(t, d.Done, "a cancelled stream has no final delta")
	}
	convs := f.conversationsOf(f.member)
	require.Len(t, convs, 1)
	stored := f.messages(convs[0].ID)
	require.Len(t, stored, 2)
	assert.Equal(t, "Are gift cards refundable?", stored[0].Content)
	assert.Equal(t, "Gift cards are ", stored[1].Content, "the partial answer is kept")
	assert.True(t, stored[1].Incomplete)
	assert.NotEmpty(t, stored[1].Sources)
}

func TestStreamChatConsumerStopsEarly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stopAt   func(d domain.Delta) bool
		wantText string
	}{
		{name: "after the sources", stopAt: func(d domain.Delta) bool { return d.Sources != nil }, wantText: ""},
		{name: "after the first text", stopAt: func(d domain.Delta) bool { return d.Text != "" }, wantText: "From your documents: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newChatFixture(t)
			require.NotPanics(t, func() {
				for d, err := range f.streamChat().Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}) {
					require.NoError(t, err)
					if tc.stopAt(d) {
						break
					}
				}
			})

			convs := f.conversationsOf(f.member)
			require.Len(t, convs, 1)
			stored := f.messages(convs[0].ID)
			require.Len(t, stored, 2)
			assert.Equal(t, tc.wantText, stored[1].Content)
			assert.True(t, stored[1].Incomplete)
		})
	}
}

func TestStreamChatModelFailureMidAnswer(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	f.vendors.model = &failingModel{text: "Gift cards ", err: domain.ErrUnavailable.WithDetail("the model stream was cut")}

	got, err := collect(t, f.streamChat().Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}))

	requireKind(t, domain.KindUnavailable, err)
	require.Len(t, got, 2, "sources and the partial text")
	assert.Equal(t, "Gift cards ", got[1].Text)
	convs := f.conversationsOf(f.member)
	require.Len(t, convs, 1)
	stored := f.messages(convs[0].ID)
	require.Len(t, stored, 2)
	assert.Equal(t, "Gift cards ", stored[1].Content)
	assert.True(t, stored[1].Incomplete)
}

func TestStreamChatFailsBeforeAnyDelta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		breakEnv func(f *chatFixture)
		wantKind domain.Kind
	}{
		{name: "embedder unreachable", wantKind: domain.KindUnavailable, breakEnv: func(f *chatFixture) {
			f.member = f.withMode(f.member, domain.RetrievalHybrid)
			f.vendors.embedder = &failingEmbedder{inner: f.embedder}
		}},
		{name: "store down", wantKind: domain.KindUnavailable, breakEnv: func(f *chatFixture) { f.db.SetDown(true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newChatFixture(t)
			tc.breakEnv(&f)

			got, err := collect(t, f.streamChat().Execute(context.Background(), application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}))

			assert.Empty(t, got)
			requireKind(t, tc.wantKind, err)
			assert.Empty(t, f.model.Calls())
			f.db.SetDown(false)
			assert.Empty(t, f.conversationsOf(f.member), "nothing started, so nothing is stored")
		})
	}
}

func TestStreamChatOnTheExtractiveAnswerer(t *testing.T) {
	t.Parallel()
	f := newChatFixture(t)
	ctx := context.Background()
	f.vendors.model = extractive.New(extractive.Config{})

	got, err := collect(t, f.streamChat().Execute(ctx, application.ChatInput{Tenant: f.member, Message: "Are gift cards refundable?"}))

	require.NoError(t, err)
	require.NotEmpty(t, got[0].Sources)
	assert.Equal(t, f.doc.ID, got[0].Sources[0].DocumentID)
	text := answerText(got)
	assert.Contains(t, text, "Gift cards are never refundable", "the answer quotes the passage")
	assert.Contains(t, text, "[1]", "and cites it")
	last := got[len(got)-1]
	require.True(t, last.Done)
	assert.Equal(t, extractive.ModelName, last.Model)
	assert.Positive(t, last.Usage.Total())
	stored := f.messages(last.ConversationID)
	require.Len(t, stored, 2)
	assert.Equal(t, text, stored[1].Content)
	assert.False(t, stored[1].Incomplete)
}
