package httpapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/domain"
)

type statusJSON struct {
	Status string `json:"status"`
}

// healthz serves GET /healthz: the process is alive.
func healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return sendJSON(c, http.StatusOK, statusJSON{Status: "ok"})
}

// readyz serves GET /readyz: 200 when ready returns nil, else a 503 problem. A
// non-Unavailable error from ready is reported as Unavailable too, with its cause logged.
func readyz(ready func(ctx context.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ready != nil {
			if err := ready(c.Request().Context()); err != nil {
				if domain.KindOf(err) != domain.KindUnavailable {
					err = domain.ErrUnavailable.WithDetail("the service is not ready").With(err)
				}
				return err
			}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return sendJSON(c, http.StatusOK, statusJSON{Status: "ready"})
	}
}
