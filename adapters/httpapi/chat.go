package httpapi

import (
	"errors"
	"iter"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

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
	chat         *application.StreamChat
	problems     problems
	ping         time.Duration
	writeTimeout time.Duration
}

var errNoAnswer = domain.E(domain.KindInternal, codeInternal, "", errors.New("chat stream ended without a final delta"))

// stream serves POST /chat/stream. Nothing is written until the use case yields its
// first delta, so an earlier error is an ordinary problem response; after that, events
// follow as they come and a failure becomes one `error` event carrying the problem.
//
// The connection's goroutine waits on the model inside relay for the whole answer, and
// every token is written from the bottom of that stack; 10,000 open streams each keep
// it (issue 8, target 5). So the steps with large frames (decoding, the tenant context
// and use-case input) run in functions of their own that have returned by then, and
// the per-token path passes pointers.
func (h chatHandlers) stream(c echo.Context) error {
	var req chatRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	seq, err := h.begin(c, &req)
	if err != nil {
		return err
	}
	return h.relay(c, seq)
}

// begin checks the request and starts the use case.
func (h chatHandlers) begin(c echo.Context, req *chatRequest) (iter.Seq2[domain.Delta, error], error) {
	tc, err := mustTenant(c)
	if err != nil {
		return nil, err
	}
	if len(req.ConversationID) > 64 {
		return nil, domain.ErrNotFound.WithDetail("no such conversation")
	}
	in := application.ChatInput{Tenant: tc, Message: req.Message, ConversationID: domain.ConversationID(req.ConversationID)}
	return h.chat.Execute(c.Request().Context(), in), nil
}

// relay writes the deltas of seq as events.
func (h chatHandlers) relay(c echo.Context, seq iter.Seq2[domain.Delta, error]) error {
	var s *sseStream
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	finished := false
	for d, err := range seq {
		if err != nil {
			if s == nil {
				return err
			}
			h.fail(c, s, err)
			return nil
		}
		if s == nil {
			if s, err = h.open(c, d.Sources); err != nil {
				return h.abandon(c, err)
			}
		}
		if err := h.send(s, &d); err != nil {
			return h.abandon(c, err)
		}
		if d.Done {
			finished = true
			break
		}
	}
	switch {
	case s == nil:
		return errNoAnswer
	case !finished && c.Request().Context().Err() == nil:
		h.fail(c, s, errNoAnswer)
	}
	return nil
}

type sourcesJSON struct {
	Sources []sourceJSON `json:"sources"`
}

type tokenJSON struct {
	Delta string `json:"delta"`
}

// open starts the event stream with the sources event. The stream is returned even
// when that write fails, so that it is closed.
func (h chatHandlers) open(c echo.Context, sources []domain.Passage) (*sseStream, error) {
	s := startSSE(c, h.ping, h.writeTimeout)
	return s, s.event("sources", sourcesJSON{Sources: toSources(sources)})
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
func (h chatHandlers) fail(c echo.Context, s *sseStream, err error) {
	if clientGone(c, err) {
		h.problems.log.Debug("client left the chat stream", logFields(c)...)
		return
	}
	pr := h.problems.build(c, err)
	h.problems.logError(c, pr, err)
	_ = s.event("error", pr) // the stream closes next either way
}

// abandon handles a failed write to the client: the stream is unusable, so the error
// is only logged; leaving the loop stops the iterator, which cancels the model call.
func (h chatHandlers) abandon(c echo.Context, err error) error {
	h.problems.log.Debug("chat stream write failed", append(logFields(c), zap.Error(err))...)
	return nil
}
