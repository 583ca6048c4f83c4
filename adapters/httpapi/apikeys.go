package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type apiKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	TenantID   string     `json:"tenant_id"`
	UserID     string     `json:"user_id"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// createdAPIKeyJSON is the answer to POST /tenant/api-keys: the only time the secret
// is shown.
type createdAPIKeyJSON struct {
	apiKeyJSON
	Key string `json:"key"`
}

// APIKeyRepresentation is a key as the API-key routes show it (never its secret or
// hash), for other presenters such as the CLI.
func APIKeyRepresentation(k domain.APIKey) any { return toAPIKeyJSON(k) }

func toAPIKeyJSON(k domain.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: string(k.ID), Name: k.Name, Prefix: k.Hint, TenantID: string(k.TenantID), UserID: string(k.UserID),
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

type apiKeyHandlers struct {
	keys *application.ManageAPIKeys
}

type createAPIKeyRequest struct {
	Name      string     `json:"name"`
	UserID    string     `json:"user_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// create serves POST /tenant/api-keys.
func (h apiKeyHandlers) create(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	var req createAPIKeyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	who := actor(c, tc.Principal)
	who.Scope = tc.Tenant.ID
	k, err := h.keys.Create(c.Request().Context(), who, application.NewAPIKeyInput{
		TenantID: tc.Tenant.ID, Name: req.Name, UserID: domain.UserID(req.UserID), ExpiresAt: req.ExpiresAt})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return sendJSON(c, http.StatusCreated, createdAPIKeyJSON{apiKeyJSON: toAPIKeyJSON(k.Key), Key: k.Secret})
}

// listInTenant serves GET /tenant/api-keys.
func (h apiKeyHandlers) listInTenant(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	return h.list(c, tc.Principal, tc.Tenant.ID)
}

// listAny serves GET /admin/api-keys, optionally narrowed by ?tenant_id=.
func (h apiKeyHandlers) listAny(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(c)
	if err != nil {
		return err
	}
	return h.list(c, p, tenant)
}

func (h apiKeyHandlers) list(c echo.Context, p domain.Principal, tenant domain.TenantID) error {
	return sendScopedList(c, p, tenant, h.keys.List, toAPIKeyJSON)
}

// revokeInTenant serves DELETE /tenant/api-keys/{id}; another tenant's key is 404.
func (h apiKeyHandlers) revokeInTenant(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	who := actor(c, tc.Principal)
	who.Scope = tc.Tenant.ID
	return h.revoke(c, who, tc.Tenant.ID)
}

// revokeAny serves DELETE /admin/api-keys/{id}.
func (h apiKeyHandlers) revokeAny(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	return h.revoke(c, actor(c, p), "")
}

func (h apiKeyHandlers) revoke(c echo.Context, who application.Actor, tenant domain.TenantID) error {
	id := domain.APIKeyID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return domain.ErrNotFound.WithDetail("no such API key")
	}
	if _, err := h.keys.Revoke(c.Request().Context(), who, tenant, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
