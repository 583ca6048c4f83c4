package httpapi

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// maxBearerLength caps the token accepted from the Authorization header; tenantry's
// access tokens are a few hundred bytes.
const maxBearerLength = 4096

// parseBearer extracts the token from Authorization header values (RFC 6750 §2.1):
// exactly one header, scheme "Bearer" in any case, one or more spaces, then a single
// b64token of at most maxBearerLength characters. Anything else is ErrInvalidToken.
func parseBearer(values []string) (string, error) {
	if len(values) != 1 {
		return "", domain.ErrInvalidToken
	}
	v := values[0]
	const scheme = "bearer"
	if len(v) <= len(scheme)+1 || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", domain.ErrInvalidToken
	}
	tok := strings.TrimLeft(v[len(scheme):], " ")
	if tok == "" || len(tok) > maxBearerLength || !isB64Token(tok) {
		return "", domain.ErrInvalidToken
	}
	return tok, nil
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// It runs on every authenticated request over a token of about 500 bytes, so it looks
// each byte up in b64TokenChars and ANDs the answers eight at a time, without a branch
// per byte.
func isB64Token(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	t := &b64TokenChars
	ok := uint8(1)
	i := 0
	for ; i+8 <= n; i += 8 {
		ok &= t[s[i]] & t[s[i+1]] & t[s[i+2]] & t[s[i+3]] & t[s[i+4]] & t[s[i+5]] & t[s[i+6]] & t[s[i+7]]
	}
	for ; i < n; i++ {
		ok &= t[s[i]]
	}
	return ok == 1
}

// b64TokenChars is 1 for the bytes a b64token may hold before its "=" padding.
var b64TokenChars = func() (t [256]uint8) {
	for c := range t {
		b := byte(c)
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '-' || b == '.' || b == '_' || b == '~' || b == '+' || b == '/' {
			t[c] = 1
		}
	}
	return t
}()

// bearerAuth authenticates every request of the routes it guards and stores the
// Principal through setPrincipal. The token itself never leaves authenticate.
func bearerAuth(auth *application.Authenticate) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := authenticate(c, auth); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// authenticate is bearerAuth's work, apart from it for the reason scopeToTenant is.
func authenticate(c echo.Context, auth *application.Authenticate) error {
	tok, err := parseBearer(c.Request().Header.Values(echo.HeaderAuthorization))
	if err != nil {
		return err
	}
	p, err := auth.Execute(c.Request().Context(), tok)
	if err != nil {
		return err
	}
	setPrincipal(c, p)
	return nil
}

// tenantScope resolves the caller's tenant from the verified principal (never from a
// header, query or body) and stores it through setTenant.
func tenantScope(resolve *application.ResolveTenant) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := scopeToTenant(c, resolve); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// scopeToTenant is tenantScope's work, in a function of its own so that its frame,
// which holds copies of the 424-byte tenant context, is gone before the handler runs:
// the middleware's own frame stays on the stack below the handler for the whole
// request, and a chat stream keeps its goroutine's stack for its whole life.
func scopeToTenant(c echo.Context, resolve *application.ResolveTenant) error {
	p, ok := principalOf(c)
	if !ok {
		return errNoPrincipal
	}
	tc, err := resolve.Execute(c.Request().Context(), p)
	if err != nil {
		return err
	}
	setTenant(c, tc)
	return nil
}

// errNoPrincipal is a wiring bug: a handler that needs a caller on a route without the
// bearer (or tenant) middleware.
var errNoPrincipal = domain.E(domain.KindInternal, codeInternal, "", errors.New("route lacks the bearer or tenant middleware"))

// mustPrincipal returns the caller or a wiring error.
func mustPrincipal(c echo.Context) (domain.Principal, error) {
	p, ok := principalOf(c)
	if !ok {
		return domain.Principal{}, errNoPrincipal
	}
	return p, nil
}

// mustTenant returns the resolved tenant context or a wiring error.
func mustTenant(c echo.Context) (domain.TenantContext, error) {
	tc, ok := tenantOf(c)
	if !ok {
		return domain.TenantContext{}, errNoPrincipal
	}
	return tc, nil
}
