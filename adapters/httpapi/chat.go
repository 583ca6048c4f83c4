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
// The use case and the events run on the stream's own goroutine (streamer.serve),
// which takes the connection over once the first event is due, so 10,000 open streams
// do not each keep the HTTP stack (issue 8, target 5). The per-token path passes
// pointers: each token is written from the bottom of that goroutine's stack.
func (h chatHandlers) stream(c echo.Context) error {
	var req chatRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return h.serve(c, func(sc *streamScope) error {
		seq, err := h.begin(sc, &req)
		if err != nil {
			return err
		}
		return h.relay(sc, seq)
	})
}

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
	var s *sseStream
	finished := false
	for d, err := range seq {
		if err != nil {
			if s == nil {
				return err
			}
			h.fail(sc, s, err)
			return nil
		}
		if s == nil {
			s = sc.open()
			if err := s.event("sources", sourcesJSON{Sources: toSources(d.Sources)}); err != nil {
				return sc.abandon(err, "chat stream")
			}
		}
		if err := h.send(s, &d); err != nil {
			return sc.abandon(err, "chat stream")
		}
		if d.Done {
			finished = true
			break
		}
	}
	switch {
	case s == nil:
		return errNoAnswer
	case !finished && sc.ctx.Err() == nil:
		h.fail(sc, s, errNoAnswer)
	}
	return nil
}

type sourcesJSON struct {
	Sources []sourceJSON `json:"sources"`
}

type tokenJSON struct {
	Delta string `json:"delta"`
}

// send writes the token or done event a delta carries.
func (h chatHandlers) send(s *sseStream, d *domain.Delta) error {
	if d.Text != "" {
		if err := s.event("token", tokenJSON{Delta: d.Text}); err != nil {
			return err
		}
	}
	if !d.Done {
		return nil
	}
	return s.event("done", doneJSON{
		ConversationID: string(d.ConversationID), MessageID: string(d.MessageID), Model: d.Model,
		FinishReason: d.FinishReason, Usage: usageJSON{PromptTokens: d.Usage.PromptTokens, CompletionTokens: d.Usage.CompletionTokens},
	})
}

// fail ends a started stream with one error event, logged once like any problem; a
// client that went away gets nothing.
func (h chatHandlers) fail(sc *streamScope, s *sseStream, err error) {
	if pr, ok := sc.fail(err, "chat stream"); ok {
		_ = s.event("error", pr) // the stream closes next either way
	}
}
