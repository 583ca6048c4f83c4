package jwtauth

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Keys holds the signing key set in memory, loaded from a ports.SigningKeyStore. The
// newest active key of the configured algorithm signs; it and the retired keys still
// inside their window verify and are published in the JWKS. The set is an immutable
// snapshot behind an atomic pointer, so readers never lock; it is reloaded by Run,
// after Rotate and Prune, and (rate-limited) when a token names an unknown kid.
type Keys struct {
	cfg    Config
	alg    jwa.SignatureAlgorithm
	store  ports.SigningKeyStore
	sealer ports.SecretSealer
	log    *zap.Logger

	set atomic.Pointer[keySet]

	reloadMu   sync.Mutex // serialises reloads so concurrent callers share one
	lastReload time.Time  // guarded by reloadMu; start of the last on-demand reload
}

// keySet is one immutable snapshot of the keys.
type keySet struct {
	signer   jwk.Key // nil when no active key of the configured algorithm exists
	kids     map[string]*loadedKey
	newest   []*loadedKey // newest first, for the JWKS
	loadedAt time.Time
}

// NewKeys checks cfg and returns an empty key set; call Load before use. log receives
// reload failures from Run and key generation notices (nil discards them).
func NewKeys(store ports.SigningKeyStore, sealer ports.SecretSealer, cfg Config, log *zap.Logger) (*Keys, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	alg, _ := parseAlgorithm(cfg.Algorithm)
	k := &Keys{cfg: cfg, alg: alg, store: store, sealer: sealer, log: log}
	k.set.Store(&keySet{kids: map[string]*loadedKey{}})
	return k, nil
}

// Config returns the configuration in force, defaults applied.
func (k *Keys) Config() Config { return k.cfg }

// Algorithm returns the one signing algorithm in use, e.g. "ES256", as published in
// the OpenID configuration (id_token_signing_alg_values_supported).
func (k *Keys) Algorithm() string { return k.cfg.Algorithm }

// Load reads the keys from the store and, when there is no active key of the configured
// algorithm (first start, or the algorithm was changed), generates one. Tokens signed
// with another algorithm stop verifying once the algorithm changes.
func (k *Keys) Load(ctx context.Context) error {
	if err := k.Reload(ctx); err != nil {
		return err
	}
	if k.set.Load().signer != nil {
		return nil
	}
	_, err := k.Rotate(ctx)
	return err
}

// Reload replaces the in-memory set with the store's current keys. On error the
// previous set stays in force.
func (k *Keys) Reload(ctx context.Context) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	return k.reloadLocked(ctx)
}

func (k *Keys) reloadLocked(ctx context.Context) error {
	stored, err := k.store.List(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	now := k.cfg.Clock()
	next := &keySet{kids: make(map[string]*loadedKey, len(stored)), loadedAt: now}
	for _, sk := range stored {
		if sk.Algorithm != k.cfg.Algorithm || !sk.Verifies(now, k.cfg.retention()) {
			continue
		}
		pub, jwkJSON, err := decodePublic(sk, k.alg)
		if err != nil {
			if sk.Active() {
				return err
			}
			// A damaged retired key only costs the tokens it signed; keep the rest.
			k.log.Warn("skip unreadable retired signing key", zap.String("kid", sk.KID), zap.Error(err))
			continue
		}
		lk := &loadedKey{kid: sk.KID, public: pub, jwkJSON: jwkJSON}
		if sk.RetiredAt != nil {
			lk.until = sk.RetiredAt.Add(k.cfg.retention())
		}
		if next.signer == nil && sk.Active() {
			if next.signer, err = decodePrivate(sk, k.alg, pub, k.sealer); err != nil {
				return err
			}
		}
		next.kids[sk.KID] = lk
		next.newest = append(next.newest, lk)
	}
	k.set.Store(next)
	return nil
}

// reloadForUnknownKID reloads the set because a token named a kid it does not hold,
// at most once per UnknownKIDRefresh. It reports whether kid is known afterwards.
func (k *Keys) reloadForUnknownKID(ctx context.Context, kid string) bool {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if _, ok := k.set.Load().kids[kid]; ok {
		return true // another caller's reload found it meanwhile
	}
	now := k.cfg.Clock()
	if !k.lastReload.IsZero() && now.Sub(k.lastReload) < k.cfg.UnknownKIDRefresh {
		return false
	}
	k.lastReload = now
	if err := k.reloadLocked(ctx); err != nil {
		k.log.Warn("reload signing keys for an unknown kid", zap.Error(err))
		return false
	}
	_, ok := k.set.Load().kids[kid]
	return ok
}

// Rotate generates a new active key of the configured algorithm and stores it; the
// store retires the previous ones, which keep verifying until their window ends. It
// returns the new kid.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	sk, err := generateKey(k.alg, k.sealer, k.cfg.Clock())
	if err != nil {
		return "", err
	}
	if err := k.store.Add(ctx, sk); err != nil {
		return "", fmt.Errorf("store signing key %s: %w", sk.KID, err)
	}
	k.log.Info("new signing key", zap.String("kid", sk.KID), zap.String("alg", sk.Algorithm))
	return sk.KID, k.Reload(ctx)
}

// Prune deletes retired keys whose verification window has ended (RetiredAt plus the
// access-token lifetime, skew and one refresh interval) and returns how many it deleted.
// The active key is never deleted.
func (k *Keys) Prune(ctx context.Context) (int, error) {
	stored, err := k.store.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("list signing keys: %w", err)
	}
	now, n := k.cfg.Clock(), 0
	for _, sk := range stored {
		if sk.Verifies(now, k.cfg.retention()) {
			continue
		}
		if err := k.store.Delete(ctx, sk.KID); err != nil && domain.KindOf(err) != domain.KindNotFound {
			return n, fmt.Errorf("delete signing key %s: %w", sk.KID, err)
		}
		n++
	}
	return n, k.Reload(ctx)
}

// Run reloads the key set every RefreshInterval until ctx ends, so that keys rotated
// or pruned by another node are picked up. Failures are logged and the previous set
// stays in force.
func (k *Keys) Run(ctx context.Context) {
	t := time.NewTicker(k.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
				k.log.Warn("reload signing keys", zap.Error(err))
			}
		}
	}
}

// ActiveKID returns the kid that signs new tokens, or "" before Load.
func (k *Keys) ActiveKID() string {
	if s := k.set.Load().signer; s != nil {
		return s.KeyID()
	}
	return ""
}

// JWKS returns the JSON Web Key Set document (RFC 7517) for
// GET /.well-known/jwks.json: the active key and the retired keys still inside their
// verification window, newest first, public parts only.
func (k *Keys) JWKS() []byte {
	s, now := k.set.Load(), k.cfg.Clock()
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	first := true
	for _, lk := range s.newest {
		if !lk.verifiesAt(now) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(lk.jwkJSON)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// lookup returns the key for kid if it may verify a token at now.
func (s *keySet) lookup(kid string, now time.Time) (*loadedKey, bool) {
	lk, ok := s.kids[kid]
	if !ok || !lk.verifiesAt(now) {
		return nil, false
	}
	return lk, true
}

func (lk *loadedKey) verifiesAt(now time.Time) bool {
	return lk.until.IsZero() || now.Before(lk.until)
}
