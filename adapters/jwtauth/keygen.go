package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// rsaBits is the modulus size of generated RS256 keys.
const rsaBits = 2048

// privateAAD binds a sealed private key to its kid, so sealed keys cannot be swapped
// between rows.
func privateAAD(kid string) string { return "signing-key/" + kid }

// generateKey makes a fresh key pair for alg and returns it as a storable SigningKey:
// kid is the RFC 7638 SHA-256 thumbprint of the public key, the private key is PKCS #8
// DER sealed by sealer, the public key is a JWK (kid, alg, use "sig") as JSON.
func generateKey(alg jwa.SignatureAlgorithm, sealer ports.SecretSealer, now time.Time) (domain.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jwa.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case jwa.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("unsupported algorithm %s", alg)
	}
	if err != nil {
		return domain.SigningKey{}, keyErr("generate signing key", err)
	}
	pub, err := publicJWK(priv.Public(), alg, "")
	if err != nil {
		return domain.SigningKey{}, err
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return domain.SigningKey{}, keyErr("thumbprint signing key", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	if err := pub.Set(jwk.KeyIDKey, kid); err != nil {
		return domain.SigningKey{}, keyErr("set kid", err)
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return domain.SigningKey{}, keyErr("encode public key", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return domain.SigningKey{}, keyErr("encode private key", err)
	}
	sealed, err := sealer.Seal(der, privateAAD(kid))
	clear(der)
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("seal signing key %s: %w", kid, err)
	}
	return domain.SigningKey{KID: kid, Algorithm: alg.String(), Private: sealed, Public: pubJSON, CreatedAt: now.UTC()}, nil
}

// publicJWK wraps a raw public key as a JWK with alg and use set (and kid when given).
func publicJWK(raw crypto.PublicKey, alg jwa.SignatureAlgorithm, kid string) (jwk.Key, error) {
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, keyErr("wrap public key", err)
	}
	for name, v := range map[string]any{jwk.AlgorithmKey: alg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := k.Set(name, v); err != nil {
			return nil, keyErr("set "+name, err)
		}
	}
	if kid != "" {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return nil, keyErr("set kid", err)
		}
	}
	return k, nil
}

// loadedKey is one stored key, decoded and checked.
type loadedKey struct {
	kid     string
	public  crypto.PublicKey // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
	jwkJSON []byte           // canonical public JWK for the JWKS
	until   time.Time        // zero while active; else the end of its verification window
}

// decodePublic checks a stored key's public JWK against its row and its algorithm.
func decodePublic(k domain.SigningKey, alg jwa.SignatureAlgorithm) (crypto.PublicKey, []byte, error) {
	parsed, err := jwk.ParseKey(k.Public)
	if err != nil {
		return nil, nil, keyErr("parse public key "+k.KID, err)
	}
	var raw any
	if err := parsed.Raw(&raw); err != nil {
		return nil, nil, keyErr("parse public key "+k.KID, err)
	}
	if !fitsAlgorithm(raw, alg) {
		return nil, nil, keyErr("public key "+k.KID, fmt.Errorf("key type %T does not fit %s", raw, alg))
	}
	canonical, err := publicJWK(raw, alg, k.KID)
	if err != nil {
		return nil, nil, err
	}
	out, err := json.Marshal(canonical)
	if err != nil {
		return nil, nil, keyErr("encode public key "+k.KID, err)
	}
	return raw, out, nil
}

// decodePrivate opens a stored private key and checks that it belongs to public.
func decodePrivate(k domain.SigningKey, alg jwa.SignatureAlgorithm, public crypto.PublicKey, sealer ports.SecretSealer) (jwk.Key, error) {
	der, err := sealer.Open(k.Private, privateAAD(k.KID))
	if err != nil {
		return nil, fmt.Errorf("open signing key %s: %w", k.KID, err)
	}
	defer clear(der)
	raw, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, keyErr("parse private key "+k.KID, err)
	}
	signer, ok := raw.(crypto.Signer)
	if !ok || !fitsAlgorithm(signer.Public(), alg) {
		return nil, keyErr("private key "+k.KID, fmt.Errorf("key type %T does not fit %s", raw, alg))
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(public) {
		return nil, keyErr("private key "+k.KID, errors.New("does not match the stored public key"))
	}
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, keyErr("wrap private key "+k.KID, err)
	}
	if err := priv.Set(jwk.KeyIDKey, k.KID); err != nil {
		return nil, keyErr("set kid", err)
	}
	if err := priv.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, keyErr("set alg", err)
	}
	return priv, nil
}

func fitsAlgorithm(key any, alg jwa.SignatureAlgorithm) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		return alg == jwa.ES256 && k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return alg == jwa.RS256 && k.N.BitLen() >= 2048
	case ed25519.PublicKey:
		return alg == jwa.EdDSA
	}
	return false
}

func keyErr(what string, cause error) error {
	return domain.E(domain.KindInternal, "signing_key", what, cause)
}
