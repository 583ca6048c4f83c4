package httpapi

import (
	"errors"
	"iter"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type chatRequest struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id"`
}

type doneJSON struct {
	ConversationID string    `json:"conversation_id"`
	MessageID      string    `json:"message_id"`
	Model          string    `json:"model"`
	FinishReason   string    `json:"finish_reason"`
	Usage          usageJSON `json:"usage"`
}

type chatHandlers struct {
	*streamer
	chat *application.StreamChat
}

var errNoAnswer = domain.E(domain.KindInternal, codeInternal, "", errors.New("chat stream ended without a final delta"))

// stream serves POST /chat/stream. Nothing is written until the use case yields its
// first delta, so an earlier error is an ordinary problem response; after that, events
// follow as they come and a failure becomes one `error` event carrying the problem.
//
// The handler's goroutine waits on the model for the whole answer, and every token is
// written from the bottom of that stack; 10,000 open streams each keep it. So the
// steps with large frames (decoding, the tenant context and use-case input) run in
// functions of their own that have returned by then, and the per-token path passes
// pointers.
func (h chatHandlers) stream(c echo.Context) error {
	var req chatRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return h.serve(c, "chat stream", problemEvent, func(sc *streamScope) error {
		seq, err := h.begin(sc, &req)
		if err != nil {
			return err
		}
		return h.relay(sc, seq)
	})
}

// problemEvent is /chat/stream's terminal event: `error` carrying the problem.
func problemEvent(pr problem) (string, any) { return "error", pr }

// begin checks the request and starts the use case.
func (h chatHandlers) begin(sc *streamScope, req *chatRequest) (iter.Seq2[domain.Delta, error], error) {
	tc, err := mustTenant(sc.c)
	if err != nil {
		return nil, err
	}
	if len(req.ConversationID) > 64 {
		return nil, domain.ErrNotFound.WithDetail("no such conversation")
	}
	in := application.ChatInput{Tenant: tc, Message: req.Message, ConversationID: domain.ConversationID(req.ConversationID)}
	return h.chat.Execute(sc.ctx, in), nil
}

// relay writes the deltas of seq as events.
func (h chatHandlers) relay(sc *streamScope, seq iter.Seq2[domain.Delta, error]) error {
	finished := false
	for d, err := range seq {
		if err != nil {
			if sc.stream == nil {
				return err
			}
			sc.fail(err)
			return nil
		}
		if sc.stream == nil {
			if err := h.start(sc, &d); err != nil {
				return sc.abandon(err)
			}
		}
		if err := h.send(sc, &d); err != nil {
			return sc.abandon(err)
		}
		if d.Done {
			finished = true
			break
		}
	}
	switch {
	case sc.stream == nil:
		return errNoAnswer
	case !finished && sc.ctx.Err() == nil:
		sc.fail(errNoAnswer)
	}
	return nil
}

// start opens the stream with the sources event the first delta carries. It and
// sendDone are apart from the loop that writes the tokens, so that their locals are not
// on the stack each token is written from (an open stream keeps that stack).
func (h chatHandlers) start(sc *streamScope, d *domain.Delta) error {
	sc.open()
	return sc.onceEvent("sources", sourcesJSON{Sources: toSources(d.Sources)})
}

type sourcesJSON struct {
	Sources []sourceJSON `json:"sources"`
}

type tokenJSON struct {
	Delta string `json:"delta"`
}

// send writes the token or done event a delta carries.
func (h chatHandlers) send(sc *streamScope, d *domain.Delta) error {
	if d.Text != "" {
		if err := sc.event("token", tokenJSON{Delta: d.Text}); err != nil {
			return err
		}
	}
	if !d.Done {
		return nil
	}
	return sendDone(sc, d)
}

// sendDone writes the done event.
func sendDone(sc *streamScope, d *domain.Delta) error {
	return sc.event("done", doneJSON{
		ConversationID: string(d.ConversationID), MessageID: string(d.MessageID), Model: d.Model,
		FinishReason: d.FinishReason, Usage: usageJSON{PromptTokens: d.Usage.PromptTokens, CompletionTokens: d.Usage.CompletionTokens},
	})
}
