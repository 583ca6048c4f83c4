package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

const keyHead = "httpapi.head"

// headAsGet answers HEAD on every GET route, as RFC 9110 (section 9.3.2) requires:
// the router finds the request as GET, then restoreHead gives it back its method, so
// that handlers, logs and metrics see HEAD and net/http sends GET's status and headers
// (Content-Length included) without the body. It runs before compression, so a HEAD
// that negotiates gzip carries the compressed GET's Content-Encoding and Vary. A path
// without a GET route answers HEAD as it would GET (404 or 405).
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Method == http.MethodHead {
			// Echo routes on the request it was handed, so the method changes in place.
			r.Method = http.MethodGet
			c.Set(keyHead, true)
		}
		return next(c)
	}
}

// restoreHead runs after routing and undoes headAsGet.
func restoreHead(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if head, _ := c.Get(keyHead).(bool); head {
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}
