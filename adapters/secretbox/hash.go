package secretbox

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

var _ ports.SecretHasher = (*Keyring)(nil)

// macKeyInfo labels the HKDF derivation of the secret-hashing key, so that it is
// independent of the encryption key made from the same master key.
const macKeyInfo = "tenantry/secretbox/secret-hash/v1"

func macKey(master []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, master, nil, macKeyInfo, sha256.Size)
	if err != nil {
		return nil, domain.E(domain.KindInternal, "key_derivation_failed", "", err)
	}
	return k, nil
}

// Hashes returns HMAC-SHA256 of secret (base64url, unpadded) under the key derived from
// the active master key, then under those of the previous master keys.
func (k *Keyring) Hashes(secret string) []string {
	out := make([]string, 0, len(k.macKeys))
	for _, mk := range k.macKeys {
		m := hmac.New(sha256.New, mk)
		m.Write([]byte(secret))
		out = append(out, base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
	}
	return out
}
