package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/cache"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/domain"
)

// BenchmarkUsersGetHit is the warm path of every authenticated request: a cached user
// read, alone and from every core at once.
func BenchmarkUsersGetHit(b *testing.B) {
	ctx := context.Background()
	db := memory.NewDB()
	u, err := domain.NewUser("u-1", "ivy@acme.test", domain.RoleMember, "", "", time.Now())
	require.NoError(b, err)
	require.NoError(b, db.Users().Create(ctx, u))
	c := cache.NewUsers(db.Users(), cache.Options{TTL: time.Hour})
	_, err = c.Get(ctx, u.ID)
	require.NoError(b, err)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Get(ctx, u.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
