package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type tenantHandlers struct {
	tenants *application.ManageTenants
}

// actor names the caller of an administrative write for the audit log.
func actor(c echo.Context, p domain.Principal) application.Actor {
	return application.Actor{Principal: p, RequestID: RequestID(c)}
}

// own serves GET /tenant: the caller's tenant, secrets masked.
func (h tenantHandlers) own(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	t, err := h.tenants.Get(c.Request().Context(), tc.Principal, tc.Tenant.ID)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, toTenantJSON(t))
}

// patchOwn serves PATCH /tenant.
func (h tenantHandlers) patchOwn(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	return h.patch(c, tc.Principal, tc.Tenant.ID)
}

func (h tenantHandlers) patch(c echo.Context, p domain.Principal, id domain.TenantID) error {
	body, err := readJSONBody(c, mimeMergePatch, mimeJSON)
	if err != nil {
		return err
	}
	patch, err := parseTenantPatch(body)
	if err != nil {
		return err
	}
	t, err := h.tenants.Update(c.Request().Context(), actor(c, p), id, patch)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, toTenantJSON(t))
}

// tenantIDParam validates the {id} path parameter; a malformed id cannot name a
// tenant, so it is 404 like any unknown one.
func tenantIDParam(c echo.Context) (domain.TenantID, error) {
	id, err := domain.ParseTenantID(c.Param("id"))
	if err != nil {
		return "", domain.ErrNotFound.WithDetail("no such tenant")
	}
	return id, nil
}

// list serves GET /admin/tenants.
func (h tenantHandlers) list(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	page, err := parsePage(c.QueryParams())
	if err != nil {
		return err
	}
	ts, err := h.tenants.List(c.Request().Context(), p, page)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, newList(ts, page, toTenantJSON))
}

type createTenantRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// create serves POST /admin/tenants.
func (h tenantHandlers) create(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	var in createTenantRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	t, err := h.tenants.Create(c.Request().Context(), actor(c, p), in.ID, in.Name)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/admin/tenants/"+string(t.ID))
	return sendJSON(c, http.StatusCreated, toTenantJSON(t))
}

// get serves GET /admin/tenants/{id}.
func (h tenantHandlers) get(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	t, err := h.tenants.Get(c.Request().Context(), p, id)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, toTenantJSON(t))
}

// patchAny serves PATCH /admin/tenants/{id}.
func (h tenantHandlers) patchAny(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	return h.patch(c, p, id)
}

// remove serves DELETE /admin/tenants/{id}; the tenant must be suspended first.
func (h tenantHandlers) remove(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	id, err := tenantIDParam(c)
	if err != nil {
		return err
	}
	if err := h.tenants.Delete(c.Request().Context(), actor(c, p), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
