package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

type conversationRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	TenantID  string    `gorm:"column:tenant_id"`
	UserID    string    `gorm:"column:user_id"`
	Title     string    `gorm:"column:title"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (conversationRow) TableName() string { return "conversations" }

func (r conversationRow) toDomain() domain.Conversation {
	return domain.Conversation{ID: domain.ConversationID(r.ID), TenantID: domain.TenantID(r.TenantID), UserID: domain.UserID(r.UserID),
		Title: r.Title, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type messageRow struct {
	ID               string    `gorm:"column:id;primaryKey"`
	TenantID         string    `gorm:"column:tenant_id"`
	ConversationID   string    `gorm:"column:conversation_id"`
	Seq              int       `gorm:"column:seq"`
	Role             string    `gorm:"column:role"`
	Content          string    `gorm:"column:content"`
	Sources          string    `gorm:"column:sources"`
	Model            string    `gorm:"column:model"`
	PromptTokens     int       `gorm:"column:prompt_tokens"`
	CompletionTokens int       `gorm:"column:completion_tokens"`
	Incomplete       bool      `gorm:"column:incomplete"`
	CreatedAt        time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (messageRow) TableName() string { return "messages" }

// sourceJSON is the stored form of one cited passage.
type sourceJSON struct {
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title"`
	Chunk      int     `json:"chunk"`
	Score      float64 `json:"score"`
	Text       string  `json:"text"`
	Page       int     `json:"page,omitempty"`
	Heading    string  `json:"heading,omitempty"`
}

func encodeSources(ps []domain.Passage) (string, error) {
	out := make([]sourceJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, sourceJSON{DocumentID: string(p.DocumentID), Title: p.Title, Chunk: p.Chunk, Score: p.Score, Text: p.Text,
			Page: p.Page, Heading: p.Heading})
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeSources(s string) ([]domain.Passage, error) {
	var in []sourceJSON
	if s == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]domain.Passage, 0, len(in))
	for _, p := range in {
		out = append(out, domain.Passage{DocumentID: domain.DocumentID(p.DocumentID), Title: p.Title, Chunk: p.Chunk, Score: p.Score, Text: p.Text,
			Page: p.Page, Heading: p.Heading})
	}
	return out, nil
}

func (r messageRow) toDomain() (domain.Message, error) {
	src, err := decodeSources(r.Sources)
	if err != nil {
		return domain.Message{}, domain.E(domain.KindInternal, "storage_error", "", fmt.Errorf("decode sources of message %s: %w", r.ID, err))
	}
	return domain.Message{ID: domain.MessageID(r.ID), ConversationID: domain.ConversationID(r.ConversationID), Role: r.Role,
		Content: r.Content, Sources: src, Model: r.Model,
		Usage:      domain.Usage{PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens},
		Incomplete: r.Incomplete, CreatedAt: r.CreatedAt.UTC()}, nil
}

// ConversationStore keeps conversations and messages; every query is scoped by tenant,
// and conversation reads also by user.
type ConversationStore struct {
	db *gorm.DB
}

var _ ports.ConversationStore = (*ConversationStore)(nil)

// NewConversationStore returns a ConversationStore on db.
func NewConversationStore(db *gorm.DB) *ConversationStore { return &ConversationStore{db: db} }

// Create stores a new conversation. An existing id is KindConflict; an unknown tenant
// or user KindInvalid.
func (s *ConversationStore) Create(ctx context.Context, c domain.Conversation) error {
	r := conversationRow{ID: string(c.ID), TenantID: string(c.TenantID), UserID: string(c.UserID), Title: c.Title,
		CreatedAt: dbTime(c.CreatedAt), UpdatedAt: dbTime(c.UpdatedAt)}
	return translate(s.db.WithContext(ctx).Create(&r).Error, "create conversation "+string(c.ID))
}

// Get returns the conversation if it belongs to tenant t and user u; otherwise
// KindNotFound.
func (s *ConversationStore) Get(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID) (domain.Conversation, error) {
	var r conversationRow
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND user_id = ? AND id = ?", string(t), string(u), string(id)).Take(&r).Error
	if err != nil {
		return domain.Conversation{}, translate(err, "load conversation "+string(id))
	}
	return r.toDomain(), nil
}

// List returns the user's conversations in tenant t, most recently updated first.
func (s *ConversationStore) List(ctx context.Context, t domain.TenantID, u domain.UserID, page domain.Page) ([]domain.Conversation, error) {
	page = page.Normalize()
	var rows []conversationRow
	if err := s.db.WithContext(ctx).Where("tenant_id = ? AND user_id = ?", string(t), string(u)).
		Order("updated_at DESC").Order("id DESC").Limit(page.Limit).Offset(page.Offset).Find(&rows).Error; err != nil {
		return nil, translate(err, "list conversations")
	}
	out := make([]domain.Conversation, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toDomain())
	}
	return out, nil
}

// Append adds msgs to conversation id of tenant t, in order after the existing ones,
// and moves the conversation's UpdatedAt to the newest message's time when that is
// later. The conversation row is locked first, so concurrent appends queue.
// Unknown or another tenant's conversation is KindNotFound and nothing is added.
func (s *ConversationStore) Append(ctx context.Context, t domain.TenantID, id domain.ConversationID, msgs ...domain.Message) error {
	rows := make([]messageRow, 0, len(msgs))
	for _, m := range msgs {
		src, err := encodeSources(m.Sources)
		if err != nil {
			return fmt.Errorf("encode sources: %w", err)
		}
		rows = append(rows, messageRow{ID: string(m.ID), TenantID: string(t), ConversationID: string(id), Role: m.Role,
			Content: m.Content, Sources: src, Model: m.Model, PromptTokens: m.Usage.PromptTokens,
			CompletionTokens: m.Usage.CompletionTokens, Incomplete: m.Incomplete, CreatedAt: dbTime(m.CreatedAt)})
	}
	return transact(ctx, s.db, "append to conversation "+string(id), func(tx *gorm.DB) error {
		var c conversationRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ? AND id = ?", string(t), string(id)).Take(&c).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		var last int
		if err := tx.Model(&messageRow{}).Where("tenant_id = ? AND conversation_id = ?", string(t), string(id)).
			Select("COALESCE(MAX(seq), 0)").Scan(&last).Error; err != nil {
			return err
		}
		updated := c.UpdatedAt.UTC()
		for i := range rows {
			rows[i].Seq = last + i + 1
			if rows[i].CreatedAt.After(updated) {
				updated = rows[i].CreatedAt
			}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		return tx.Model(&conversationRow{}).Where("tenant_id = ? AND id = ?", string(t), string(id)).Update("updated_at", dbTime(updated)).Error
	})
}

// Messages returns up to the last limit messages of the conversation, oldest first
// (limit <= 0: all). Unknown or another tenant's conversation is KindNotFound.
func (s *ConversationStore) Messages(ctx context.Context, t domain.TenantID, id domain.ConversationID, limit int) ([]domain.Message, error) {
	var n int64
	db := s.db.WithContext(ctx)
	if err := db.Model(&conversationRow{}).Where("tenant_id = ? AND id = ?", string(t), string(id)).Count(&n).Error; err != nil {
		return nil, translate(err, "load conversation "+string(id))
	}
	if n == 0 {
		return nil, domain.ErrNotFound.WithDetail("conversation %s does not exist", id)
	}
	q := db.Where("tenant_id = ? AND conversation_id = ?", string(t), string(id)).Order("seq DESC")
	if limit > 0 {
		q = q.Limit(limit)
	}
	var rows []messageRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate(err, "load messages of conversation "+string(id))
	}
	slices.Reverse(rows)
	out := make([]domain.Message, 0, len(rows))
	for _, r := range rows {
		m, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

var _ ports.ConversationEditor = (*ConversationStore)(nil)

// Rename sets the title of the user's conversation, leaving updated_at. Unknown,
// another user's or another tenant's conversation is KindNotFound.
func (s *ConversationStore) Rename(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID, title string) (domain.Conversation, error) {
	var r conversationRow
	err := transact(ctx, s.db, "rename conversation "+string(id), func(tx *gorm.DB) error {
		res := tx.Model(&conversationRow{}).Where("tenant_id = ? AND user_id = ? AND id = ?", string(t), string(u), string(id)).
			Update("title", title)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return tx.Where("tenant_id = ? AND id = ?", string(t), string(id)).Take(&r).Error
	})
	if err != nil {
		return domain.Conversation{}, err
	}
	return r.toDomain(), nil
}

// Delete removes the user's conversation and its messages in one transaction.
// Unknown, another user's or another tenant's conversation is KindNotFound.
func (s *ConversationStore) Delete(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID) error {
	return transact(ctx, s.db, "delete conversation "+string(id), func(tx *gorm.DB) error {
		var c conversationRow
		if err := tx.Where("tenant_id = ? AND user_id = ? AND id = ?", string(t), string(u), string(id)).Take(&c).Error; err != nil {
			return err
		}
		if err := tx.Where("tenant_id = ? AND conversation_id = ?", string(t), string(id)).Delete(&messageRow{}).Error; err != nil {
			return err
		}
		return tx.Where("tenant_id = ? AND id = ?", string(t), string(id)).Delete(&conversationRow{}).Error
	})
}
