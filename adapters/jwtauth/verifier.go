package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/tenantry/tenantry/adapters/internal/freshstack"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// maxTokenLen bounds what is handed to the JOSE parser; our tokens are well under 1 KiB.
const maxTokenLen = 8 << 10

var (
	errMalformed  = errors.New("not a compact JWS")
	errAlgorithm  = errors.New("algorithm not accepted")
	errType       = errors.New(`typ is not "` + TokenType + `"`)
	errCritical   = errors.New("unsupported critical header")
	errUnknownKID = errors.New("unknown or expired kid")
)

// Verifier checks access tokens against a Keys set: only the configured algorithm and
// the set's kids are accepted, and iss, aud, exp, nbf and iat are checked with the
// configured skew. Any failure is domain.ErrInvalidToken with the reason in Err; the
// token itself never appears in an error.
type Verifier struct {
	keys *Keys
	opts []jwt.ParseOption
}

var _ ports.TokenVerifier = (*Verifier)(nil)

// NewVerifier returns a Verifier using keys.
func NewVerifier(keys *Keys) *Verifier {
	v := &Verifier{keys: keys}
	cfg := keys.cfg
	v.opts = []jwt.ParseOption{
		jwt.WithKeyProvider(jws.KeyProviderFunc(v.provideKey)),
		jwt.WithValidate(true),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithAcceptableSkew(cfg.Skew),
		jwt.WithClock(jwt.ClockFunc(cfg.Clock)),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithRequiredClaim(claimRole),
		jwt.WithRequiredClaim(claimVersion),
	}
	return v
}

// Verify checks token and returns its claims. A kid the set does not hold triggers one
// rate-limited reload from the store (a key rotated on another node), then a retry.
func (v *Verifier) Verify(ctx context.Context, token string) (domain.Claims, error) {
	if !compactShape(token) {
		return domain.Claims{}, domain.ErrInvalidToken.With(errMalformed)
	}
	tok, err := v.parse(token)
	if errors.Is(err, errUnknownKID) && v.keys.reloadForUnknownKID(ctx, headerKID(token)) {
		tok, err = v.parse(token)
	}
	if err != nil {
		return domain.Claims{}, domain.ErrInvalidToken.With(err)
	}
	c, err := claimsOf(tok)
	if err != nil {
		return domain.Claims{}, domain.ErrInvalidToken.With(err)
	}
	return c, nil
}

// parse parses and verifies token on a goroutine of its own. jwx needs about 2.5 KiB
// of stack, below a request handler's middleware that is already deep, and a goroutine
// keeps the largest stack it needed until the GC finds it mostly unused: a request
// that opens a stream (whose goroutine stays deep in the handler) would keep twice the
// stack for the stream's whole life. The hand-over costs tens of microseconds, on a
// cache miss only (CachedVerifier); measured in BENCHMARKS.md.
func (v *Verifier) parse(token string) (tok jwt.Token, err error) {
	freshstack.Run(func() { tok, err = jwt.ParseString(token, v.opts...) })
	return tok, err
}

// provideKey hands jwx the one key that may verify sig: the header must name the
// configured algorithm, the access-token type and a kid of the current set. Keys are
// given as raw public keys with the configured algorithm, so the token cannot choose
// how its key is used (no "none", no HS256 keyed with an RSA public key).
func (v *Verifier) provideKey(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	if h.Algorithm() != v.keys.alg {
		return errAlgorithm
	}
	if typ := h.Type(); !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, "application/"+TokenType) {
		return errType
	}
	if len(h.Critical()) > 0 {
		return errCritical
	}
	lk, ok := v.keys.set.Load().lookup(h.KeyID(), v.keys.cfg.Clock())
	if !ok {
		return errUnknownKID
	}
	sink.Key(v.keys.alg, lk.public)
	return nil
}

func claimsOf(tok jwt.Token) (domain.Claims, error) {
	c := domain.Claims{
		Subject:   domain.UserID(tok.Subject()),
		TokenID:   tok.JwtID(),
		IssuedAt:  tok.IssuedAt(),
		ExpiresAt: tok.Expiration(),
	}
	if c.Subject == "" || c.TokenID == "" {
		return c, errors.New("empty sub or jti")
	}
	role, _ := tok.Get(claimRole)
	s, _ := role.(string)
	r, err := domain.ParseRole(s)
	if err != nil {
		return c, errors.New("invalid role claim")
	}
	c.Role = r
	ver, _ := tok.Get(claimVersion)
	n, ok := ver.(float64) // JSON numbers decode as float64
	if !ok || n < 0 || n > math.MaxInt32 || n != math.Trunc(n) {
		return c, errors.New("invalid ver claim")
	}
	c.TokenVersion = int(n)
	if raw, present := tok.Get(claimTenantID); present {
		s, ok := raw.(string)
		if !ok {
			return c, errors.New("invalid tenant_id claim")
		}
		id, err := domain.ParseTenantID(s)
		if err != nil {
			return c, fmt.Errorf("invalid tenant_id claim: %w", err)
		}
		c.TenantID = id
	}
	return c, nil
}

// compactShape reports whether s looks like a compact JWS: three non-empty base64url
// segments and a bounded length. It rejects JSON serialisations, JWEs and junk before
// any decoding.
func compactShape(s string) bool {
	if len(s) == 0 || len(s) > maxTokenLen {
		return false
	}
	dots, segLen := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if segLen == 0 {
				return false
			}
			dots, segLen = dots+1, 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			segLen++
		default:
			return false
		}
	}
	return dots == 2 && segLen > 0
}

// headerKID extracts the kid of a token that jwx has already parsed once; it is used
// only to decide whether a reload could help.
func headerKID(token string) string {
	msg, err := jws.ParseString(token)
	if err != nil || len(msg.Signatures()) != 1 {
		return ""
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}
