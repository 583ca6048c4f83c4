package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type reindexHandlers struct {
	reindex *application.Reindex
}

// reindexJSON is a tenant's re-index job: its progress in chunks, and whether the
// tenant's vectors are in use yet (serving_mode is lexical until they are).
type reindexJSON struct {
	ID           string     `json:"id,omitempty"`
	TenantID     string     `json:"tenant_id"`
	State        string     `json:"state"`
	Done         int        `json:"done"`
	Total        int        `json:"total"`
	StartedAt    *time.Time `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	Error        *string    `json:"error"`
	VectorsReady bool       `json:"vectors_ready"`
	ServingMode  string     `json:"serving_mode"`
}

func toReindexJSON(j domain.ReindexJob, t domain.Tenant) reindexJSON {
	out := reindexJSON{ID: j.ID, TenantID: string(t.ID), State: j.State, Done: j.Done, Total: j.Total,
		VectorsReady: t.Vectors.Ready, ServingMode: t.ServingMode()}
	if !j.StartedAt.IsZero() {
		out.StartedAt = &j.StartedAt
	}
	if !j.FinishedAt.IsZero() {
		out.FinishedAt = &j.FinishedAt
	}
	if j.Error != "" {
		out.Error = &j.Error
	}
	return out
}

// ownStatus serves GET /tenant/reindex.
func (h reindexHandlers) ownStatus(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	return h.status(c, application.Actor{Principal: tc.Principal, RequestID: RequestID(c), Scope: tc.Tenant.ID}, tc.Tenant.ID)
}

// startOwn serves POST /tenant/reindex.
func (h reindexHandlers) startOwn(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	return h.start(c, application.Actor{Principal: tc.Principal, RequestID: RequestID(c), Scope: tc.Tenant.ID}, tc.Tenant.ID)
}

// anyStatus serves GET /admin/tenants/{id}/reindex.
func (h reindexHandlers) anyStatus(c echo.Context) error {
	who, id, err := h.adminTarget(c)
	if err != nil {
		return err
	}
	return h.status(c, who, id)
}

// startAny serves POST /admin/tenants/{id}/reindex.
func (h reindexHandlers) startAny(c echo.Context) error {
	who, id, err := h.adminTarget(c)
	if err != nil {
		return err
	}
	return h.start(c, who, id)
}

func (h reindexHandlers) adminTarget(c echo.Context) (application.Actor, domain.TenantID, error) {
	p, err := mustPrincipal(c)
	if err != nil {
		return application.Actor{}, "", err
	}
	id, err := tenantIDParam(c)
	if err != nil {
		return application.Actor{}, "", err
	}
	return actor(c, p), id, nil
}

func (h reindexHandlers) status(c echo.Context, who application.Actor, id domain.TenantID) error {
	job, t, err := h.reindex.Status(c.Request().Context(), who, id)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, toReindexJSON(job, t))
}

// start answers 202 with the new job; the work goes on in the background.
func (h reindexHandlers) start(c echo.Context, who application.Actor, id domain.TenantID) error {
	ctx := c.Request().Context()
	if _, err := h.reindex.Start(ctx, who, id); err != nil {
		return err
	}
	job, t, err := h.reindex.Status(ctx, who, id)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusAccepted, toReindexJSON(job, t))
}
