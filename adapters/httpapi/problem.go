package httpapi

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
)

// ProblemTypeBase prefixes every problem type URI; the problem's code completes it.
const ProblemTypeBase = "https://tenantry.dev/problems/"

const (
	mimeProblem      = "application/problem+json"
	internalDetail   = "an internal error occurred; quote the request id when reporting it"
	codeInternal     = "internal"
	codeMethodNotAll = "method_not_allowed"
)

// problem is an RFC 9457 problem details object with tenantry's extensions.
type problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	Code      string         `json:"code"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []fieldProblem `json:"errors,omitempty"`

	retryAfter int
}

type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

var kindStatus = map[domain.Kind]int{
	domain.KindInternal:         http.StatusInternalServerError,
	domain.KindInvalid:          http.StatusBadRequest,
	domain.KindUnauthenticated:  http.StatusUnauthorized,
	domain.KindForbidden:        http.StatusForbidden,
	domain.KindNotFound:         http.StatusNotFound,
	domain.KindConflict:         http.StatusConflict,
	domain.KindRateLimited:      http.StatusTooManyRequests,
	domain.KindUnavailable:      http.StatusServiceUnavailable,
	domain.KindTooLarge:         http.StatusRequestEntityTooLarge,
	domain.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	domain.KindUnprocessable:    http.StatusUnprocessableEntity,
}

// statusOf maps a kind to its HTTP status; this table is the only such mapping.
func statusOf(k domain.Kind) int {
	if s, ok := kindStatus[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// problems builds, logs and writes problem responses. It is the one place that turns
// errors into HTTP.
type problems struct {
	log *zap.Logger
}

// clientGone reports whether err or the request's context says the client went away.
func clientGone(c echo.Context, err error) bool { return clientGoneCtx(c.Request().Context(), err) }

// clientGoneCtx reports whether err or ctx says the client went away. A context the
// server cancelled with a cause of its own (serverCause) is not that: the client is
// still there and gets told why.
func clientGoneCtx(ctx context.Context, err error) bool {
	if serverCause(ctx) != nil {
		return false
	}
	// A body that did not arrive within the server's read timeout also cancels the
	// context, but that client is still there, just slow: it gets a problem, not the
	// silent 200 net/http would send for a handler that wrote nothing.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return errors.Is(err, context.Canceled) || ctx.Err() != nil
}

// serverCause returns the *domain.Error the server cancelled ctx with (bootstrap
// cancels open streams with one when it shuts down), or nil while the context is live
// or when it ended because the client left.
func serverCause(ctx context.Context) *domain.Error {
	if ctx.Err() == nil {
		return nil
	}
	return domain.AsError(context.Cause(ctx))
}

// handle is Echo's HTTPErrorHandler.
func (p problems) handle(err error, c echo.Context) {
	if c.Response().Committed {
		p.log.Debug("error after response was committed", append(logFields(c), zap.Error(err))...)
		return
	}
	if clientGone(c, err) {
		markClientGone(c)
		p.log.Debug("client went away", append(logFields(c), zap.Error(err))...)
		return
	}
	pr := p.build(c, err)
	p.logError(c, pr, err)
	writeProblem(c, pr)
}

// build turns err into a problem for request c.
func (p problems) build(c echo.Context, err error) problem {
	return p.buildFor(c.Request().Context(), c.Request().URL.Path, RequestID(c), err)
}

// buildFor turns err into a problem for the request at instance whose context is ctx.
func (p problems) buildFor(ctx context.Context, instance, requestID string, err error) problem {
	if cause := serverCause(ctx); cause != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		err = cause.With(err)
	}
	pr := fromError(err)
	pr.Instance = instance
	pr.RequestID = requestID
	return pr
}

// logError logs err once: 5xx at Error with the cause chain, 4xx at Debug.
func (p problems) logError(c echo.Context, pr problem, err error) {
	p.logErrorWith(logFields(c), pr, err)
}

// logErrorWith is logError for a request whose log fields were taken beforehand.
func (p problems) logErrorWith(fields []zap.Field, pr problem, err error) {
	fields = append(fields[:len(fields):len(fields)], zap.Int("status", pr.Status), zap.String("code", pr.Code), zap.Error(err))
	if pr.Status >= 500 {
		p.log.Error("request failed", fields...)
		return
	}
	p.log.Debug("request rejected", fields...)
}

func writeProblem(c echo.Context, pr problem) {
	h := c.Response().Header()
	if pr.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	setRetryHeaders(h, pr)
	h.Set("Cache-Control", "no-store")
	writeJSON(c, pr.Status, mimeProblem, pr)
}

// notRetryable are the 429 codes that an immediate retry cannot cure: the OpenAI SDKs
// retry every 429 unless told otherwise by x-should-retry.
var notRetryable = map[string]bool{domain.ErrQuotaExceeded.Code: true, domain.ErrTooManyStreams.Code: true}

// setRetryHeaders says when (Retry-After, when known) and whether (x-should-retry) the
// request of a 429 or 503 may be repeated.
func setRetryHeaders(h http.Header, pr problem) {
	if pr.Status != http.StatusTooManyRequests && pr.Status != http.StatusServiceUnavailable {
		return
	}
	if pr.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(pr.retryAfter))
	}
	if notRetryable[pr.Code] {
		h.Set("X-Should-Retry", "false")
	}
}

// fromError classifies err. Domain errors keep their code and safe detail; Echo's own
// errors (unknown route, wrong method, body limit, bad binding) become problems too; any
// other error is internal and its text never reaches the client.
func fromError(err error) problem {
	if de := domain.AsError(err); de != nil {
		return fromDomain(de)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEcho(he)
	}
	return newProblem(http.StatusInternalServerError, codeInternal, internalDetail)
}

func fromDomain(de *domain.Error) problem {
	status := statusOf(de.Kind)
	if status >= 500 && de.Kind == domain.KindInternal {
		return newProblem(status, codeInternal, internalDetail)
	}
	code := de.Code
	if code == "" {
		code = de.Kind.String()
	}
	pr := newProblem(status, code, de.Detail)
	for _, f := range de.Fields {
		pr.Errors = append(pr.Errors, fieldProblem{Field: f.Field, Message: f.Message})
	}
	pr.retryAfter = de.RetryAfterSeconds
	return pr
}

var echoCodes = map[int]string{
	http.StatusBadRequest:            "invalid_request",
	http.StatusUnauthorized:          "invalid_token",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      codeMethodNotAll,
	http.StatusRequestEntityTooLarge: domain.KindTooLarge.String(),
	http.StatusUnsupportedMediaType:  domain.KindUnsupportedMedia.String(),
	http.StatusTooManyRequests:       "rate_limited",
	http.StatusServiceUnavailable:    "unavailable",
}

var echoDetails = map[int]string{
	http.StatusNotFound:              "no route matches this path",
	http.StatusMethodNotAllowed:      "this route does not support the request method",
	http.StatusRequestEntityTooLarge: "the request body is too large",
	http.StatusUnsupportedMediaType:  "the request content type is not supported",
}

func fromEcho(he *echo.HTTPError) problem {
	status := he.Code
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		return newProblem(http.StatusInternalServerError, codeInternal, internalDetail)
	}
	code, ok := echoCodes[status]
	if !ok {
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	}
	detail, ok := echoDetails[status]
	if !ok {
		detail = strings.ToLower(http.StatusText(status))
	}
	return newProblem(status, code, detail)
}

func newProblem(status int, code, detail string) problem {
	return problem{Type: ProblemTypeBase + code, Title: titleOf(code), Status: status, Code: code, Detail: detail}
}

// titleOf derives the title from the code, so one type URI always has one title.
func titleOf(code string) string {
	t := strings.ReplaceAll(code, "_", " ")
	if t == "" {
		return "Error"
	}
	return strings.ToUpper(t[:1]) + t[1:]
}
