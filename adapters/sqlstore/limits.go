package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// The limiters below share their counts through PostgreSQL, so that every node of a
// deployment enforces one budget. They use PostgreSQL-only SQL (GREATEST, advisory
// locks, now()); the embedded default keeps the in-memory limiters of adapters/memory.

// RateLimiter is a ports.RateLimiter on PostgreSQL: the generic cell rate algorithm
// (as memory.RateLimiter) with each key's theoretical arrival time in one row, taken
// and advanced by a single INSERT … ON CONFLICT … DO UPDATE … RETURNING.
type RateLimiter struct{ db *gorm.DB }

var _ ports.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a RateLimiter on the PostgreSQL pool db.
func NewRateLimiter(db *gorm.DB) *RateLimiter { return &RateLimiter{db: db} }

// Allow implements ports.RateLimiter. perMinute 0 (or less) is unlimited and touches no
// row. A database failure is KindUnavailable.
func (l *RateLimiter) Allow(ctx context.Context, key string, perMinute int, now time.Time) (ports.RateStatus, error) {
	if perMinute <= 0 {
		return ports.RateStatus{}, nil
	}
	interval := max(time.Minute/time.Duration(perMinute), 1)
	burst := interval * time.Duration(perMinute)
	ns, iv, b := now.UnixNano(), int64(interval), int64(burst)
	ctx, cancel := txContext(ctx, l.db)
	defer cancel()
	for range 3 {
		var taken []int64
		err := l.db.WithContext(ctx).Raw(`INSERT INTO rate_limits AS r (key, tat) VALUES (?, ?::bigint + ?::bigint)
			ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, ?::bigint) + ?::bigint
			WHERE GREATEST(r.tat, ?::bigint) + ?::bigint - ?::bigint <= ?::bigint
			RETURNING tat`, key, ns, iv, ns, iv, ns, iv, ns, b).Scan(&taken).Error
		if err != nil {
			return ports.RateStatus{}, translate(err, "take from rate limit")
		}
		if len(taken) > 0 {
			return rateStatus(perMinute, iv, b, taken[0]-ns, 0), nil
		}
		var tat []int64
		if err := l.db.WithContext(ctx).Raw("SELECT tat FROM rate_limits WHERE key = ?", key).Scan(&tat).Error; err != nil {
			return ports.RateStatus{}, translate(err, "read rate limit")
		}
		if len(tat) > 0 {
			if ahead := max(tat[0], ns) - ns; ahead+iv-b > 0 {
				return rateStatus(perMinute, iv, b, ahead, ahead+iv-b), nil
			}
		}
		// The bucket refilled (or was pruned) between the two statements: try again.
	}
	return ports.RateStatus{}, domain.ErrUnavailable.WithDetail("the rate limit is contended; retry")
}

// rateStatus states a bucket whose theoretical arrival time is ahead nanoseconds after
// now: that is how long until it is full again, and each interval left of the burst
// is one request.
func rateStatus(perMinute int, interval, burst, ahead, wait int64) ports.RateStatus {
	remaining := min(max(int((burst-ahead)/interval), 0), perMinute)
	return ports.RateStatus{Wait: time.Duration(wait), Limit: perMinute, Remaining: remaining, Reset: time.Duration(max(ahead, 0))}
}

// Prune removes the keys whose budget is full again at now.
func (l *RateLimiter) Prune(ctx context.Context, now time.Time) error {
	return translate(l.db.WithContext(ctx).Exec("DELETE FROM rate_limits WHERE tat < ?", now.UnixNano()).Error, "prune rate limits")
}

// StreamSlots is a ports.StreamSlots on PostgreSQL: each taken slot is a lease row that
// lapses its TTL after its last renewal. Run renews the leases this process holds, so
// a crashed node's slots come free within the TTL. Acquire counts and takes under a
// transaction-level advisory lock of the key; times are the database server's.
type StreamSlots struct {
	db  *gorm.DB
	ttl time.Duration

	mu   sync.Mutex
	held map[string]string // lease id -> key
}

var _ ports.StreamSlots = (*StreamSlots)(nil)

// DefaultLeaseTTL is how long a stream lease outlives its last renewal unless
// NewStreamSlots is told otherwise.
const DefaultLeaseTTL = 30 * time.Second

// NewStreamSlots returns StreamSlots on the PostgreSQL pool db whose leases outlive
// their last renewal by ttl (DefaultLeaseTTL when ttl is not positive); start Run
// beside it, which renews every third of ttl.
func NewStreamSlots(db *gorm.DB, ttl time.Duration) *StreamSlots {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	return &StreamSlots{db: db, ttl: ttl, held: map[string]string{}}
}

// Acquire implements ports.StreamSlots. max 0 (or less) is unlimited and touches no
// row. A database failure is KindUnavailable. release deletes the lease without the
// caller's context (it runs when the stream ends, whatever ended it).
func (s *StreamSlots) Acquire(ctx context.Context, key string, max int) (func(), error) {
	if max <= 0 {
		return func() {}, nil
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	id := hex.EncodeToString(b[:])
	err := transact(ctx, s.db, "take stream slot", func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "stream_leases/"+key).Error; err != nil {
			return err
		}
		var n int64
		if err := tx.Raw("SELECT COUNT(*) FROM stream_leases WHERE key = ? AND expires_at > now()", key).Scan(&n).Error; err != nil {
			return err
		}
		if n >= int64(max) {
			return passThrough{domain.ErrTooManyStreams}
		}
		return tx.Exec("INSERT INTO stream_leases (key, id, expires_at) VALUES (?, ?, now() + ?::bigint * interval '1 millisecond')",
			key, id, s.ttl.Milliseconds()).Error
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.held[id] = key
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { s.release(key, id) }) }, nil
}

func (s *StreamSlots) release(key, id string) {
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A failure leaves the lease to lapse after the TTL.
	_ = s.db.WithContext(ctx).Exec("DELETE FROM stream_leases WHERE key = ? AND id = ?", key, id).Error
}

// Run renews the held leases every third of the TTL and removes lapsed ones, until ctx
// ends.
func (s *StreamSlots) Run(ctx context.Context) {
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		ids := make([]string, 0, len(s.held))
		for id := range s.held {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, s.ttl/3)
		if len(ids) > 0 {
			_ = s.db.WithContext(rctx).Exec("UPDATE stream_leases SET expires_at = now() + ?::bigint * interval '1 millisecond' WHERE id IN ?",
				s.ttl.Milliseconds(), ids).Error
		}
		_ = s.db.WithContext(rctx).Exec("DELETE FROM stream_leases WHERE expires_at < now()").Error
		cancel()
	}
}

// AttemptLimiter is a ports.AttemptLimiter on PostgreSQL with the sliding window of
// memory.AttemptLimiter: one row per failure, at most max kept per key.
type AttemptLimiter struct {
	db     *gorm.DB
	max    int
	window time.Duration
}

var _ ports.AttemptLimiter = (*AttemptLimiter)(nil)

// NewAttemptLimiter returns a limiter on the PostgreSQL pool db that blocks a key after
// limit failures within window. A limit below 1 is treated as 1.
func NewAttemptLimiter(db *gorm.DB, limit int, window time.Duration) *AttemptLimiter {
	return &AttemptLimiter{db: db, max: max(1, limit), window: window}
}

// Blocked implements ports.AttemptLimiter.
func (l *AttemptLimiter) Blocked(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	var at []time.Time
	err := l.db.WithContext(ctx).Raw("SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?",
		key, dbTime(now.Add(-l.window)), l.max-1).Scan(&at).Error
	if err != nil {
		return 0, translate(err, "read login failures")
	}
	if len(at) == 0 {
		return 0, nil
	}
	return max(at[0].Add(l.window).Sub(now), 0), nil
}

// Fail implements ports.AttemptLimiter.
func (l *AttemptLimiter) Fail(ctx context.Context, key string, now time.Time) (int, error) {
	var n int64
	err := transact(ctx, l.db, "record login failure", func(tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO login_failures (key, at) VALUES (?, ?)", key, dbTime(now)).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM login_failures WHERE key = ? AND (at <= ? OR id NOT IN
			(SELECT id FROM login_failures WHERE key = ? ORDER BY at DESC, id DESC LIMIT ?))`,
			key, dbTime(now.Add(-l.window)), key, l.max).Error; err != nil {
			return err
		}
		return tx.Raw("SELECT count(*) FROM login_failures WHERE key = ?", key).Scan(&n).Error
	})
	return int(n), err
}

// Reset implements ports.AttemptLimiter.
func (l *AttemptLimiter) Reset(ctx context.Context, key string) error {
	return translate(l.db.WithContext(ctx).Exec("DELETE FROM login_failures WHERE key = ?", key).Error, "reset login failures")
}

// Prune removes the failures that left the window at now, of every key.
func (l *AttemptLimiter) Prune(ctx context.Context, now time.Time) error {
	return translate(l.db.WithContext(ctx).Exec("DELETE FROM login_failures WHERE at <= ?", dbTime(now.Add(-l.window))).Error, "prune login failures")
}
