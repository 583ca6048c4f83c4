package porttest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ChangeFeed tests a ports.ChangeFeed. newPair returns the feeds of two processes that
// share one backend.
func ChangeFeed(t *testing.T, newPair func(t *testing.T) (a, b ports.ChangeFeed)) {
	t.Run("the other process hears each change in order; the publisher does not", func(t *testing.T) {
		a, b := newPair(t)
		heardA, heardB := listenTo(t, a), listenTo(t, b)
		requireHeard(t, heardA, domain.Change{Kind: domain.ChangeAll})
		requireHeard(t, heardB, domain.Change{Kind: domain.ChangeAll})

		require.NoError(t, a.Publish(t.Context(), domain.Change{Kind: domain.ChangeUser, ID: "u-1"}))
		require.NoError(t, a.Publish(t.Context(), domain.Change{Kind: domain.ChangeChunks, ID: "acme"}))
		requireHeard(t, heardB, domain.Change{Kind: domain.ChangeUser, ID: "u-1"})
		requireHeard(t, heardB, domain.Change{Kind: domain.ChangeChunks, ID: "acme"})

		require.NoError(t, b.Publish(t.Context(), domain.Change{Kind: domain.ChangeTenantDeleted, ID: "globex"}))
		requireHeard(t, heardA, domain.Change{Kind: domain.ChangeTenantDeleted, ID: "globex"})
		select {
		case c := <-heardA:
			t.Fatalf("a heard %+v, which it published itself or nobody did", c)
		case c := <-heardB:
			t.Fatalf("b heard %+v, which it published itself or nobody did", c)
		case <-time.After(200 * time.Millisecond):
		}
	})

	t.Run("publishing with nobody listening is no error", func(t *testing.T) {
		a, _ := newPair(t)
		assert.NoError(t, a.Publish(t.Context(), domain.Change{Kind: domain.ChangeTenant, ID: "acme"}))
	})

	t.Run("Listen returns nil once its context ends", func(t *testing.T) {
		a, _ := newPair(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		started := make(chan struct{}, 1)
		go func() {
			done <- a.Listen(ctx, func(domain.Change) {
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
	heard := make(chan domain.Change, 64)
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
