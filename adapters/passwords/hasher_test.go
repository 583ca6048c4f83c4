package passwords_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/domain"
)

const pw = "correct horse battery staple"

// Hashes made by independent implementations, for the password pw:
//   - argon2id by the reference implementation's CLI (Debian package argon2):
//     echo -n "$pw" | argon2 <salt> -id -k <m> -t <t> -p <p> -l 32 -e
//   - bcrypt by libxcrypt's crypt(3) (Openwall crypt_blowfish, as used by passlib's
//     os_crypt backend): python3 -c 'import crypt; print(crypt.crypt(pw, "$2b$10$" + salt))'
const (
	refArgonOWASP    = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM"
	refArgonStronger = "$argon2id$v=19$m=32768,t=3,p=2$c29tZXNhbHQwMTIzNDU2Nw$m22O3RGJLTJmNbeeGcXgAyeKJI8vy3dmmE/YsrS6Af8"
	refArgonWeak     = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQwMTIzNDU2$mQwhE0ZHCWWZCUC2y04ZgRM000owaB5LKZvwzLryP+Y"
	refBcrypt2b      = "$2b$10$abcdefghijklmnopqrstuuGGgFFcYeueaAql8Z7U7CnCTRw4DR77W"
	refBcrypt2y      = "$2y$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG"
	refBcrypt2a      = "$2a$04$abcdefghijklmnopqrstuu7EJV7kdjBBQxyb0HjTh9KS7.Lah/6CG"
	// crypt(3) of "p"*80: bcrypt uses only the first 72 bytes.
	refBcryptLong = "$2b$04$abcdefghijklmnopqrstuuNt.0ah97gHY3F7JC1Z6EXmQc0bQBhIO"
)

func TestHashFormatAndRoundTrip(t *testing.T) {
	t.Parallel()
	h := passwords.New(passwords.Config{})
	ctx := context.Background()

	enc, err := h.Hash(ctx, pw)
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`), enc)
	assert.NotContains(t, enc, pw)

	other, err := h.Hash(ctx, pw)
	require.NoError(t, err)
	assert.NotEqual(t, enc, other, "salts are random")

	match, rehash, err := h.Verify(ctx, enc, pw)
	require.NoError(t, err)
	assert.True(t, match)
	assert.False(t, rehash)

	match, rehash, err = h.Verify(ctx, enc, pw+"!")
	require.NoError(t, err)
	assert.False(t, match)
	assert.False(t, rehash)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	h := passwords.New(passwords.Config{})
	bcryptFresh, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)

	tests := []struct {
		name       string
		encoded    string
		password   string
		wantMatch  bool
		wantRehash bool
	}{
		{name: "reference argon2id, OWASP params", encoded: refArgonOWASP, password: pw, wantMatch: true},
		{name: "reference argon2id, stronger params", encoded: refArgonStronger, password: pw, wantMatch: true},
		{name: "reference argon2id, weaker params", encoded: refArgonWeak, password: pw, wantMatch: true, wantRehash: true},
		{name: "argon2id wrong password", encoded: refArgonOWASP, password: "wrong", wantMatch: false},
		{name: "weaker argon2id wrong password", encoded: refArgonWeak, password: "wrong", wantMatch: false},
		{name: "bcrypt by x/crypto", encoded: string(bcryptFresh), password: pw, wantMatch: true, wantRehash: true},
		{name: "bcrypt by x/crypto wrong password", encoded: string(bcryptFresh), password: "wrong", wantMatch: false},
		{name: "passlib-style $2b$", encoded: refBcrypt2b, password: pw, wantMatch: true, wantRehash: true},
		{name: "$2y$", encoded: refBcrypt2y, password: pw, wantMatch: true, wantRehash: true},
		{name: "$2a$", encoded: refBcrypt2a, password: pw, wantMatch: true, wantRehash: true},
		{name: "$2b$ wrong password", encoded: refBcrypt2b, password: strings.ToUpper(pw), wantMatch: false},
		{name: "bcrypt truncates at 72 bytes", encoded: refBcryptLong, password: strings.Repeat("p", 80), wantMatch: true, wantRehash: true},
		{name: "empty encoded", encoded: "", password: pw, wantMatch: false},
		{name: "empty encoded, empty password", encoded: "", password: "", wantMatch: false},
		{name: "unknown scheme", encoded: "$pbkdf2-sha256$29000$abc$def", password: pw, wantMatch: false},
		{name: "plaintext stored", encoded: pw, password: pw, wantMatch: false},
		{name: "argon2i is not argon2id", encoded: strings.Replace(refArgonOWASP, "argon2id", "argon2i", 1), password: pw, wantMatch: false},
		{name: "argon2id v=16", encoded: strings.Replace(refArgonOWASP, "v=19", "v=16", 1), password: pw, wantMatch: false},
		{name: "argon2id huge memory", encoded: strings.Replace(refArgonOWASP, "m=19456", "m=4194304", 1), password: pw, wantMatch: false},
		{name: "argon2id huge time", encoded: strings.Replace(refArgonOWASP, "t=2", "t=100000", 1), password: pw, wantMatch: false},
		{name: "argon2id zero threads", encoded: strings.Replace(refArgonOWASP, "p=1", "p=0", 1), password: pw, wantMatch: false},
		{name: "argon2id params reordered", encoded: strings.Replace(refArgonOWASP, "m=19456,t=2", "t=2,m=19456", 1), password: pw, wantMatch: false},
		{name: "argon2id bad base64", encoded: refArgonOWASP[:len(refArgonOWASP)-3] + "***", password: pw, wantMatch: false},
		{name: "argon2id missing hash", encoded: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA", password: pw, wantMatch: false},
		{name: "bcrypt absurd cost", encoded: "$2b$31$" + refBcrypt2b[7:], password: pw, wantMatch: false},
		{name: "bcrypt truncated", encoded: refBcrypt2b[:50], password: pw, wantMatch: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotMatch, gotRehash, err := h.Verify(context.Background(), tc.encoded, tc.password)
			require.NoError(t, err)
			assert.Equal(t, tc.wantMatch, gotMatch)
			assert.Equal(t, tc.wantRehash, gotRehash)
		})
	}
}

// TestUnknownHashCostsAsMuchAsARealOne checks that an unknown user (empty hash) is not
// answered measurably faster than a known one, so emails cannot be probed by timing.
func TestUnknownHashCostsAsMuchAsARealOne(t *testing.T) {
	h := passwords.New(passwords.Config{})
	ctx := context.Background()
	once := func(encoded string) time.Duration {
		start := time.Now()
		_, _, err := h.Verify(ctx, encoded, "wrong password")
		require.NoError(t, err)
		return time.Since(start)
	}
	// Best of several interleaved runs, to see through noise from other processes.
	real, unknown := time.Duration(1<<62), time.Duration(1<<62)
	for range 5 {
		real = min(real, once(refArgonOWASP))
		unknown = min(unknown, once(""))
	}
	t.Logf("known user %v, unknown user %v", real, unknown)
	assert.Greater(t, unknown, real/2, "a missing hash must still cost about one argon2id run")
}

func TestStrongerConfigFlagsOWASPHashForRehash(t *testing.T) {
	t.Parallel()
	stronger := passwords.OWASP
	stronger.Time = 3
	h := passwords.New(passwords.Config{Params: stronger})
	match, rehash, err := h.Verify(context.Background(), refArgonOWASP, pw)
	require.NoError(t, err)
	assert.True(t, match)
	assert.True(t, rehash)

	enc, err := h.Hash(context.Background(), pw)
	require.NoError(t, err)
	assert.Contains(t, enc, "$m=19456,t=3,p=1$")
}

// cheap keeps the busy tests fast; the cap does not depend on the cost.
var cheap = passwords.Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestBusyAfterWait(t *testing.T) {
	t.Parallel()
	h := passwords.New(passwords.Config{Params: cheap, MaxConcurrent: 1, MaxWait: 50 * time.Millisecond, RetryAfter: 2 * time.Second})
	release := passwords.HoldSlot(t, h)

	start := time.Now()
	_, err := h.Hash(context.Background(), pw)
	waited := time.Since(start)
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrBusy)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
	assert.Equal(t, 2, domain.AsError(err).RetryAfterSeconds)
	assert.GreaterOrEqual(t, waited, 50*time.Millisecond, "excess callers wait before giving up")
	assert.Less(t, waited, time.Second)

	_, _, err = h.Verify(context.Background(), refArgonOWASP, pw)
	assert.ErrorIs(t, err, domain.ErrBusy, "Verify shares the cap")

	release()
	_, err = h.Hash(context.Background(), pw)
	assert.NoError(t, err, "a freed slot is usable again")
}

func TestWaiterGetsSlotWhenFreed(t *testing.T) {
	t.Parallel()
	h := passwords.New(passwords.Config{Params: cheap, MaxConcurrent: 1, MaxWait: 2 * time.Second})
	release := passwords.HoldSlot(t, h)
	time.AfterFunc(20*time.Millisecond, release)

	_, err := h.Hash(context.Background(), pw)
	assert.NoError(t, err)
}

func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	h := passwords.New(passwords.Config{Params: cheap, MaxConcurrent: 1, MaxWait: 10 * time.Second})
	passwords.HoldSlot(t, h)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := h.Verify(ctx, refArgonOWASP, pw)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(err))
	assert.Less(t, time.Since(start), 5*time.Second, "cancellation ends the wait")
}

func TestConcurrencyIsCapped(t *testing.T) {
	t.Parallel()
	h := passwords.New(passwords.Config{MaxConcurrent: 2, MaxWait: 10 * time.Second})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			enc, err := h.Hash(context.Background(), pw)
			if assert.NoError(t, err) {
				assert.True(t, strings.HasPrefix(enc, "$argon2id$"))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 0, passwords.InUse(h), "every slot is released")
}

func BenchmarkHash(b *testing.B) {
	h := passwords.New(passwords.Config{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, pw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := passwords.New(passwords.Config{})
	ctx := context.Background()
	for _, bc := range []struct{ name, enc string }{
		{"argon2id", refArgonOWASP},
		{"bcrypt10", refBcrypt2b},
		{"unknown", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := h.Verify(ctx, bc.enc, pw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
