package domain

import (
	"strings"
	"time"
)

// DocumentID identifies an ingested document (a UUID string).
type DocumentID string

// ConversationID identifies a conversation (a UUID string).
type ConversationID string

// MessageID identifies a message (a UUID string).
type MessageID string

// Document is a text a tenant admin ingested. Re-ingesting with the same ExternalID
// replaces its chunks.
type Document struct {
	ID         DocumentID
	TenantID   TenantID
	ExternalID string
	Title      string
	Metadata   map[string]string
	Chunks     int
	Bytes      int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Limits on documents.
const (
	MaxTitleLength    = 500
	MaxMetadataKeys   = 32
	MaxMetadataLength = 1000
	MaxMessageLength  = 32000
)

// NewDocument validates and builds a document record.
func NewDocument(id DocumentID, tenant TenantID, externalID, title, text string, metadata map[string]string, now time.Time) (Document, error) {
	var fs []FieldError
	title = strings.TrimSpace(title)
	if title == "" || len(title) > MaxTitleLength || !storableText(title) {
		fs = append(fs, FieldError{Field: "title", Message: "must be 1-500 characters of valid UTF-8, without NUL"})
	}
	if strings.TrimSpace(text) == "" {
		fs = append(fs, FieldError{Field: "text", Message: "must not be empty"})
	} else if !storableText(text) {
		fs = append(fs, FieldError{Field: "text", Message: "must be valid UTF-8 without NUL characters (save UTF-16 files as UTF-8)"})
	}
	if len(externalID) > 200 || !storableText(externalID) {
		fs = append(fs, FieldError{Field: "external_id", Message: "must be at most 200 characters of valid UTF-8, without NUL"})
	}
	if len(metadata) > MaxMetadataKeys {
		fs = append(fs, FieldError{Field: "metadata", Message: "must have at most 32 keys"})
	}
	for k, v := range metadata {
		if k == "" || len(k)+len(v) > MaxMetadataLength || !storableText(k) || !storableText(v) {
			fs = append(fs, FieldError{Field: "metadata." + k, Message: "keys and values must be valid UTF-8 without NUL, at most 1000 characters together"})
		}
	}
	if len(fs) > 0 {
		return Document{}, Invalid(fs...)
	}
	md := make(map[string]string, len(metadata))
	for k, v := range metadata {
		md[k] = v
	}
	return Document{ID: id, TenantID: tenant, ExternalID: externalID, Title: title, Metadata: md, Bytes: len(text), CreatedAt: now.UTC(), UpdatedAt: now.UTC()}, nil
}

// Chunk is one piece of a document, embedded and indexed.
type Chunk struct {
	DocumentID DocumentID
	Index      int
	Title      string
	Text       string
	Vector     []float32
	// Page is the 1-based page of the source file the chunk lies on; zero when the
	// source has no pages.
	Page int
	// Heading is the nearest heading above the chunk in its source; empty when none.
	Heading string
}

// Passage is a chunk found by a search, with its similarity score.
type Passage struct {
	DocumentID DocumentID
	Title      string
	Chunk      int
	Score      float64
	Text       string
	// Page and Heading locate the chunk in its source file, as in Chunk.
	Page    int
	Heading string
}

// SearchResult is what one vector search found, with the read units the vector store
// charged for it when it reports them (Pinecone does; the embedded index does not).
type SearchResult struct {
	Passages  []Passage
	ReadUnits int
}

// Role of a chat message.
const (
	MessageSystem    = "system"
	MessageUser      = "user"
	MessageAssistant = "assistant"
)

// ChatMessage is one message sent to a chat model.
type ChatMessage struct {
	Role    string
	Content string
}

// ChatParams configure one model call.
type ChatParams struct {
	Model string
	// Temperature is nil when the model's own default applies.
	Temperature *float64
	// MaxTokens bounds the answer when positive.
	MaxTokens int
	// Passages are the retrieved references, also embedded in Messages; offline models
	// that answer from them directly read them here.
	Passages []Passage
}

// Usage counts tokens of one model call.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Delta is one piece of a streamed answer. The final delta of a stream has Done set and
// carries FinishReason, Usage and Model; earlier ones carry Text.
type Delta struct {
	Text         string
	Done         bool
	FinishReason string
	Model        string
	Usage        Usage
	// Sources is set on the first delta of a StreamChat answer only.
	Sources []Passage
	// ConversationID and MessageID are set on the final delta of a StreamChat answer.
	ConversationID ConversationID
	MessageID      MessageID
}

// Message is a stored chat message.
type Message struct {
	ID             MessageID
	ConversationID ConversationID
	Role           string
	Content        string
	Sources        []Passage
	Model          string
	Usage          Usage
	Incomplete     bool
	CreatedAt      time.Time
}

// Conversation is a user's chat thread inside a tenant.
type Conversation struct {
	ID        ConversationID
	TenantID  TenantID
	UserID    UserID
	Title     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MaxConversationTitleLength bounds a conversation title in bytes.
const MaxConversationTitleLength = 200

// ParseConversationTitle validates a title a user gives a conversation: surrounding
// space is dropped, and what is left must be 1-200 bytes of valid UTF-8 without NUL.
func ParseConversationTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if title == "" || len(title) > MaxConversationTitleLength || !storableText(title) {
		return "", Invalid(FieldError{Field: "title", Message: "must be 1-200 characters of valid UTF-8, without NUL"})
	}
	return title, nil
}

// ValidateQuestion checks a chat message from a user.
func ValidateQuestion(msg string) error {
	if strings.TrimSpace(msg) == "" {
		return Invalid(FieldError{Field: "message", Message: "must not be empty"})
	}
	if len(msg) > MaxMessageLength || !storableText(msg) {
		return Invalid(FieldError{Field: "message", Message: "must be valid UTF-8 of at most 32000 bytes, without NUL"})
	}
	return nil
}

// Page selects a slice of a list. Limit is clamped to 1..100 by Normalize.
type Page struct {
	Limit  int
	Offset int
}

// Normalize clamps the page to sane bounds.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = 20
	}
	if p.Limit > 100 {
		p.Limit = 100
	}
	if p.Offset < 0 {
		p.Offset = 0
	}
	return p
}

// Token estimate for answers whose vendor reported no usage and whose model has no
// known tokenizer (ports.TokenCounter counts OpenAI's models exactly): about four bytes of text
// per token (OpenAI's rule of thumb for English; other scripts take more tokens per
// byte, so this errs low there), plus a few tokens of framing per chat message.
const (
	bytesPerToken      = 4
	tokensPerMessage   = 4
	tokensPerChatReply = 3
)

// EstimateTokens is the estimated token count of text, rounded up.
func EstimateTokens(text string) int { return (len(text) + bytesPerToken - 1) / bytesPerToken }

// EstimatePromptTokens is the estimated token count of a chat prompt whose message
// texts count tokens each (EstimateTokens when count is nil), plus the framing OpenAI
// documents for chat messages.
func EstimatePromptTokens(msgs []ChatMessage, count func(string) int) int {
	if count == nil {
		count = EstimateTokens
	}
	n := tokensPerChatReply
	for _, m := range msgs {
		n += tokensPerMessage + count(m.Content)
	}
	return n
}
