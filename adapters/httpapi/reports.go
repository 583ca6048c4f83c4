package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

type usageTotalsJSON struct {
	TenantID         string    `json:"tenant_id"`
	PeriodStart      time.Time `json:"period_start"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	TotalTokens      int64     `json:"total_tokens"`
	ReadUnits        int64     `json:"read_units"`
	Requests         int64     `json:"requests"`
	EstimatedTokens  int64     `json:"estimated_tokens"`
}

func toUsageTotalsJSON(u domain.UsageTotals) usageTotalsJSON {
	return usageTotalsJSON{TenantID: string(u.TenantID), PeriodStart: u.PeriodStart, PromptTokens: u.PromptTokens,
		CompletionTokens: u.CompletionTokens, TotalTokens: u.Tokens(), ReadUnits: u.ReadUnits, Requests: u.Requests, EstimatedTokens: u.EstimatedTokens}
}

type tenantUsageJSON struct {
	usageTotalsJSON
	MonthlyTokenQuota int64  `json:"monthly_token_quota"`
	TokensLeft        *int64 `json:"tokens_left"`
}

type auditJSON struct {
	ID        string    `json:"id"`
	Actor     string    `json:"actor"`
	TenantID  *string   `json:"tenant_id"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Changed   []string  `json:"changed"`
	RequestID string    `json:"request_id"`
	At        time.Time `json:"at"`
}

func toAuditJSON(e domain.AuditEntry) auditJSON {
	changed := e.Changed
	if changed == nil {
		changed = []string{}
	}
	return auditJSON{ID: e.ID, Actor: e.Actor, TenantID: tenantIDOrNull(e.TenantID), Action: e.Action, Target: e.Target,
		Changed: changed, RequestID: e.RequestID, At: e.At}
}

type reportHandlers struct {
	reports *application.Reports
}

// usage serves GET /usage: the caller's tenant this month, with its quota.
func (h reportHandlers) usage(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	u, err := h.reports.Usage(c.Request().Context(), tc)
	if err != nil {
		return err
	}
	out := tenantUsageJSON{usageTotalsJSON: toUsageTotalsJSON(u.Totals), MonthlyTokenQuota: u.Quota}
	if u.Left >= 0 {
		left := u.Left
		out.TokensLeft = &left
	}
	return sendJSON(c, http.StatusOK, out)
}

type allUsageJSON struct {
	Items []usageTotalsJSON `json:"items"`
}

// allUsage serves GET /admin/usage: every tenant this month.
func (h reportHandlers) allUsage(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	us, err := h.reports.AllUsage(c.Request().Context(), p)
	if err != nil {
		return err
	}
	out := allUsageJSON{Items: make([]usageTotalsJSON, 0, len(us))}
	for _, u := range us {
		out.Items = append(out.Items, toUsageTotalsJSON(u))
	}
	return sendJSON(c, http.StatusOK, out)
}

// tenantAudit serves GET /tenant/audit: the caller's tenant, newest first.
func (h reportHandlers) tenantAudit(c echo.Context) error {
	return sendTenantList(c, h.reports.TenantAudit, toAuditJSON)
}

// adminAudit serves GET /admin/audit, optionally narrowed by ?tenant_id=.
func (h reportHandlers) adminAudit(c echo.Context) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(c)
	if err != nil {
		return err
	}
	return h.audit(c, p, tenant)
}

func (h reportHandlers) audit(c echo.Context, p domain.Principal, tenant domain.TenantID) error {
	return sendScopedList(c, p, tenant, h.reports.Audit, toAuditJSON)
}
