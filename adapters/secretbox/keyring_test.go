package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/domain"
)

func newKey(t *testing.T) string {
	t.Helper()
	k, err := secretbox.GenerateKey()
	require.NoError(t, err)
	return k
}

func newRing(t *testing.T, active string, previous ...string) *secretbox.Keyring {
	t.Helper()
	r, err := secretbox.New(active, previous...)
	require.NoError(t, err)
	return r
}

const secret = "sk-live-0123456789abcdef"

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	r := newRing(t, newKey(t))
	for _, plain := range []string{"", "x", secret, strings.Repeat("long secret ", 1000)} {
		sealed, err := r.Seal([]byte(plain), "tenant/acme/llm_api_key")
		require.NoError(t, err)
		got, err := r.Open(sealed, "tenant/acme/llm_api_key")
		require.NoError(t, err)
		assert.Equal(t, plain, string(got))
		assert.False(t, r.NeedsReseal(sealed))
	}
}

func TestSealIsRandomised(t *testing.T) {
	t.Parallel()
	r := newRing(t, newKey(t))
	a, err := r.Seal([]byte(secret), "aad")
	require.NoError(t, err)
	b, err := r.Seal([]byte(secret), "aad")
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "two seals of one value must differ (random nonce)")
	assert.False(t, bytes.Contains(a, []byte(secret)))
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	r := newRing(t, newKey(t))
	sealed, err := r.Seal([]byte(secret), "tenant/acme/llm_api_key")
	require.NoError(t, err)

	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealed []byte
		aad    string
	}{
		{name: "wrong aad", sealed: sealed, aad: "tenant/acme/pinecone_api_key"},
		{name: "moved to another tenant", sealed: sealed, aad: "tenant/globex/llm_api_key"},
		{name: "empty aad", sealed: sealed, aad: ""},
		{name: "tampered format byte", sealed: flip(0), aad: "tenant/acme/llm_api_key"},
		{name: "tampered key id", sealed: flip(2), aad: "tenant/acme/llm_api_key"},
		{name: "tampered nonce", sealed: flip(7), aad: "tenant/acme/llm_api_key"},
		{name: "tampered ciphertext", sealed: flip(20), aad: "tenant/acme/llm_api_key"},
		{name: "tampered tag", sealed: flip(len(sealed) - 1), aad: "tenant/acme/llm_api_key"},
		{name: "truncated", sealed: sealed[:len(sealed)-1], aad: "tenant/acme/llm_api_key"},
		{name: "too short", sealed: sealed[:10], aad: "tenant/acme/llm_api_key"},
		{name: "nil", sealed: nil, aad: "tenant/acme/llm_api_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.Open(tc.sealed, tc.aad)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Equal(t, domain.KindInternal, domain.KindOf(err))
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func TestOpenWithUnrelatedKeyFails(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	sealed, err := newRing(t, k).Seal([]byte(secret), "aad")
	require.NoError(t, err)

	_, err = newRing(t, newKey(t)).Open(sealed, "aad")
	require.Error(t, err)
	assert.Equal(t, domain.KindInternal, domain.KindOf(err))
	assert.NotContains(t, err.Error(), k)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKeyS := newKey(t), newKey(t)
	before := newRing(t, oldKey)
	oldSealed, err := before.Seal([]byte(secret), "tenant/acme/llm_api_key")
	require.NoError(t, err)

	after := newRing(t, newKeyS, oldKey)
	assert.NotEqual(t, before.KeyID(), after.KeyID())
	assert.True(t, after.NeedsReseal(oldSealed))

	got, err := after.Open(oldSealed, "tenant/acme/llm_api_key")
	require.NoError(t, err, "a value sealed under a previous key opens after rotation")
	assert.Equal(t, secret, string(got))

	resealed, err := after.Reseal(oldSealed, "tenant/acme/llm_api_key")
	require.NoError(t, err)
	assert.False(t, after.NeedsReseal(resealed))
	again, err := after.Reseal(resealed, "tenant/acme/llm_api_key")
	require.NoError(t, err)
	assert.Equal(t, resealed, again, "reseal is idempotent")

	// Once the old key is dropped, only the resealed value still opens.
	onlyNew := newRing(t, newKeyS)
	_, err = onlyNew.Open(oldSealed, "tenant/acme/llm_api_key")
	require.Error(t, err)
	got, err = onlyNew.Open(resealed, "tenant/acme/llm_api_key")
	require.NoError(t, err)
	assert.Equal(t, secret, string(got))

	// Reseal keeps the aad binding.
	_, err = after.Reseal(oldSealed, "tenant/globex/llm_api_key")
	require.Error(t, err)
}

func TestNewRejectsBadKeys(t *testing.T) {
	t.Parallel()
	good := newKey(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name     string
		active   string
		previous []string
	}{
		{name: "empty", active: ""},
		{name: "not base64", active: "not a key!"},
		{name: "16 bytes", active: short},
		{name: "bad previous", active: good, previous: []string{short}},
		{name: "duplicate", active: good, previous: []string{good}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := secretbox.New(tc.active, tc.previous...)
			require.Error(t, err)
			assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
			assert.NotContains(t, err.Error(), good)
		})
	}
}

func TestDecodeKeyAcceptsCommonEncodings(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32]
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := secretbox.DecodeKey(" " + enc.EncodeToString(raw) + "\n")
		require.NoError(t, err)
		assert.Equal(t, raw, got)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "secret.key")

	key, created, err := secretbox.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	assert.True(t, created)
	_, err = secretbox.New(key)
	require.NoError(t, err, "the generated key is usable")

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dir.Mode().Perm())

	again, created, err := secretbox.LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, key, again)

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files are left behind")
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 8
	keys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, _, err := secretbox.LoadOrCreateKeyFile(path)
			assert.NoError(t, err)
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		assert.Equal(t, keys[0], k, "racing creators agree on one key")
	}
}

func TestLoadKeyFileRejectsGarbage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret.key")
	require.NoError(t, os.WriteFile(path, []byte("hunter2\n"), 0o600))
	_, _, err := secretbox.LoadOrCreateKeyFile(path)
	require.Error(t, err)
	assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestHashesAreKeyedAndSurviveRotation(t *testing.T) {
	t.Parallel()
	oldKey, err := secretbox.GenerateKey()
	require.NoError(t, err)
	newKey, err := secretbox.GenerateKey()
	require.NoError(t, err)
	old, err := secretbox.New(oldKey)
	require.NoError(t, err)
	rotated, err := secretbox.New(newKey, oldKey)
	require.NoError(t, err)

	h := old.Hashes("tnt_secret")
	require.Len(t, h, 1)
	assert.Equal(t, h, old.Hashes("tnt_secret"), "deterministic")
	assert.NotEqual(t, h, old.Hashes("tnt_secreT"))
	assert.NotContains(t, h[0], "secret")

	r := rotated.Hashes("tnt_secret")
	require.Len(t, r, 2, "active key first, then the previous one")
	assert.NotEqual(t, h[0], r[0], "another master key hashes differently")
	assert.Equal(t, h[0], r[1], "a key hashed before the rotation is still found")
}
