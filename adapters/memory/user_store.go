package memory

import (
	"context"
	"sort"
	"strings"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// UserStore keeps users in a DB. Emails are unique case-insensitively.
type UserStore struct{ db *DB }

var _ ports.UserStore = (*UserStore)(nil)

func emailKey(e domain.Email) string { return strings.ToLower(string(e)) }

// emailTaken reports whether another user than self holds e; callers hold the mutex.
func (db *DB) emailTaken(e domain.Email, self domain.UserID) bool {
	for id, u := range db.users {
		if id != self && emailKey(u.Email) == emailKey(e) {
			return true
		}
	}
	return false
}

// Create stores a new user. A taken email or id is KindConflict; an unknown tenant is
// KindInvalid.
func (s *UserStore) Create(ctx context.Context, u domain.User) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if _, ok := s.db.users[u.ID]; ok {
		return conflict("user")
	}
	if s.db.emailTaken(u.Email, u.ID) {
		return domain.ErrConflict.WithDetail("the email is already taken")
	}
	if u.TenantID != "" && !s.db.tenantExists(u.TenantID) {
		return unknownTenant(u.TenantID)
	}
	s.db.users[u.ID] = u
	return nil
}

// Get returns the user; an unknown id is KindNotFound.
func (s *UserStore) Get(ctx context.Context, id domain.UserID) (domain.User, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.User{}, err
	}
	defer s.db.mu.Unlock()
	u, ok := s.db.users[id]
	if !ok {
		return domain.User{}, notFound("user")
	}
	return u, nil
}

// GetByEmail returns the user with that email; an unknown email is KindNotFound.
func (s *UserStore) GetByEmail(ctx context.Context, email domain.Email) (domain.User, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.User{}, err
	}
	defer s.db.mu.Unlock()
	for _, u := range s.db.users {
		if emailKey(u.Email) == emailKey(email) {
			return u, nil
		}
	}
	return domain.User{}, notFound("user")
}

// List returns users ordered by email, narrowed to f.TenantID when set.
func (s *UserStore) List(ctx context.Context, f ports.UserFilter, p domain.Page) ([]domain.User, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	var all []domain.User
	for _, u := range s.db.users {
		if f.TenantID == "" || u.TenantID == f.TenantID {
			all = append(all, u)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Email < all[j].Email })
	lo, hi := page(p, len(all))
	return append([]domain.User{}, all[lo:hi]...), nil
}

// Update applies fn to a copy of the user and stores the result under the same id. An
// unknown id is KindNotFound, an unknown tenant KindInvalid, a taken email KindConflict;
// an error from fn is returned as is. On any error nothing changes.
func (s *UserStore) Update(ctx context.Context, id domain.UserID, fn func(*domain.User) error) (domain.User, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.User{}, err
	}
	defer s.db.mu.Unlock()
	u, ok := s.db.users[id]
	if !ok {
		return domain.User{}, notFound("user")
	}
	if err := fn(&u); err != nil {
		return domain.User{}, err
	}
	u.ID = id
	if u.TenantID != "" && !s.db.tenantExists(u.TenantID) {
		return domain.User{}, unknownTenant(u.TenantID)
	}
	if s.db.emailTaken(u.Email, id) {
		return domain.User{}, domain.ErrConflict.WithDetail("the email is already taken")
	}
	s.db.users[id] = u
	s.db.record(domain.ChangeUser, string(id))
	return u, nil
}
