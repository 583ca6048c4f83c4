package memory

import (
	"context"
	"sort"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// TenantStore keeps tenants in a DB. A Tenant holds only values, so copying the struct
// is a deep copy; secrets are kept as given (there is nothing at rest to encrypt).
type TenantStore struct{ db *DB }

var _ ports.TenantStore = (*TenantStore)(nil)

// Create stores a new tenant; an existing id is KindConflict.
func (s *TenantStore) Create(ctx context.Context, t domain.Tenant) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	if s.db.tenantExists(t.ID) {
		return conflict("tenant")
	}
	s.db.tenants[t.ID] = t
	s.db.record(domain.ChangeTenant, string(t.ID))
	return nil
}

// Get returns the tenant; an unknown id is KindNotFound.
func (s *TenantStore) Get(ctx context.Context, id domain.TenantID) (domain.Tenant, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.Tenant{}, err
	}
	defer s.db.mu.Unlock()
	t, ok := s.db.tenants[id]
	if !ok {
		return domain.Tenant{}, notFound("tenant")
	}
	return t, nil
}

// List returns tenants ordered by id.
func (s *TenantStore) List(ctx context.Context, p domain.Page) ([]domain.Tenant, error) {
	if err := s.db.lock(ctx); err != nil {
		return nil, err
	}
	defer s.db.mu.Unlock()
	all := make([]domain.Tenant, 0, len(s.db.tenants))
	for _, t := range s.db.tenants {
		all = append(all, t)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	lo, hi := page(p, len(all))
	return append([]domain.Tenant{}, all[lo:hi]...), nil
}

// Update applies fn to a copy of the tenant and stores the result under the same id;
// an error from fn leaves the tenant unchanged and is returned as is.
func (s *TenantStore) Update(ctx context.Context, id domain.TenantID, fn func(*domain.Tenant) error) (domain.Tenant, error) {
	if err := s.db.lock(ctx); err != nil {
		return domain.Tenant{}, err
	}
	defer s.db.mu.Unlock()
	t, ok := s.db.tenants[id]
	if !ok {
		return domain.Tenant{}, notFound("tenant")
	}
	if err := fn(&t); err != nil {
		return domain.Tenant{}, err
	}
	t.ID = id
	s.db.tenants[id] = t
	s.db.record(domain.ChangeTenant, string(id))
	return t, nil
}

// Delete removes the tenant with its documents, chunks, conversations, messages and
// usage; its users are unassigned with their token version raised. Audit entries and
// refresh tokens stay, as in the SQL schema (a refresh fails on the user's new state).
func (s *TenantStore) Delete(ctx context.Context, id domain.TenantID) error {
	if err := s.db.lock(ctx); err != nil {
		return err
	}
	defer s.db.mu.Unlock()
	db := s.db
	if !db.tenantExists(id) {
		return notFound("tenant")
	}
	now := db.now()
	delete(db.tenants, id)
	db.record(domain.ChangeTenantDeleted, string(id))
	for uid, u := range db.users {
		if u.TenantID == id {
			u.LoseTenant(now)
			db.users[uid] = u
		}
	}
	for did, d := range db.documents {
		if d.TenantID == id {
			delete(db.documents, did)
		}
	}
	delete(db.chunks, id)
	delete(db.reindex, id)
	for kid, k := range db.apiKeys {
		if k.TenantID == id {
			delete(db.apiKeys, kid)
		}
	}
	for cid, c := range db.conversations {
		if c.TenantID == id {
			delete(db.conversations, cid)
			delete(db.messages, cid)
		}
	}
	kept := db.usage[:0]
	for _, r := range db.usage {
		if r.TenantID != id {
			kept = append(kept, r)
		}
	}
	clear(db.usage[len(kept):])
	db.usage = kept
	return nil
}
