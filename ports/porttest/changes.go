package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// NewChangeLog returns a fresh backend's stores and a function that opens one more
// ChangeFeed on that backend, as another process sharing the database would.
type NewChangeLog func(t *testing.T) (Stores, func() ports.ChangeFeed)

// ChangeFeed tests a ports.ChangeFeed with the stores that record into its log.
func ChangeFeed(t *testing.T, newLog NewChangeLog) {
	t.Run("every follower hears each recorded write in commit order", func(t *testing.T) {
		t.Parallel()
		stores, open := newLog(t)
		f := &fixture{t: t, ctx: t.Context(), s: stores}
		heardA, heardB := listenTo(t, open()), listenTo(t, open())
		requireHeard(t, heardA, domain.Change{Kind: domain.ChangeAll})
		requireHeard(t, heardB, domain.Change{Kind: domain.ChangeAll})

		f.tenant("acme")
		u := f.user("acme", "ann@acme.test")
		_, err := stores.Users.Update(f.ctx, u.ID, func(u *domain.User) error { u.Disabled = true; return nil })
		require.NoError(t, err)
		_, err = stores.Users.Update(f.ctx, u.ID, func(*domain.User) error { return errors.New("refused") })
		require.Error(t, err)
		_, err = stores.Tenants.Update(f.ctx, "acme", func(tn *domain.Tenant) error { tn.Name = "Acme 2"; return nil })
		require.NoError(t, err)
		d := f.document("acme", "", "Doc", base)
		withChunks := document("acme", "", "Doc with chunks", base)
		f.save(withChunks, chunk(withChunks.ID, 0, "text"))
		require.NoError(t, stores.Documents.Delete(f.ctx, "acme", d.ID))
		requireKind(t, domain.KindNotFound, stores.Documents.Delete(f.ctx, "acme", d.ID))
		require.NoError(t, stores.SigningKeys.Add(f.ctx, signingKey("k1", base)))
		require.NoError(t, stores.SigningKeys.Delete(f.ctx, "k1"))
		tn, err := stores.Tenants.Get(f.ctx, "acme")
		require.NoError(t, err)
		tn.Status = domain.TenantSuspended
		_, err = stores.Tenants.Update(f.ctx, "acme", func(x *domain.Tenant) error { *x = tn; return nil })
		require.NoError(t, err)
		require.NoError(t, stores.Tenants.Delete(f.ctx, "acme"))

		want := []domain.Change{
			{Kind: domain.ChangeTenant, ID: "acme"},
			{Kind: domain.ChangeUser, ID: string(u.ID)},
			{Kind: domain.ChangeTenant, ID: "acme"},
			{Kind: domain.ChangeChunks, ID: "acme"}, // a document saved without chunks
			{Kind: domain.ChangeChunks, ID: "acme"}, // one saved with its chunks
			{Kind: domain.ChangeChunks, ID: "acme"}, // the first deleted; deleting it again records nothing
			{Kind: domain.ChangeSigningKeys},
			{Kind: domain.ChangeSigningKeys},
			{Kind: domain.ChangeTenant, ID: "acme"},
			{Kind: domain.ChangeTenantDeleted, ID: "acme"},
		}
		for _, heard := range []<-chan domain.Change{heardA, heardB} {
			for _, c := range want {
				requireHeard(t, heard, c)
			}
		}
		select {
		case c := <-heardA:
			t.Fatalf("heard %+v, which nobody recorded", c)
		case <-time.After(300 * time.Millisecond):
		}
	})

	t.Run("a follower started later hears only what comes after", func(t *testing.T) {
		t.Parallel()
		stores, open := newLog(t)
		f := &fixture{t: t, ctx: t.Context(), s: stores}
		f.tenant("acme")
		heard := listenTo(t, open())
		requireHeard(t, heard, domain.Change{Kind: domain.ChangeAll})
		f.tenant("globex")
		requireHeard(t, heard, domain.Change{Kind: domain.ChangeTenant, ID: "globex"})
	})

	t.Run("Listen returns nil once its context ends", func(t *testing.T) {
		t.Parallel()
		_, open := newLog(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		started := make(chan struct{}, 1)
		go func() {
			done <- open().Listen(ctx, func(domain.Change) {
				select {
				case started <- struct{}{}:
				default:
				}
			})
		}()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("Listen never reported ChangeAll")
		}
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Listen did not return after its context ended")
		}
	})
}

// listenTo runs f.Listen until the test ends and returns what it hears.
func listenTo(t *testing.T, f ports.ChangeFeed) <-chan domain.Change {
	t.Helper()
	heard := make(chan domain.Change, 256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Listen(ctx, func(c domain.Change) { heard <- c })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return heard
}

func requireHeard(t *testing.T, heard <-chan domain.Change, want domain.Change) {
	t.Helper()
	select {
	case c := <-heard:
		require.Equal(t, want, c)
	case <-time.After(10 * time.Second):
		t.Fatalf("did not hear %+v", want)
	}
}
