// Package secretbox seals small secrets at rest (vendor API keys, signing keys) with
// AES-256-GCM under a master key ring. It implements ports.SecretSealer and imports only
// domain, ports and the standard library.
//
// A sealed value is
//
//	format (1 byte, 0x01) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag
//
// The key id is derived from the master key itself (the first four bytes of a labelled
// SHA-256), so keys need no hand-kept version numbers: rotating means putting the new key
// first and keeping the old ones as "previous" until every value has been re-sealed.
// The header and the caller's aad are both authenticated, so a value can be neither
// moved to another row nor relabelled with another key id.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

const (
	formatV1   = 0x01
	keyIDLen   = 4
	nonceLen   = 12
	headerLen  = 1 + keyIDLen
	overhead   = headerLen + nonceLen + 16 // header, nonce, GCM tag
	masterLen  = 32
	keyIDLabel = "tenantry/secretbox/key-id/v1\x00"
)

var (
	errBadKey  = domain.E(domain.KindInvalid, "invalid_secret_key", "the master secret key must be base64 of exactly 32 bytes", nil)
	errSealed  = domain.E(domain.KindInternal, "secret_unreadable", "a stored secret could not be decrypted", nil)
	errNoKey   = domain.E(domain.KindInternal, "secret_key_unknown", "a stored secret was sealed under a master key that is not configured", nil)
	errAuthGCM = errors.New("message authentication failed (wrong key, wrong aad or tampered)")
)

// Keyring seals under one active master key and opens values sealed under any of its
// keys. It is immutable after New and safe for concurrent use.
type Keyring struct {
	active uint32
	aeads  map[uint32]cipher.AEAD
	// macKeys are the secret-hashing keys derived from each master key, active first.
	macKeys [][]byte
}

var _ ports.SecretSealer = (*Keyring)(nil)

// New builds a keyring from base64-encoded 32-byte master keys: active seals new values,
// previous (older keys, kept for rotation) only open old ones. Invalid or duplicate keys
// are KindInvalid; the error never contains key material.
func New(active string, previous ...string) (*Keyring, error) {
	k := &Keyring{aeads: make(map[uint32]cipher.AEAD, 1+len(previous))}
	for i, enc := range append([]string{active}, previous...) {
		raw, err := DecodeKey(enc)
		if err != nil {
			if i > 0 {
				return nil, errBadKey.WithDetail("previous secret key #%d must be base64 of exactly 32 bytes", i)
			}
			return nil, err
		}
		id := keyID(raw)
		if _, dup := k.aeads[id]; dup {
			// Either the same key twice, or a 32-bit id collision; both are config mistakes.
			return nil, errBadKey.WithDetail("secret key #%d repeats another configured key", i)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, err
		}
		k.aeads[id] = aead
		mk, err := macKey(raw)
		if err != nil {
			return nil, err
		}
		k.macKeys = append(k.macKeys, mk)
		if i == 0 {
			k.active = id
		}
	}
	return k, nil
}

// GenerateKey returns a fresh random master key, base64 (standard, padded) encoded.
func GenerateKey() (string, error) {
	raw := make([]byte, masterLen)
	if _, err := rand.Read(raw); err != nil {
		return "", domain.E(domain.KindInternal, "random_failed", "", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// DecodeKey decodes a base64 master key (standard or URL alphabet, padded or not,
// surrounding whitespace ignored) and checks that it is 32 bytes long.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil && len(raw) == masterLen {
			return raw, nil
		}
	}
	return nil, errBadKey
}

// KeyID returns the active key's id as 8 hex digits: safe to log, useful to tell which
// key is in use without revealing it.
func (k *Keyring) KeyID() string {
	var b [keyIDLen]byte
	binary.BigEndian.PutUint32(b[:], k.active)
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 2*keyIDLen)
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&0x0f])
	}
	return string(out)
}

// Seal encrypts plaintext under the active key, bound to aad.
func (k *Keyring) Seal(plaintext []byte, aad string) ([]byte, error) {
	out := make([]byte, headerLen+nonceLen, overhead+len(plaintext))
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:headerLen], k.active)
	if _, err := rand.Read(out[headerLen:]); err != nil {
		return nil, domain.E(domain.KindInternal, "random_failed", "", err)
	}
	nonce := out[headerLen : headerLen+nonceLen]
	return k.aeads[k.active].Seal(out, nonce, plaintext, additional(out[:headerLen], aad)), nil
}

// Open decrypts sealed with whichever configured key sealed it. A wrong aad, any
// tampering, an unknown format or key id is KindInternal; the error names no secret.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) < overhead || sealed[0] != formatV1 {
		return nil, errSealed.With(errors.New("not a sealed value of a known format"))
	}
	aead, ok := k.aeads[binary.BigEndian.Uint32(sealed[1:headerLen])]
	if !ok {
		return nil, errNoKey
	}
	nonce := sealed[headerLen : headerLen+nonceLen]
	plain, err := aead.Open(nil, nonce, sealed[headerLen+nonceLen:], additional(sealed[:headerLen], aad))
	if err != nil {
		return nil, errSealed.With(errAuthGCM)
	}
	return plain, nil
}

// NeedsReseal reports whether sealed was made under a key other than the active one (or
// is not a sealed value at all), so that a rotation job should Open and Seal it again.
// Re-running such a job is harmless: values already under the active key report false.
func (k *Keyring) NeedsReseal(sealed []byte) bool {
	if len(sealed) < overhead || sealed[0] != formatV1 {
		return true
	}
	return binary.BigEndian.Uint32(sealed[1:headerLen]) != k.active
}

// Reseal opens sealed and seals it again under the active key with the same aad. A
// value already under the active key is returned unchanged.
func (k *Keyring) Reseal(sealed []byte, aad string) ([]byte, error) {
	if !k.NeedsReseal(sealed) {
		return sealed, nil
	}
	plain, err := k.Open(sealed, aad)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return k.Seal(plain, aad)
}

func keyID(raw []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(raw)
	return binary.BigEndian.Uint32(h.Sum(nil)[:keyIDLen])
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, domain.E(domain.KindInternal, "cipher_setup", "", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, domain.E(domain.KindInternal, "cipher_setup", "", err)
	}
	return aead, nil
}

// additional is the GCM additional data: the header (so the key id and format cannot be
// swapped) followed by the caller's aad.
func additional(header []byte, aad string) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	b = append(b, header...)
	return append(b, aad...)
}
