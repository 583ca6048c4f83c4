package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
)

const (
	headerRequestID    = "X-Request-ID"
	maxRequestIDLength = 128
)

// saneRequestID reports whether a client-sent request id may be reused: at most 128
// characters of [A-Za-z0-9._-], so it is safe in logs and headers.
func saneRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// requestID takes a sane X-Request-ID or generates one, stores it in the Echo context
// and the request context, and echoes it in the response.
func requestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(headerRequestID)
			if !saneRequestID(id) {
				id = newRequestID()
			}
			c.Set(keyRequestID, id)
			c.SetRequest(c.Request().WithContext(withRequestID(c.Request().Context(), id)))
			c.Response().Header().Set(headerRequestID, id)
			return next(c)
		}
	}
}

// requestLog writes one line per request. It hands errors to the error handler itself,
// so the line carries the status that was actually sent. An event stream's handler
// returns when the stream ends, so its line has the whole duration and size.
func requestLog(log *zap.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			logRequest(log, c, start, next(c))
			return nil
		}
	}
}

// logRequest hands err, if any, to the error handler and writes the request's log line.
// It is apart from requestLog's handler so that its locals (the line's fields) are not
// on the stack while the request is served.
func logRequest(log *zap.Logger, c echo.Context, start time.Time, err error) {
	if err != nil {
		c.Error(err)
	}
	status := c.Response().Status
	if isClientGone(c) && !c.Response().Committed {
		status = 499 // client closed request; nothing was sent
	}
	route := c.Path()
	var he *echo.HTTPError
	if errors.As(err, &he) && (he.Code == http.StatusNotFound || he.Code == http.StatusMethodNotAllowed) {
		route = "" // unmatched: the raw path would make the field unbounded
	}
	fields := append([]zap.Field{
		zap.String("method", c.Request().Method),
		zap.String("route", route),
		zap.Int("status", status),
		zap.Duration("latency", time.Since(start)),
		zap.Int64("bytes", c.Response().Size),
	}, logFields(c)...)
	log.Info("request", fields...)
}

// recoverPanic turns a panic into an internal error (logged with its stack by the error
// handler). http.ErrAbortHandler is re-raised, as net/http expects.
func recoverPanic() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				r := recover()
				if r == nil {
					return
				}
				if r == http.ErrAbortHandler {
					panic(r)
				}
				stack := make([]byte, 8<<10)
				stack = stack[:runtime.Stack(stack, false)]
				err = domain.E(domain.KindInternal, codeInternal, "", fmt.Errorf("panic: %v\n%s", r, stack))
			}()
			return next(c)
		}
	}
}

// securityHeaders sets headers that keep browsers from sniffing, framing or leaking
// referrers for API responses.
func securityHeaders(csp string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			if csp != "" {
				h.Set("Content-Security-Policy", csp)
			}
			return next(c)
		}
	}
}

var errBodyTooLarge = domain.E(domain.KindTooLarge, domain.KindTooLarge.String(), "the request body is too large", nil)

// bodyLimit caps request bodies. limitFor picks the cap for the matched route; 0 leaves
// the route to cap its own body (the OAuth endpoints, which answer in their own error
// form). A declared Content-Length over the cap fails at once; otherwise reading past
// it fails with *http.MaxBytesError, which the decoders turn into 413.
func bodyLimit(limitFor func(c echo.Context) int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Body == nil || r.Body == http.NoBody {
				return next(c)
			}
			n := limitFor(c)
			if n <= 0 {
				return next(c)
			}
			if r.ContentLength > n {
				return errBodyTooLarge
			}
			r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, n)
			return next(c)
		}
	}
}

// readError classifies an error from reading a request body.
func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errBodyTooLarge.With(err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return domain.E(domain.KindInvalid, "invalid_request", "the request body did not arrive within the server's read timeout", err)
	}
	return domain.E(domain.KindInvalid, "invalid_request", "the request body could not be read", err)
}
