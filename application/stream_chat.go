package application

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// StreamChatDeps are the ports StreamChat calls.
type StreamChatDeps struct {
	Conversations ports.ConversationStore
	Usage         ports.UsageStore
	Vendors       ports.Vendors
	// Lexical is the tenants' BM25 index, for the lexical and hybrid modes.
	Lexical ports.LexicalIndex
	// Documents tells which retrieved passages' documents still exist.
	Documents ports.DocumentStore
	Limiter   ports.RateLimiter
	Slots     ports.StreamSlots
	// Tokens counts what was produced when the vendor reported no usage; nil counts
	// with domain.EstimateTokens.
	Tokens ports.TokenCounter
	Now    func() time.Time
	// PersistTimeout bounds storing the answer after the client has gone.
	PersistTimeout time.Duration
}

// StreamChat answers a question with the tenant's own documents, system prompt and
// model, streaming the answer.
type StreamChat struct {
	d        StreamChatDeps
	retrieve *Retrieve
}

// NewStreamChat builds the use case.
func NewStreamChat(d StreamChatDeps) *StreamChat {
	if d.PersistTimeout <= 0 {
		d.PersistTimeout = 5 * time.Second
	}
	return &StreamChat{d: d, retrieve: NewRetrieve(d.Lexical, d.Vendors, d.Documents)}
}

// ChatInput is one question.
type ChatInput struct {
	Tenant         domain.TenantContext
	Message        string
	ConversationID domain.ConversationID
	// History, when set, replaces the stored conversation (the OpenAI-compatible
	// endpoint sends the whole conversation with each request).
	History []domain.Message
	// Budget, when set, is told the tenant's request budget once this request has been
	// counted against it, before the first delta (or the error that refuses it).
	Budget func(ports.RateStatus)
}

// Execute streams the answer. The first delta carries the sources; text deltas follow;
// the last has Done set with the conversation and message ids, model, finish reason and
// usage. An error before the first delta means nothing started (validation, limits,
// unknown conversation, retrieval outage). When ctx is cancelled or the model fails
// mid-answer, the partial answer is stored marked incomplete and the error ends the
// sequence.
func (s *StreamChat) Execute(ctx context.Context, in ChatInput) iter.Seq2[domain.Delta, error] {
	// The steps take in and the plan by pointer: the caller's goroutine waits on the
	// model inside answer for the whole answer, with these frames on its stack, so
	// copies of the 480-byte input would stay there as long.
	return func(yield func(domain.Delta, error) bool) {
		release, err := s.admit(ctx, &in)
		if err != nil {
			yield(domain.Delta{}, err)
			return
		}
		defer release()
		p, err := s.prepare(ctx, &in)
		if err != nil {
			yield(domain.Delta{}, err)
			return
		}
		s.answer(ctx, &in, p, yield)
	}
}

// admit applies the tenant's limits before any vendor is called.
func (s *StreamChat) admit(ctx context.Context, in *ChatInput) (func(), error) {
	if err := domain.ValidateQuestion(in.Message); err != nil {
		return nil, err
	}
	t := in.Tenant.Tenant
	now := s.d.Now()
	budget, err := allowRequest(ctx, s.d.Limiter, t, now)
	if in.Budget != nil && budget.Limit > 0 {
		in.Budget(budget)
	}
	if err != nil {
		return nil, err
	}
	used, err := s.d.Usage.Totals(ctx, t.ID, domain.MonthStart(now))
	if err != nil {
		return nil, fmt.Errorf("load usage: %w", err)
	}
	if err := t.CheckQuota(used, now); err != nil {
		return nil, err
	}
	return s.d.Slots.Acquire(ctx, "streams:"+string(t.ID), t.Limits.MaxConcurrentStreams)
}

func allowRequest(ctx context.Context, l ports.RateLimiter, t domain.Tenant, now time.Time) (ports.RateStatus, error) {
	st, err := l.Allow(ctx, "requests:"+string(t.ID), t.Limits.RequestsPerMinute, now)
	if err != nil {
		return ports.RateStatus{}, fmt.Errorf("check rate limit: %w", err)
	}
	if st.Wait > 0 {
		return st, domain.ErrRateLimited.WithDetail("the tenant's requests_per_minute limit is reached").WithRetryAfter(ceilSeconds(st.Wait))
	}
	return st, nil
}

// chatPlan is what answering needs, and what it produced. msgs, the prompt with the
// passages' text, is handed to the model and dropped here: it is the largest part and
// the answer can take long.
type chatPlan struct {
	conv     domain.Conversation
	isNew    bool
	passages []domain.Passage
	// readUnits is what the vector store charged for the search, recorded with usage.
	readUnits int
	model     ports.ChatModel
	msgs      []domain.ChatMessage
	params    domain.ChatParams

	// What the answer produced (see answer).
	text  strings.Builder
	final domain.Delta // the model's final delta
	// promptTokens estimates the prompt once the model was called; 0 means it was not.
	promptTokens int
	// stopped: the consumer returned false, so yield must not be called again.
	stopped   bool
	streamErr error
}

// prepare loads the conversation, retrieves the passages and builds the prompt. The
// steps before and after retrieval are functions of their own, so that their locals
// are off the stack while the search runs.
func (s *StreamChat) prepare(ctx context.Context, in *ChatInput) (*chatPlan, error) {
	p := &chatPlan{}
	history, err := s.conversation(ctx, in, p)
	if err != nil {
		return nil, err
	}
	t := &in.Tenant.Tenant
	found, err := s.retrieve.Execute(ctx, t, in.Message, t.Retrieval.TopK)
	if err != nil {
		return nil, err
	}
	if err := s.compose(in, p, found, history); err != nil {
		return nil, err
	}
	return p, nil
}

// conversation sets p's conversation, the one asked for or a new one, and returns the
// history the prompt carries.
func (s *StreamChat) conversation(ctx context.Context, in *ChatInput, p *chatPlan) ([]domain.Message, error) {
	t, who := &in.Tenant.Tenant, &in.Tenant.Principal
	history := in.History
	if in.ConversationID == "" {
		now := s.d.Now()
		p.isNew = true
		p.conv = domain.Conversation{ID: domain.ConversationID(newID()), TenantID: t.ID, UserID: who.UserID,
			Title: domain.ConversationTitle(in.Message), CreatedAt: now, UpdatedAt: now}
		return history, nil
	}
	c, err := s.d.Conversations.Get(ctx, t.ID, who.UserID, in.ConversationID)
	if err != nil {
		return nil, err
	}
	p.conv = c
	if history == nil {
		if history, err = s.d.Conversations.Messages(ctx, t.ID, c.ID, domain.MaxHistoryMessages); err != nil {
			return nil, fmt.Errorf("load history: %w", err)
		}
	}
	return history, nil
}

// compose completes p with the tenant's model and the prompt built from what was found.
func (s *StreamChat) compose(in *ChatInput, p *chatPlan, found domain.SearchResult, history []domain.Message) error {
	t := &in.Tenant.Tenant
	model, err := s.d.Vendors.ChatModel(*t)
	if err != nil {
		return err
	}
	passages := found.Passages
	p.passages, p.readUnits, p.model = passages, found.ReadUnits, model
	p.msgs = t.BuildPrompt(passages, history, in.Message)
	p.params = domain.ChatParams{Model: t.LLM.Model, Temperature: t.LLM.Temperature, MaxTokens: t.LLM.MaxTokens, Passages: passages}
	return nil
}

// answer streams the sources, then the model's answer; it stores the answer and yields
// how it ended. The goroutine of an open stream keeps the deepest stack it ever needed,
// and every token of the answer is read and written under answer's frame and
// generate's: their state is in p and their steps are functions of their own (not
// inlined), so these frames stay small.
func (s *StreamChat) answer(ctx context.Context, in *ChatInput, p *chatPlan, yield func(domain.Delta, error) bool) {
	if !sources(yield, p.passages) {
		p.stopped, p.streamErr = true, context.Canceled
	} else {
		p.stopped, p.streamErr = generate(s.call(ctx, in, p), p, yield)
	}
	s.conclude(ctx, in, p, yield)
}

// sources yields the first delta, the passages the answer is based on.
//
//go:noinline
func sources(yield func(domain.Delta, error) bool, passages []domain.Passage) bool {
	return yield(domain.Delta{Sources: passages}, nil)
}

// call calls the model with the prompt, which the model owns from then on: nothing
// here keeps it alive meanwhile. It estimates the prompt's tokens, which the vendor
// charges for however the answer ends.
//
//go:noinline
func (s *StreamChat) call(ctx context.Context, in *ChatInput, p *chatPlan) iter.Seq2[domain.Delta, error] {
	msgs := p.msgs
	p.msgs = nil
	p.promptTokens = domain.EstimatePromptTokens(msgs, s.tokenCounter(&in.Tenant.Tenant.LLM))
	return p.model.Stream(ctx, msgs, p.params)
}

// generate relays the model's text deltas to yield and collects them in p.text, until
// the final delta (kept in p.final) or an error; stopped is true when yield returned
// false.
//
//go:noinline
func generate(stream iter.Seq2[domain.Delta, error], p *chatPlan, yield func(domain.Delta, error) bool) (stopped bool, err error) {
	for d, err := range stream {
		if err != nil {
			return false, err
		}
		if d.Done {
			p.final = d
			return false, nil
		}
		p.text.WriteString(d.Text)
		if !yield(domain.Delta{Text: d.Text}, nil) {
			return true, context.Canceled
		}
	}
	return false, nil
}

// conclude stores the (possibly partial) answer with its usage and yields the final
// delta or the error that ended the answer, unless the consumer stopped.
func (s *StreamChat) conclude(ctx context.Context, in *ChatInput, p *chatPlan, yield func(domain.Delta, error) bool) {
	streamErr, final := p.streamErr, &p.final
	if streamErr == nil && !final.Done {
		streamErr = domain.ErrUnavailable.WithDetail("the model stream ended without finishing")
	}
	if streamErr == nil && ctx.Err() != nil {
		streamErr = ctx.Err()
	}
	answer := p.text.String()
	usage, estimated := final.Usage, false
	if usage.Total() == 0 && p.promptTokens > 0 {
		// The vendor sent no usage (the stream ended early, or it ignores
		// include_usage): what was produced is still paid for, by estimate.
		usage, estimated = domain.Usage{PromptTokens: p.promptTokens, CompletionTokens: s.tokenCounter(&in.Tenant.Tenant.LLM)(answer)}, true
	}
	msgID, perr := s.persist(ctx, in, p, answer, final, usage, estimated, streamErr != nil)
	if p.stopped {
		return
	}
	switch {
	case streamErr != nil:
		yield(domain.Delta{}, streamErr)
	case perr != nil:
		yield(domain.Delta{}, perr)
	default:
		f := *final
		f.ConversationID, f.MessageID = p.conv.ID, msgID
		if f.Model == "" {
			f.Model = p.params.Model
		}
		yield(f, nil)
	}
}

// tokenCounter counts text for the tenant's chat model.
func (s *StreamChat) tokenCounter(llm *domain.LLMSettings) func(string) int {
	if s.d.Tokens == nil {
		return domain.EstimateTokens
	}
	return func(text string) int { return s.d.Tokens.Tokens(llm.Provider, llm.Model, text) }
}

// persist stores the question and the (possibly partial) answer, and the usage (marked
// estimated when tenantry counted it); it runs even when the client has gone, bounded
// by PersistTimeout.
func (s *StreamChat) persist(ctx context.Context, in *ChatInput, p *chatPlan, answer string, final *domain.Delta, usage domain.Usage, estimated, incomplete bool) (domain.MessageID, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.d.PersistTimeout)
	defer cancel()
	t, who := &in.Tenant.Tenant, &in.Tenant.Principal
	now := s.d.Now()
	if p.isNew {
		if err := s.d.Conversations.Create(ctx, p.conv); err != nil {
			return "", fmt.Errorf("create conversation: %w", err)
		}
	}
	model := final.Model
	if model == "" {
		model = p.params.Model
	}
	q := domain.Message{ID: domain.MessageID(newID()), ConversationID: p.conv.ID, Role: domain.MessageUser, Content: in.Message, CreatedAt: now}
	a := domain.Message{ID: domain.MessageID(newID()), ConversationID: p.conv.ID, Role: domain.MessageAssistant, Content: domain.StorableText(answer),
		Sources: p.passages, Model: model, Usage: final.Usage, Incomplete: incomplete, CreatedAt: now.Add(time.Microsecond)}
	if err := s.d.Conversations.Append(ctx, t.ID, p.conv.ID, q, a); err != nil {
		return "", fmt.Errorf("store messages: %w", err)
	}
	if usage.Total() > 0 || p.readUnits > 0 {
		rec := domain.UsageRecord{TenantID: t.ID, UserID: who.UserID, Model: model, PromptTokens: usage.PromptTokens,
			CompletionTokens: usage.CompletionTokens, ReadUnits: p.readUnits, Estimated: estimated, At: now}
		if err := s.d.Usage.Record(ctx, rec); err != nil {
			return "", fmt.Errorf("record usage: %w", err)
		}
	}
	return a.ID, nil
}
