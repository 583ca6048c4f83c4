package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type conversationJSON struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toConversationJSON(c domain.Conversation) conversationJSON {
	return conversationJSON{ID: string(c.ID), Title: c.Title, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type sourceJSON struct {
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title"`
	Chunk      int     `json:"chunk"`
	Score      float64 `json:"score"`
	Text       string  `json:"text"`
	// Page is the 1-based page of a PDF the passage lies on; absent for other sources.
	Page int `json:"page,omitempty"`
	// Heading is the nearest heading above the passage in its source, when it has one.
	Heading string `json:"heading,omitempty"`
}

func toSources(ps []domain.Passage) []sourceJSON {
	out := make([]sourceJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, sourceJSON{DocumentID: string(p.DocumentID), Title: p.Title, Chunk: p.Chunk, Score: p.Score, Text: p.Text,
			Page: p.Page, Heading: p.Heading})
	}
	return out
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

type messageJSON struct {
	ID         string       `json:"id"`
	Role       string       `json:"role"`
	Content    string       `json:"content"`
	Sources    []sourceJSON `json:"sources"`
	Model      string       `json:"model,omitempty"`
	Usage      *usageJSON   `json:"usage,omitempty"`
	Incomplete bool         `json:"incomplete"`
	CreatedAt  time.Time    `json:"created_at"`
}

func toMessageJSON(m domain.Message) messageJSON {
	out := messageJSON{ID: string(m.ID), Role: m.Role, Content: m.Content, Sources: toSources(m.Sources), Model: m.Model,
		Incomplete: m.Incomplete, CreatedAt: m.CreatedAt}
	if m.Role == domain.MessageAssistant {
		out.Usage = &usageJSON{PromptTokens: m.Usage.PromptTokens, CompletionTokens: m.Usage.CompletionTokens}
	}
	return out
}

type conversationDetailJSON struct {
	conversationJSON
	Messages []messageJSON `json:"messages"`
}

type conversationHandlers struct {
	convs *application.Conversations
}

// list serves GET /conversations: the caller's own, newest first.
func (h conversationHandlers) list(c echo.Context) error {
	return sendTenantList(c, h.convs.List, toConversationJSON)
}

// get serves GET /conversations/{id} with its messages; another user's is 404.
func (h conversationHandlers) get(c echo.Context) error {
	tc, id, err := conversationOf(c)
	if err != nil {
		return err
	}
	conv, msgs, err := h.convs.Get(c.Request().Context(), tc, id)
	if err != nil {
		return err
	}
	out := conversationDetailJSON{conversationJSON: toConversationJSON(conv), Messages: make([]messageJSON, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, toMessageJSON(m))
	}
	return sendJSON(c, http.StatusOK, out)
}

// conversationOf returns the caller's tenant context and the {id} path parameter.
func conversationOf(c echo.Context) (domain.TenantContext, domain.ConversationID, error) {
	tc, err := mustTenant(c)
	if err != nil {
		return domain.TenantContext{}, "", err
	}
	id, err := conversationIDParam(c)
	return tc, id, err
}

// conversationIDParam reads the {id} path parameter; one no store could hold is 404
// like any unknown id.
func conversationIDParam(c echo.Context) (domain.ConversationID, error) {
	id := c.Param("id")
	if id == "" || len(id) > 64 {
		return "", domain.ErrNotFound.WithDetail("no such conversation")
	}
	return domain.ConversationID(id), nil
}

// rename serves PATCH /conversations/{id}: a JSON merge patch of the title; another
// user's or tenant's conversation is 404.
func (h conversationHandlers) rename(c echo.Context) error {
	tc, id, err := conversationOf(c)
	if err != nil {
		return err
	}
	body, err := readJSONBody(c, mimeMergePatch, mimeJSON)
	if err != nil {
		return err
	}
	title, err := parseConversationPatch(body)
	if err != nil {
		return err
	}
	conv, err := h.convs.Rename(c.Request().Context(), tc, id, title)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, toConversationJSON(conv))
}

// remove serves DELETE /conversations/{id}: 204, then 404 for a conversation already
// deleted, another user's or another tenant's.
func (h conversationHandlers) remove(c echo.Context) error {
	tc, id, err := conversationOf(c)
	if err != nil {
		return err
	}
	if err := h.convs.Delete(c.Request().Context(), tc, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
