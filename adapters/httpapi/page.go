package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/domain"
)

const (
	maxPageLimit  = 100
	maxPageOffset = 1_000_000
)

// parsePage reads ?limit=&offset=. Absent values take the defaults; anything that is
// not a single integer in range is a 400 naming the parameter.
func parsePage(q url.Values) (domain.Page, error) {
	var fs []domain.FieldError
	limit, ok := intParam(q, "limit", 1, maxPageLimit)
	if !ok {
		fs = append(fs, domain.FieldError{Field: "limit", Message: "must be an integer between 1 and 100"})
	}
	offset, ok := intParam(q, "offset", 0, maxPageOffset)
	if !ok {
		fs = append(fs, domain.FieldError{Field: "offset", Message: "must be an integer between 0 and 1000000"})
	}
	if len(fs) > 0 {
		return domain.Page{}, domain.Invalid(fs...)
	}
	return domain.Page{Limit: limit, Offset: offset}.Normalize(), nil
}

// intParam returns the parameter, 0 when absent, and false when it is repeated, not a
// plain decimal integer, or outside [lo, hi].
func intParam(q url.Values, name string, lo, hi int) (int, bool) {
	vs, present := q[name]
	if !present {
		return 0, true
	}
	if len(vs) != 1 || vs[0] == "" || len(vs[0]) > 8 {
		return 0, false
	}
	for _, r := range vs[0] {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// listBody is the envelope of every paginated list.
type listBody[T any] struct {
	Items  []T `json:"items"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func newList[T, D any](items []D, page domain.Page, conv func(D) T) listBody[T] {
	out := make([]T, 0, len(items))
	for _, it := range items {
		out = append(out, conv(it))
	}
	return listBody[T]{Items: out, Limit: page.Limit, Offset: page.Offset}
}

// sendScopedList serves one page of a list that p reads in tenant's scope (every tenant
// when tenant is empty and p may see them all): fetch reads the page, render turns each
// item into its JSON form.
func sendScopedList[T, J any](c echo.Context, p domain.Principal, tenant domain.TenantID, fetch func(context.Context, domain.Principal, domain.TenantID, domain.Page) ([]T, error), render func(T) J) error {
	page, err := parsePage(c.QueryParams())
	if err != nil {
		return err
	}
	items, err := fetch(c.Request().Context(), p, tenant, page)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, newList(items, page, render))
}

// sendTenantList serves one page of a list of the caller's tenant: fetch reads the page,
// render turns each item into its JSON form.
func sendTenantList[T, J any](c echo.Context, fetch func(context.Context, domain.TenantContext, domain.Page) ([]T, error), render func(T) J) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	page, err := parsePage(c.QueryParams())
	if err != nil {
		return err
	}
	items, err := fetch(c.Request().Context(), tc, page)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, newList(items, page, render))
}
