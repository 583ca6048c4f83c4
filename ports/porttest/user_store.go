package porttest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

func normUser(u domain.User) domain.User {
	u.CreatedAt = utc(u.CreatedAt)
	u.UpdatedAt = utc(u.UpdatedAt)
	return u
}

func userEmails(us []domain.User) []domain.Email {
	out := make([]domain.Email, 0, len(us))
	for _, u := range us {
		out = append(out, u.Email)
	}
	return out
}

func userFilter(t domain.TenantID) ports.UserFilter { return ports.UserFilter{TenantID: t} }

func mustEmail(t *testing.T, s string) domain.Email {
	t.Helper()
	e, err := domain.ParseEmail(s)
	require.NoError(t, err)
	return e
}

// UserStore tests a ports.UserStore.
func UserStore(t *testing.T, newStores NewStores) {
	t.Run("create then get round-trips every field", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		want := domain.User{
			ID:           domain.UserID(newID()),
			Email:        mustEmail(t, "ada@example.com"),
			PasswordHash: "$2b$12$abcdefghijklmnopqrstuv",
			Role:         domain.RoleTenantAdmin,
			TenantID:     "acme",
			Disabled:     true,
			TokenVersion: 7,
			CreatedAt:    at(-time.Hour),
			UpdatedAt:    at(time.Hour),
		}
		require.NoError(t, f.s.Users.Create(f.ctx, want))
		got, err := f.s.Users.Get(f.ctx, want.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(want), normUser(got))
	})

	t.Run("a user without tenant round-trips", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := f.user("", "new@example.com")
		got, err := f.s.Users.Get(f.ctx, want.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(want), normUser(got))
		assert.False(t, got.HasTenant())
	})

	t.Run("create with a taken id is Conflict", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		first := f.user("", "first@example.com")
		dup := first
		dup.Email = mustEmail(t, "second@example.com")
		requireKind(t, domain.KindConflict, f.s.Users.Create(f.ctx, dup))
		got, err := f.s.Users.Get(f.ctx, first.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(first), normUser(got))
	})

	t.Run("create with a taken email is Conflict, whatever its case", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		first := f.user("acme", "Grace.Hopper@Example.com")
		dup, err := domain.NewUser(domain.UserID(newID()), mustEmail(t, "  GRACE.HOPPER@example.COM "), domain.RoleMember, "", "hash", base)
		require.NoError(t, err)
		requireKind(t, domain.KindConflict, f.s.Users.Create(f.ctx, dup))
		_, err = f.s.Users.Get(f.ctx, dup.ID)
		requireKind(t, domain.KindNotFound, err)
		got, err := f.s.Users.GetByEmail(f.ctx, first.Email)
		require.NoError(t, err)
		assert.Equal(t, first.ID, got.ID)
	})

	t.Run("create with an unknown tenant is Invalid", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u, err := domain.NewUser(domain.UserID(newID()), mustEmail(t, "x@example.com"), domain.RoleMember, "ghost", "hash", base)
		require.NoError(t, err)
		requireKind(t, domain.KindInvalid, f.s.Users.Create(f.ctx, u))
		_, err = f.s.Users.Get(f.ctx, u.ID)
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("get unknown id is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.user("", "someone@example.com")
		_, err := f.s.Users.Get(f.ctx, domain.UserID(newID()))
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("get by email finds the normalised address", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		want := f.user("", "Linus@Example.org")
		f.user("", "other@example.org")
		got, err := f.s.Users.GetByEmail(f.ctx, mustEmail(t, " LINUS@example.ORG"))
		require.NoError(t, err)
		assert.Equal(t, normUser(want), normUser(got))
	})

	t.Run("get by unknown email is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.user("", "someone@example.com")
		_, err := f.s.Users.GetByEmail(f.ctx, mustEmail(t, "nobody@example.com"))
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("list orders by email, pages and narrows to a tenant", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		f.tenant("globex")
		f.user("acme", "carol@example.com")
		f.user("globex", "bob@example.com")
		f.user("acme", "alice@example.com")
		f.user("", "dave@example.com")
		f.user("acme", "erin@example.com")

		cases := []struct {
			name   string
			filter ports.UserFilter
			page   domain.Page
			want   []domain.Email
		}{
			{name: "all users", page: domain.Page{Limit: 10}, want: []domain.Email{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"}},
			{name: "all users second page", page: domain.Page{Limit: 2, Offset: 2}, want: []domain.Email{"carol@example.com", "dave@example.com"}},
			{name: "one tenant", filter: userFilter("acme"), page: domain.Page{Limit: 10}, want: []domain.Email{"alice@example.com", "carol@example.com", "erin@example.com"}},
			{name: "one tenant paged", filter: userFilter("acme"), page: domain.Page{Limit: 2, Offset: 1}, want: []domain.Email{"carol@example.com", "erin@example.com"}},
			{name: "the other tenant", filter: userFilter("globex"), page: domain.Page{Limit: 10}, want: []domain.Email{"bob@example.com"}},
			{name: "past the end", filter: userFilter("acme"), page: domain.Page{Limit: 10, Offset: 3}, want: []domain.Email{}},
		}
		for _, tc := range cases {
			got, err := f.s.Users.List(f.ctx, tc.filter, tc.page)
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, userEmails(got), tc.name)
			for _, u := range got {
				if tc.filter.TenantID != "" {
					assert.Equal(t, tc.filter.TenantID, u.TenantID, tc.name)
				}
			}
		}
	})

	userUpdate(t, newStores)
}

func userUpdate(t *testing.T, newStores NewStores) {
	t.Run("update applies fn, stores and returns the result", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("", "pat@example.com")
		other := f.user("", "other@example.com")

		got, err := f.s.Users.Update(f.ctx, u.ID, func(u *domain.User) error {
			u.AssignTo("acme", at(time.Hour))
			u.SetRole(domain.RoleTenantAdmin, at(time.Hour))
			u.SetPassword("new-hash", at(time.Hour))
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, domain.TenantID("acme"), got.TenantID)
		assert.Equal(t, u.TokenVersion+3, got.TokenVersion)

		stored, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(got), normUser(stored))
		assert.Equal(t, "new-hash", stored.PasswordHash)
		assert.Equal(t, domain.RoleTenantAdmin, stored.Role)

		untouched, err := f.s.Users.Get(f.ctx, other.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(other), normUser(untouched), "another user changed")
	})

	t.Run("update error from fn aborts and is returned unchanged", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		boom := errors.New("boom")
		_, err := f.s.Users.Update(f.ctx, u.ID, func(u *domain.User) error {
			u.SetDisabled(true, at(time.Hour))
			return boom
		})
		require.ErrorIs(t, err, boom)
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(u), normUser(got))
	})

	t.Run("update unknown id is NotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		_, err := f.s.Users.Update(f.ctx, domain.UserID(newID()), func(*domain.User) error { return nil })
		requireKind(t, domain.KindNotFound, err)
	})

	t.Run("update assigning an unknown tenant is Invalid and changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		_, err := f.s.Users.Update(f.ctx, u.ID, func(u *domain.User) error {
			u.AssignTo("ghost", at(time.Hour))
			return nil
		})
		requireKind(t, domain.KindInvalid, err)
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(u), normUser(got))
	})

	t.Run("update to a taken email is Conflict and changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.user("", "taken@example.com")
		u := f.user("", "pat@example.com")
		_, err := f.s.Users.Update(f.ctx, u.ID, func(u *domain.User) error {
			u.Email = mustEmail(t, "Taken@Example.com")
			return nil
		})
		requireKind(t, domain.KindConflict, err)
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, normUser(u), normUser(got))
	})

	t.Run("unassigning a tenant leaves the user without tenant", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		f.tenant("acme")
		u := f.user("acme", "pat@example.com")
		_, err := f.s.Users.Update(f.ctx, u.ID, func(u *domain.User) error {
			u.AssignTo("", at(time.Hour))
			return nil
		})
		require.NoError(t, err)
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, got.TenantID)
		listed, err := f.s.Users.List(f.ctx, userFilter("acme"), domain.Page{Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, listed)
	})

	t.Run("concurrent updates are atomic", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, newStores)
		u := f.user("", "pat@example.com")
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := f.s.Users.Update(f.ctx, u.ID, func(u *domain.User) error {
					u.RevokeTokens(at(time.Hour))
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := f.s.Users.Get(f.ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u.TokenVersion+n, got.TokenVersion, "an update was lost")
	})
}
