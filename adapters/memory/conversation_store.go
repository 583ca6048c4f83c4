package memory

import (
	"context"
	"sort"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ConversationStore keeps conversations and their messages in a DB, scoped by tenant
// and user.
type ConversationStore struct{ db *DB }

var _ ports.ConversationStore = (*ConversationStore)(nil)

func copyMessage(m domain.Message) domain.Message {
	if m.Sources != nil {
		m.Sources = append([]domain.Passage{}, m.Sources...)
	}
	return m
}

// Create stores a new conversation. An existing id is KindConflict; an unknown tenant
// or user is KindInvalid.
func (s *ConversationStore) Create(ctx context.Context, c domain.Conversation) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if _, ok := s.db.conversations[c.ID]; ok {
		return conflict("conversation")
	}
	if !s.db.tenantExists(c.TenantID) {
		return unknownTenant(c.TenantID)
	}
	if _, ok := s.db.users[c.UserID]; !ok {
		return unknownUser()
	}
	s.db.conversations[c.ID] = c
	return nil
}

// Get returns the conversation if it belongs to tenant t and user u, else KindNotFound.
func (s *ConversationStore) Get(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID) (domain.Conversation, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.Conversation{}, err
	}
	defer s.db.mu.Unlock()
	return s.ownedLocked(t, u, id)
}

// ownedLocked returns the conversation if it belongs to tenant t and user u, else
// KindNotFound. The caller holds the lock.
func (s *ConversationStore) ownedLocked(t domain.TenantID, u domain.UserID, id domain.ConversationID) (domain.Conversation, error) {
	c, ok := s.db.conversations[id]
	if !ok || c.TenantID != t || c.UserID != u {
		return domain.Conversation{}, notFound("conversation")
	}
	return c, nil
}

// List returns the user's conversations in tenant t, most recently updated first.
func (s *ConversationStore) List(ctx context.Context, t domain.TenantID, u domain.UserID, p domain.Page) ([]domain.Conversation, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	var all []domain.Conversation
	for _, c := range s.db.conversations {
		if c.TenantID == t && c.UserID == u {
			all = append(all, c)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].UpdatedAt.Equal(all[j].UpdatedAt) {
			return all[i].UpdatedAt.After(all[j].UpdatedAt)
		}
		return all[i].ID > all[j].ID
	})
	lo, hi := page(p, len(all))
	return append([]domain.Conversation{}, all[lo:hi]...), nil
}

// Append adds msgs in order and moves UpdatedAt to the newest message's CreatedAt, or
// to the current time when that would not move it forward. Unknown or another tenant's conversation is KindNotFound.
func (s *ConversationStore) Append(ctx context.Context, t domain.TenantID, id domain.ConversationID, msgs ...domain.Message) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	c, ok := s.db.conversations[id]
	if !ok || c.TenantID != t {
		return notFound("conversation")
	}
	var touched time.Time
	for _, m := range msgs {
		m = copyMessage(m)
		m.ConversationID = id
		s.db.messages[id] = append(s.db.messages[id], m)
		if m.CreatedAt.After(touched) {
			touched = m.CreatedAt
		}
	}
	if !touched.After(c.UpdatedAt) {
		touched = s.db.now()
	}
	if touched.After(c.UpdatedAt) {
		c.UpdatedAt = touched
		s.db.conversations[id] = c
	}
	return nil
}

// Messages returns up to the last limit messages, oldest first (all when limit <= 0).
// Unknown or another tenant's conversation is KindNotFound.
func (s *ConversationStore) Messages(ctx context.Context, t domain.TenantID, id domain.ConversationID, limit int) ([]domain.Message, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	c, ok := s.db.conversations[id]
	if !ok || c.TenantID != t {
		return nil, notFound("conversation")
	}
	all := s.db.messages[id]
	if limit > 0 && len(all) > limit {
		all = all[len(all)-limit:]
	}
	out := make([]domain.Message, 0, len(all))
	for _, m := range all {
		out = append(out, copyMessage(m))
	}
	return out, nil
}

var _ ports.ConversationEditor = (*ConversationStore)(nil)

// Rename sets the title of the user's conversation, leaving UpdatedAt. Unknown, another
// user's or another tenant's conversation is KindNotFound.
func (s *ConversationStore) Rename(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID, title string) (domain.Conversation, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.Conversation{}, err
	}
	defer s.db.mu.Unlock()
	c, err := s.ownedLocked(t, u, id)
	if err != nil {
		return domain.Conversation{}, err
	}
	c.Title = title
	s.db.conversations[id] = c
	return c, nil
}

// Delete removes the user's conversation and its messages. Unknown, another user's or
// another tenant's conversation is KindNotFound.
func (s *ConversationStore) Delete(ctx context.Context, t domain.TenantID, u domain.UserID, id domain.ConversationID) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if _, err := s.ownedLocked(t, u, id); err != nil {
		return err
	}
	delete(s.db.conversations, id)
	delete(s.db.messages, id)
	return nil
}
