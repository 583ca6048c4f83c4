package ports

import (
	"context"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// DocumentStore keeps document records of each tenant. Every method is tenant-scoped:
// another tenant's document is KindNotFound and never listed.
type DocumentStore interface {
	// Save stores d and its chunks (title, text and, when set, vector) in one
	// transaction: after a failure or a crash either both exist or neither does. When
	// d.ExternalID is set and the tenant already has a document with it, that document
	// and its chunks are removed in the same transaction and its id is returned as
	// replaced (empty otherwise). Every chunk must belong to d.
	Save(ctx context.Context, d domain.Document, chunks []domain.Chunk) (replaced domain.DocumentID, err error)
	// Get returns the document. Unknown or another tenant's id is KindNotFound.
	Get(ctx context.Context, t domain.TenantID, id domain.DocumentID) (domain.Document, error)
	// List returns the tenant's documents, newest first.
	List(ctx context.Context, t domain.TenantID, page domain.Page) ([]domain.Document, error)
	// Delete removes the document and its chunks in one transaction. Unknown or
	// another tenant's id is KindNotFound.
	Delete(ctx context.Context, t domain.TenantID, id domain.DocumentID) error
	// Existing returns which of ids are documents of tenant t, as a set of the ones
	// that are: unknown ids and another tenant's ids are absent, never an error. It
	// reads the committed records, so every process sees the same answer. ids may repeat
	// and be any number.
	Existing(ctx context.Context, t domain.TenantID, ids []domain.DocumentID) (map[domain.DocumentID]bool, error)
}

// ConversationStore keeps conversations and their messages, scoped by tenant and user:
// another user's or tenant's conversation is KindNotFound and never listed.
type ConversationStore interface {
	// Create stores a new conversation. An existing id is KindConflict.
	Create(ctx context.Context, c domain.Conversation) error
	// Get returns the conversation if it belongs to tenant t and user u.
	Get(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID) (domain.Conversation, error)
	// List returns the user's conversations in tenant t, most recently updated first.
	List(ctx context.Context, t domain.TenantID, u domain.UserID, page domain.Page) ([]domain.Conversation, error)
	// Append adds messages to conversation id of tenant t in order and touches its
	// UpdatedAt. Unknown or another tenant's conversation is KindNotFound.
	Append(ctx context.Context, t domain.TenantID, id domain.ConversationID, msgs ...domain.Message) error
	// Messages returns up to the last limit messages of the conversation, oldest first.
	Messages(ctx context.Context, t domain.TenantID, id domain.ConversationID, limit int) ([]domain.Message, error)
}

// ConversationEditor changes and removes a user's own conversations, with the scoping of
// ConversationStore: another user's or tenant's conversation is KindNotFound. It is a
// port of its own because the chat never calls it.
type ConversationEditor interface {
	// Rename sets the conversation's title and returns it. UpdatedAt does not move, so
	// a rename leaves the list order as it was.
	Rename(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID, title string) (domain.Conversation, error)
	// Delete removes the conversation with its messages. Deleting it again, or
	// deleting an unknown one, is KindNotFound.
	Delete(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID) error
}

// UsageStore records token usage.
type UsageStore interface {
	// Record adds one usage record.
	Record(ctx context.Context, r domain.UsageRecord) error
	// Totals sums tenant t's usage since the given instant.
	Totals(ctx context.Context, t domain.TenantID, since time.Time) (domain.UsageTotals, error)
	// AllTotals sums every tenant's usage since the given instant, ordered by tenant.
	AllTotals(ctx context.Context, since time.Time) ([]domain.UsageTotals, error)
}

// AuditLog records administrative writes.
type AuditLog interface {
	// Append records e.
	Append(ctx context.Context, e domain.AuditEntry) error
	// List returns entries newest first; a non-empty tenant narrows to that tenant.
	List(ctx context.Context, t domain.TenantID, page domain.Page) ([]domain.AuditEntry, error)
}

// TokenCounter counts the tokens of text the way a chat model's vendor bills them. It
// serves answers whose vendor reported no usage, so the result is an estimate and is
// recorded as one.
type TokenCounter interface {
	// Tokens returns the token count of text for the model served by provider (one
	// of the domain.LLM* names); never negative, 0 for empty text. A model the counter
	// does not know is counted by domain.EstimateTokens. Safe for concurrent use.
	Tokens(provider, model, text string) int
}
