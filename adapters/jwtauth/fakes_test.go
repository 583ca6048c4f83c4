package jwtauth_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// keyStore is an in-memory ports.SigningKeyStore following the port's contract.
type keyStore struct {
	mu      sync.Mutex
	keys    []domain.SigningKey // in insertion order
	listErr error
}

var _ ports.SigningKeyStore = (*keyStore)(nil)

func (s *keyStore) List(_ context.Context) ([]domain.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	out := make([]domain.SigningKey, 0, len(s.keys))
	for i := len(s.keys) - 1; i >= 0; i-- {
		out = append(out, copyKey(s.keys[i]))
	}
	slices.SortStableFunc(out, func(a, b domain.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (s *keyStore) Add(_ context.Context, k domain.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i].KID == k.KID {
			return domain.ErrConflict
		}
	}
	for i := range s.keys {
		if s.keys[i].RetiredAt == nil {
			at := k.CreatedAt
			s.keys[i].RetiredAt = &at
		}
	}
	s.keys = append(s.keys, copyKey(k))
	return nil
}

func (s *keyStore) Delete(_ context.Context, kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i].KID == kid {
			s.keys = slices.Delete(s.keys, i, i+1)
			return nil
		}
	}
	return domain.ErrNotFound
}

func (s *keyStore) snapshot() []domain.SigningKey {
	all, _ := s.List(context.Background())
	return all
}

func (s *keyStore) setListErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listErr = err
}

func copyKey(k domain.SigningKey) domain.SigningKey {
	k.Private = bytes.Clone(k.Private)
	k.Public = bytes.Clone(k.Public)
	if k.RetiredAt != nil {
		at := *k.RetiredAt
		k.RetiredAt = &at
	}
	return k
}

// sealer is a transparent ports.SecretSealer: it marks values and binds them to their
// aad, so tests can see what was sealed where. It does not encrypt.
type sealer struct{ broken bool }

var _ ports.SecretSealer = (*sealer)(nil)

func (sealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	return append([]byte("sealed:"+aad+":"), plaintext...), nil
}

func (s sealer) Open(sealed []byte, aad string) ([]byte, error) {
	prefix := []byte("sealed:" + aad + ":")
	if s.broken || !bytes.HasPrefix(sealed, prefix) {
		return nil, domain.E(domain.KindInternal, "secret_unreadable", "", errors.New("aad mismatch"))
	}
	return bytes.Clone(sealed[len(prefix):]), nil
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testIssuer = "https://tenantry.example"

var algs = []string{"ES256", "RS256", "EdDSA"}

// env is one node: a loaded key set with its issuer and verifier.
type env struct {
	store    *keyStore
	clock    *clock
	keys     *jwtauth.Keys
	issuer   *jwtauth.Issuer
	verifier *jwtauth.Verifier
}

func newEnv(t testing.TB, alg string) *env {
	t.Helper()
	return newEnvOn(t, alg, &keyStore{}, newClock())
}

func newEnvOn(t testing.TB, alg string, store *keyStore, clk *clock) *env {
	t.Helper()
	keys, err := jwtauth.NewKeys(store, sealer{}, jwtauth.Config{Issuer: testIssuer, Algorithm: alg, Clock: clk.Now}, nil)
	require.NoError(t, err)
	require.NoError(t, keys.Load(context.Background()))
	return &env{store: store, clock: clk, keys: keys, issuer: jwtauth.NewIssuer(keys), verifier: jwtauth.NewVerifier(keys)}
}

func (e *env) claims() domain.Claims {
	now := e.clock.Now()
	return domain.Claims{
		Subject:      "0b5e9c3a-7a51-4d7e-9a53-1f1f3c0c2d11",
		TenantID:     "acme",
		Role:         domain.RoleTenantAdmin,
		TokenVersion: 3,
		TokenID:      "jti-1",
		IssuedAt:     now,
		ExpiresAt:    now.Add(15 * time.Minute),
	}
}

func (e *env) issue(t testing.TB, c domain.Claims) string {
	t.Helper()
	tok, err := e.issuer.Issue(context.Background(), c)
	require.NoError(t, err)
	return tok
}
