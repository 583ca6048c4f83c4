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
	return func(yield func(domain.Delta, error) bool) {
		c := m.o.begin(ServiceLLM, m.provider, "stream", m.tenant)
		var (
			deltas    int
			gotFirst  bool
			final     domain.Delta
			streamErr error
			stopped   bool
		)
		for d, err := range m.next.Stream(ctx, msgs, p) {
			switch {
			case err != nil:
				streamErr = err
			case d.Done:
				final = d
			case d.Text != "":
				deltas++
				if !gotFirst {
					gotFirst = true
					m.o.metrics.observeFirstToken(m.provider, m.o.now().Sub(c.start).Seconds())
				}
			}
			if !yield(d, err) {
				stopped = true
				break
			}
		}
		m.o.metrics.addTokens(m.tenant, final.Usage)
		outcome := outcomeOf(ctx, streamErr)
		if stopped && streamErr == nil && !final.Done {
			outcome = outcomeCanceled
		}
		c.end(ctx, outcome, streamErr, zap.Int("messages", len(msgs)), zap.Int("passages", len(p.Passages)),
			zap.Int("deltas", deltas), zap.Bool("done", final.Done), zap.String("finish_reason", final.FinishReason),
			zap.Int("prompt_tokens", final.Usage.PromptTokens), zap.Int("completion_tokens", final.Usage.CompletionTokens))
	}
}
