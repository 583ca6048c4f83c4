package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
)

// Keys for values stored in the Echo context. They are unexported, so the typed
// accessors below are the only way in or out.
const (
	keyRequestID  = "httpapi.request_id"
	keyPrincipal  = "httpapi.principal"
	keyTenant     = "httpapi.tenant"
	keyClientGone = "httpapi.client_gone"
)

type requestIDKey struct{}

// RequestID returns the request's id, set by the request-id middleware.
func RequestID(c echo.Context) string {
	id, _ := c.Get(keyRequestID).(string)
	return id
}

// RequestIDFrom returns the request id carried by ctx, or "" (context values carry only
// request ids; tenants and principals are passed explicitly).
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func setPrincipal(c echo.Context, p domain.Principal) { c.Set(keyPrincipal, p) }

// principalOf returns the authenticated caller. ok is false on a route without the
// bearer middleware, which is a wiring bug that handlers turn into an internal error.
func principalOf(c echo.Context) (domain.Principal, bool) {
	p, ok := c.Get(keyPrincipal).(domain.Principal)
	return p, ok
}

// setTenant keeps tc, which nobody changes afterwards, for the request's handler.
func setTenant(c echo.Context, tc *domain.TenantContext) { c.Set(keyTenant, tc) }

// tenantRef is tenantOf without the copy of the 480-byte context, for code whose frame
// stays under a stream.
func tenantRef(c echo.Context) (*domain.TenantContext, bool) {
	tc, ok := c.Get(keyTenant).(*domain.TenantContext)
	return tc, ok
}

// tenantOf returns the request's resolved tenant context, set by the tenant middleware.
func tenantOf(c echo.Context) (domain.TenantContext, bool) {
	tc, ok := tenantRef(c)
	if !ok {
		return domain.TenantContext{}, false
	}
	return *tc, true
}

func markClientGone(c echo.Context) { c.Set(keyClientGone, true) }

func isClientGone(c echo.Context) bool {
	gone, _ := c.Get(keyClientGone).(bool)
	return gone
}

// LogFields returns the request_id, tenant_id and user_id of the request as zap fields,
// for any log line written while handling it.
func LogFields(c echo.Context) []zap.Field { return logFields(c) }

func logFields(c echo.Context) []zap.Field {
	fs := make([]zap.Field, 0, 3)
	fs = append(fs, zap.String("request_id", RequestID(c)))
	var tenant domain.TenantID
	var user domain.UserID
	if tc, ok := tenantOf(c); ok {
		tenant, user = tc.Tenant.ID, tc.Principal.UserID
	} else if p, ok := principalOf(c); ok {
		tenant, user = p.TenantID, p.UserID
	}
	if tenant != "" {
		fs = append(fs, zap.String("tenant_id", string(tenant)))
	}
	if user != "" {
		fs = append(fs, zap.String("user_id", string(user)))
	}
	return fs
}

// marshalJSON encodes v without HTML escaping: responses are never HTML (nosniff is
// set), and quoted answers keep their "<", ">" and "&" readable. The result ends in a
// newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, domain.E(domain.KindInternal, codeInternal, "", err)
	}
	return buf.Bytes(), nil
}

// writeJSON writes v as JSON with the given status and content type.
func writeJSON(c echo.Context, status int, contentType string, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	c.Response().WriteHeader(status)
	_, err = c.Response().Write(b)
	return err
}

const mimeJSON = "application/json"

func sendJSON(c echo.Context, status int, v any) error { return writeJSON(c, status, mimeJSON, v) }

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	bits := 128
	if p.Addr().Is4() {
		bits = 32
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}
