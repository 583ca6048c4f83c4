package memory

import (
	"context"
	"sort"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// SigningKeyStore keeps signing keys in a DB.
type SigningKeyStore struct{ db *DB }

var _ ports.SigningKeyStore = (*SigningKeyStore)(nil)

func copyKey(k domain.SigningKey) domain.SigningKey {
	k.Private = copyBytes(k.Private)
	k.Public = copyBytes(k.Public)
	k.RetiredAt = copyTime(k.RetiredAt)
	return k
}

// List returns every key, newest first.
func (s *SigningKeyStore) List(ctx context.Context) ([]domain.SigningKey, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	out := make([]domain.SigningKey, 0, len(s.db.keys))
	for _, k := range s.db.keys {
		out = append(out, copyKey(k))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].KID > out[j].KID
	})
	return out, nil
}

// Add stores k and retires every other active key at k.CreatedAt. An existing KID is
// KindConflict and changes nothing.
func (s *SigningKeyStore) Add(ctx context.Context, k domain.SigningKey) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if _, ok := s.db.keys[k.KID]; ok {
		return conflict("signing key")
	}
	for kid, old := range s.db.keys {
		if old.Active() {
			old.RetiredAt = copyTime(&k.CreatedAt)
			s.db.keys[kid] = old
		}
	}
	s.db.keys[k.KID] = copyKey(k)
	s.db.record(domain.ChangeSigningKeys, "")
	return nil
}

// Delete removes a key; an unknown KID is KindNotFound.
func (s *SigningKeyStore) Delete(ctx context.Context, kid string) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if _, ok := s.db.keys[kid]; !ok {
		return notFound("signing key")
	}
	delete(s.db.keys, kid)
	s.db.record(domain.ChangeSigningKeys, "")
	return nil
}

// RefreshTokenStore keeps refresh tokens by hash in a DB.
type RefreshTokenStore struct{ db *DB }

var _ ports.RefreshTokenStore = (*RefreshTokenStore)(nil)

func copyRefresh(r domain.RefreshToken) domain.RefreshToken {
	r.UsedAt = copyTime(r.UsedAt)
	r.RevokedAt = copyTime(r.RevokedAt)
	return r
}

// Create stores a new token. An existing hash is KindConflict; an unknown user is
// KindInvalid.
func (s *RefreshTokenStore) Create(ctx context.Context, r domain.RefreshToken) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if _, ok := s.db.refresh[r.Hash]; ok {
		return conflict("refresh token")
	}
	if _, ok := s.db.users[r.UserID]; !ok {
		return unknownUser()
	}
	s.db.pruneRefresh(r.CreatedAt)
	s.db.refresh[r.Hash] = copyRefresh(r)
	return nil
}

// refreshRetention is how long an expired refresh token is kept: long enough that a
// replay soon after expiry still finds it used and revokes its family.
const refreshRetention = 7 * 24 * time.Hour

// pruneRefresh forgets tokens expired for longer than refreshRetention at now, at most
// once an hour, so that the map does not grow without bound; callers hold the mutex.
func (db *DB) pruneRefresh(now time.Time) {
	if now.Before(db.nextPrune) {
		return
	}
	db.nextPrune = now.Add(time.Hour)
	for h, r := range db.refresh {
		if r.ExpiresAt.Add(refreshRetention).Before(now) {
			delete(db.refresh, h)
		}
	}
}

// Rotate marks the token used at now, stores next as its successor in the same family
// and returns the used token as it was. Unknown, expired, revoked and used tokens fail
// with domain.ErrInvalidRefreshToken; a used one also revokes its family. The mutex
// makes Rotate and the revocations serial, so a revocation always finds the successor.
func (s *RefreshTokenStore) Rotate(ctx context.Context, hash string, next domain.RefreshToken, now time.Time) (domain.RefreshToken, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.RefreshToken{}, err
	}
	defer s.db.mu.Unlock()
	r, ok := s.db.refresh[hash]
	if !ok {
		return domain.RefreshToken{}, domain.ErrInvalidRefreshToken
	}
	if r.UsedAt != nil {
		s.db.revokeFamily(r.FamilyID, now)
		return domain.RefreshToken{}, domain.ErrInvalidRefreshToken
	}
	if err := r.Usable(now); err != nil {
		return domain.RefreshToken{}, err
	}
	if _, dup := s.db.refresh[next.Hash]; dup {
		return domain.RefreshToken{}, domain.ErrConflict
	}
	was := copyRefresh(r)
	r.UsedAt = copyTime(&now)
	s.db.refresh[hash] = r
	next.FamilyID, next.UserID, next.TenantID, next.UsedAt, next.RevokedAt = r.FamilyID, r.UserID, r.TenantID, nil, nil
	s.db.refresh[next.Hash] = copyRefresh(next)
	return was, nil
}

// RevokeFamily revokes every token of the family holding hash; unknown hash is no error.
func (s *RefreshTokenStore) RevokeFamily(ctx context.Context, hash string, now time.Time) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if r, ok := s.db.refresh[hash]; ok {
		s.db.revokeFamily(r.FamilyID, now)
	}
	return nil
}

// RevokeUser revokes every token of the user.
func (s *RefreshTokenStore) RevokeUser(ctx context.Context, id domain.UserID, now time.Time) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	for h, r := range s.db.refresh {
		if r.UserID == id && r.RevokedAt == nil {
			r.RevokedAt = copyTime(&now)
			s.db.refresh[h] = r
		}
	}
	return nil
}

// revokeFamily revokes the family's unrevoked tokens; callers hold the mutex.
func (db *DB) revokeFamily(family string, now time.Time) {
	for h, r := range db.refresh {
		if r.FamilyID == family && r.RevokedAt == nil {
			r.RevokedAt = copyTime(&now)
			db.refresh[h] = r
		}
	}
}
