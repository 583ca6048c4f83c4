package observe

import (
	"context"
	"iter"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ChatModel times the streams of the ChatModel it wraps, from the first pull to the
// last delta, records the time to the first token and counts the final usage against
// the tenant.
type ChatModel struct {
	next     ports.ChatModel
	provider string
	tenant   domain.TenantID
	o        *Observer
}

var _ ports.ChatModel = (*ChatModel)(nil)

// NewChatModel wraps next, a model of provider answering for tenant.
func NewChatModel(next ports.ChatModel, provider string, tenant domain.TenantID, o *Observer) *ChatModel {
	return &ChatModel{next: next, provider: provider, tenant: tenant, o: o}
}

// Stream passes the wrapped model's deltas through unchanged. A consumer that stops
// early ends the call as "canceled".
func (m *ChatModel) Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	inner := m.next.Stream(ctx, msgs, p)
	st := &streamStats{messages: len(msgs), passages: len(p.Passages)}
	return func(yield func(domain.Delta, error) bool) {
		m.start(st)
		m.relay(inner, st, yield)
		m.finish(ctx, st)
	}
}

func (m *ChatModel) start(st *streamStats) {
	st.c = m.o.begin(ServiceLLM, m.provider, "stream", m.tenant)
}

// relay passes the deltas on. Its frame, not Stream's, lies under every delta the
// wrapped model reads, and the goroutine of an open stream keeps the deepest stack it
// needed. Inlined, Stream's frame would be under them again.
//
//go:noinline
func (m *ChatModel) relay(inner iter.Seq2[domain.Delta, error], st *streamStats, yield func(domain.Delta, error) bool) {
	for d, err := range inner {
		m.see(st, &d, err)
		if !yield(d, err) {
			st.stopped = true
			return
		}
	}
}

// streamStats is what the decorator keeps of a call while it streams: counts only, so a
// long stream does not keep the prompt and passages alive (at 10,000 open streams the
// prompts alone are tens of MiB).
type streamStats struct {
	c                  call
	messages, passages int
	deltas             int
	gotFirst, stopped  bool
	done               bool
	finishReason       string
	usage              domain.Usage
	err                error
}

func (m *ChatModel) see(st *streamStats, d *domain.Delta, err error) {
	switch {
	case err != nil:
		st.err = err
	case d.Done:
		st.done, st.finishReason, st.usage = true, d.FinishReason, d.Usage
	case d.Text != "":
		st.deltas++
		if !st.gotFirst {
			st.gotFirst = true
			m.o.metrics.observeFirstToken(m.provider, m.o.now().Sub(st.c.start).Seconds())
		}
	}
}

func (m *ChatModel) finish(ctx context.Context, st *streamStats) {
	m.o.metrics.addTokens(m.tenant, st.usage)
	outcome := outcomeOf(ctx, st.err)
	if st.stopped && st.err == nil && !st.done {
		outcome = outcomeCanceled
	}
	st.c.end(ctx, outcome, st.err, zap.Int("messages", st.messages), zap.Int("passages", st.passages),
		zap.Int("deltas", st.deltas), zap.Bool("done", st.done), zap.String("finish_reason", st.finishReason),
		zap.Int("prompt_tokens", st.usage.PromptTokens), zap.Int("completion_tokens", st.usage.CompletionTokens))
}
