// Package domain holds tenantry's entities and business rules. It imports only the
// standard library: no struct tags, no context, no I/O, no logging, no hidden clock.
package domain

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that outer layers can react without knowing its cause.
// The zero value is KindInternal.
type Kind int

// The error kinds; the HTTP adapter alone maps them to statuses.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindRateLimited
	KindUnavailable
	KindTooLarge
	KindUnsupportedMedia
	// KindUnprocessable is well-formed input whose content cannot be used, such as a
	// corrupt or password-protected file.
	KindUnprocessable
)

var kindNames = map[Kind]string{
	KindInternal:         "internal",
	KindInvalid:          "invalid",
	KindUnauthenticated:  "unauthenticated",
	KindForbidden:        "forbidden",
	KindNotFound:         "not_found",
	KindConflict:         "conflict",
	KindRateLimited:      "rate_limited",
	KindUnavailable:      "unavailable",
	KindTooLarge:         "too_large",
	KindUnsupportedMedia: "unsupported_media_type",
	KindUnprocessable:    "unprocessable",
}

// String returns the kind's stable lowercase name.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FieldError names one invalid input field and says what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

// Error is tenantry's one error type. Detail is safe to show to a client; Err is the
// cause, logged but never serialized.
type Error struct {
	Kind   Kind
	Code   string // stable slug clients may branch on, e.g. "tenant_suspended"
	Detail string // safe to show to the client
	Fields []FieldError
	// RetryAfterSeconds is set on RateLimited and Unavailable errors when known.
	RetryAfterSeconds int
	Err               error // cause; logged, never serialized
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Kind and Code, so that a named
// failure such as ErrTenantSuspended matches any error built from it.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) || t == nil {
		return false
	}
	return e.Kind == t.Kind && e.Code == t.Code
}

// With returns a copy of e carrying cause as its Err.
func (e *Error) With(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// WithDetail returns a copy of e with a more specific client-safe detail.
func (e *Error) WithDetail(format string, args ...any) *Error {
	c := *e
	c.Detail = fmt.Sprintf(format, args...)
	return &c
}

// WithRetryAfter returns a copy of e that tells the client when to retry.
func (e *Error) WithRetryAfter(seconds int) *Error {
	c := *e
	c.RetryAfterSeconds = seconds
	return &c
}

// E builds a new error of the given kind.
func E(kind Kind, code, detail string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Detail: detail, Err: cause}
}

// Invalid builds a KindInvalid error listing the offending fields.
func Invalid(fields ...FieldError) *Error {
	detail := "the request has invalid fields"
	if len(fields) == 1 {
		detail = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: "invalid_request", Detail: detail, Fields: fields}
}

// KindOf returns the Kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Named failures, checked with errors.Is.
var (
	ErrNotFound            = &Error{Kind: KindNotFound, Code: "not_found", Detail: "the resource does not exist"}
	ErrConflict            = &Error{Kind: KindConflict, Code: "conflict", Detail: "the resource already exists"}
	ErrUnavailable         = &Error{Kind: KindUnavailable, Code: "unavailable", Detail: "a dependency is unavailable; try again shortly"}
	ErrRateLimited         = &Error{Kind: KindRateLimited, Code: "rate_limited", Detail: "too many requests"}
	ErrInvalidCredentials  = &Error{Kind: KindUnauthenticated, Code: "invalid_credentials", Detail: "invalid email or password"}
	ErrInvalidToken        = &Error{Kind: KindUnauthenticated, Code: "invalid_token", Detail: "the access token is missing, invalid or expired"}
	ErrInvalidRefreshToken = &Error{Kind: KindUnauthenticated, Code: "invalid_refresh_token", Detail: "the refresh token is invalid, expired or revoked"}
	ErrForbidden           = &Error{Kind: KindForbidden, Code: "forbidden", Detail: "you are not allowed to do this"}
	ErrTenantRequired      = &Error{Kind: KindForbidden, Code: "tenant_required", Detail: "this route needs a user assigned to a tenant"}
	ErrTenantSuspended     = &Error{Kind: KindForbidden, Code: "tenant_suspended", Detail: "the tenant is suspended"}
	ErrUserDisabled        = &Error{Kind: KindUnauthenticated, Code: "user_disabled", Detail: "invalid email or password"}
	ErrQuotaExceeded       = &Error{Kind: KindRateLimited, Code: "quota_exceeded", Detail: "the tenant's monthly token quota is used up"}
	ErrTooManyStreams      = &Error{Kind: KindRateLimited, Code: "too_many_streams", Detail: "the tenant has too many open chat streams"}
	ErrBusy                = &Error{Kind: KindUnavailable, Code: "busy", Detail: "the server is busy; try again shortly"}
)
