// Package passwords hashes and verifies user passwords: argon2id in PHC string format
// for new hashes, bcrypt ($2a$, $2b$, $2y$) accepted for imported users and flagged for
// rehashing. It implements ports.PasswordHasher and imports only domain, ports, the
// standard library and golang.org/x/crypto.
//
// Hashing is deliberately expensive (about 20 ms and 19 MiB per argon2id call), so the
// number of concurrent hashes is capped: a login storm queues briefly and is then told to
// come back later (domain.ErrBusy) instead of starving every other request of CPU.
package passwords

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB uint32 // m
	Time      uint32 // t, iterations
	Threads   uint8  // p, lanes
	SaltLen   uint32 // bytes
	KeyLen    uint32 // bytes
}

// OWASP is the OWASP Password Storage Cheat Sheet's argon2id minimum: m=19 MiB, t=2, p=1.
var OWASP = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Config tunes a Hasher. Zero values take the defaults noted on each field.
type Config struct {
	// Params for new hashes; stored hashes with weaker parameters are flagged for
	// rehashing. Default OWASP.
	Params Params
	// MaxConcurrent caps simultaneous hash computations. Default half the CPUs
	// (runtime.GOMAXPROCS(0)/2, at least 1), so a login storm from many addresses, which
	// the attempt limiter cannot stop, still leaves cores for other requests.
	MaxConcurrent int
	// MaxWait is how long a call waits for a free slot before failing with
	// domain.ErrBusy. Default 2s.
	MaxWait time.Duration
	// RetryAfter is the hint given with domain.ErrBusy. Default 1s.
	RetryAfter time.Duration
}

// Hasher implements ports.PasswordHasher. It is safe for concurrent use.
type Hasher struct {
	params     Params
	slots      chan struct{}
	maxWait    time.Duration
	retryAfter int
	dummySalt  []byte
}

var _ ports.PasswordHasher = (*Hasher)(nil)

// New builds a Hasher from cfg; see Config for the defaults.
func New(cfg Config) *Hasher {
	if cfg.Params == (Params{}) {
		cfg.Params = OWASP
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 2 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	salt := make([]byte, cfg.Params.SaltLen)
	_, _ = rand.Read(salt) // rand.Read never fails on supported platforms
	return &Hasher{
		params:     cfg.Params,
		slots:      make(chan struct{}, cfg.MaxConcurrent),
		maxWait:    cfg.MaxWait,
		retryAfter: max(1, int((cfg.RetryAfter+time.Second-1)/time.Second)),
		dummySalt:  salt,
	}
}

// Hash returns an argon2id PHC string for password. Busy is KindUnavailable.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", domain.E(domain.KindInternal, "random_failed", "", err)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, h.params.KeyLen)
	return encodePHC(h.params, salt, key), nil
}

// Verify checks password against encoded (argon2id PHC or bcrypt). An empty, unknown or
// malformed encoded value is checked against a dummy argon2id hash of the configured
// cost and reports no match, so that unknown users cost the same as known ones. rehash is
// true after a match whose hash is bcrypt or argon2id weaker than the configured
// parameters. Busy is KindUnavailable.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (match, rehash bool, err error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()

	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		if p, salt, want, ok := decodePHC(encoded); ok {
			got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
			match = subtle.ConstantTimeCompare(got, want) == 1
			return match, match && h.weaker(p, salt, want), nil
		}
	case isBcrypt(encoded):
		// x/crypto/bcrypt compares in constant time and, like OpenBSD and passlib, uses
		// only the first 72 bytes of the password.
		if err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)); err == nil {
			return true, true, nil
		}
		return false, false, nil
	}
	h.dummyVerify(password)
	return false, false, nil
}

// weaker reports whether a stored hash's parameters fall short of the configured ones.
func (h *Hasher) weaker(p Params, salt, key []byte) bool {
	return p.MemoryKiB < h.params.MemoryKiB || p.Time < h.params.Time ||
		uint32(len(salt)) < h.params.SaltLen || uint32(len(key)) < h.params.KeyLen
}

// dummyVerify spends what one real argon2id check costs, and throws the result away.
func (h *Hasher) dummyVerify(password string) {
	got := argon2.IDKey([]byte(password), h.dummySalt, h.params.Time, h.params.MemoryKiB, h.params.Threads, h.params.KeyLen)
	subtle.ConstantTimeCompare(got, h.dummySalt)
}

// acquire takes a hashing slot, waiting at most maxWait. It fails with domain.ErrBusy
// (carrying a Retry-After hint) on timeout, or with KindUnavailable wrapping ctx.Err()
// when the caller gives up first.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, domain.ErrUnavailable.With(err)
	}
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, domain.ErrUnavailable.With(ctx.Err())
	case <-timer.C:
		return nil, domain.ErrBusy.WithRetryAfter(h.retryAfter)
	}
}

func isBcrypt(s string) bool {
	return len(s) == 60 && (strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")) &&
		bcryptCostOK(s)
}

// bcryptCostOK bounds the cost a stored hash may ask for, so a corrupted or hostile row
// cannot pin a hashing slot for minutes (cost 31 is 2^31 rounds).
func bcryptCostOK(s string) bool {
	c, err := bcrypt.Cost([]byte(s))
	return err == nil && c <= maxBcryptCost
}

const maxBcryptCost = 16
