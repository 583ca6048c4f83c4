package memory

import (
	"context"
	"sort"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// APIKeyStore keeps API keys in a DB; a tenant's deletion removes its keys.
type APIKeyStore struct{ db *DB }

var _ ports.APIKeyStore = (*APIKeyStore)(nil)

func copyAPIKey(k domain.APIKey) domain.APIKey {
	k.ExpiresAt = copyTime(k.ExpiresAt)
	k.LastUsedAt = copyTime(k.LastUsedAt)
	k.RevokedAt = copyTime(k.RevokedAt)
	return k
}

// Create stores k. A taken id or hash is KindConflict; an unknown tenant or user is
// KindInvalid.
func (s *APIKeyStore) Create(ctx context.Context, k domain.APIKey) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	for _, o := range s.db.apiKeys {
		if o.ID == k.ID || o.Hash == k.Hash {
			return conflict("API key")
		}
	}
	if !s.db.tenantExists(k.TenantID) {
		return unknownTenant(k.TenantID)
	}
	if _, ok := s.db.users[k.UserID]; !ok {
		return unknownUser()
	}
	s.db.apiKeys[k.ID] = copyAPIKey(k)
	return nil
}

// GetByHash returns the key with hash; unknown is KindNotFound.
func (s *APIKeyStore) GetByHash(ctx context.Context, hash string) (domain.APIKey, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.APIKey{}, err
	}
	defer s.db.mu.Unlock()
	for _, k := range s.db.apiKeys {
		if k.Hash == hash {
			return copyAPIKey(k), nil
		}
	}
	return domain.APIKey{}, notFound("API key")
}

// List returns t's keys (every key when t is empty), newest first.
func (s *APIKeyStore) List(ctx context.Context, t domain.TenantID, p domain.Page) ([]domain.APIKey, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	var all []domain.APIKey
	for _, k := range s.db.apiKeys {
		if t == "" || k.TenantID == t {
			all = append(all, copyAPIKey(k))
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt)
		}
		return all[i].ID > all[j].ID
	})
	lo, hi := page(p, len(all))
	return all[lo:hi], nil
}

// Revoke marks the key revoked once; another tenant's or an unknown key is KindNotFound.
func (s *APIKeyStore) Revoke(ctx context.Context, t domain.TenantID, id domain.APIKeyID, now time.Time) (domain.APIKey, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.APIKey{}, err
	}
	defer s.db.mu.Unlock()
	k, ok := s.db.apiKeys[id]
	if !ok || t != "" && k.TenantID != t {
		return domain.APIKey{}, notFound("API key")
	}
	if k.RevokedAt == nil {
		k.RevokedAt = copyTime(&now)
		s.db.apiKeys[id] = k
		s.db.record(domain.ChangeAPIKey, string(id))
	}
	return copyAPIKey(k), nil
}

// Touch sets the key's LastUsedAt; an unknown id is ignored.
func (s *APIKeyStore) Touch(ctx context.Context, id domain.APIKeyID, now time.Time) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if k, ok := s.db.apiKeys[id]; ok {
		k.LastUsedAt = copyTime(&now)
		s.db.apiKeys[id] = k
	}
	return nil
}
