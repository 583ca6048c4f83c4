package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of every route of this adapter. A
// test sends real requests through the router and validates each request and response
// against it, and checks that it lists exactly the registered routes.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document served at GET /openapi.json.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

func openAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, mimeJSON, openAPIDocument)
}

// registerOps adds the operator routes: the OpenAPI document, and with metrics the
// Prometheus endpoint and the middleware that feeds it.
func registerOps(e *echo.Echo, cfg Config, d Deps) {
	e.GET("/openapi.json", openAPI)
	if d.Metrics != nil {
		e.Pre(d.Metrics.middleware(e))
		e.GET("/metrics", d.Metrics.handler(cfg.MetricsToken, cfg.MetricsPublic))
	}
}
