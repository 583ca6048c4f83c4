package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tenantry/tenantry/domain"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want domain.Kind
	}{
		{name: "named error", err: domain.ErrTenantSuspended, want: domain.KindForbidden},
		{name: "wrapped once", err: fmt.Errorf("load tenant acme: %w", domain.ErrNotFound), want: domain.KindNotFound},
		{name: "wrapped twice", err: fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", domain.ErrUnavailable)), want: domain.KindUnavailable},
		{name: "joined", err: errors.Join(errors.New("plain"), domain.ErrConflict), want: domain.KindConflict},
		{name: "with detail", err: domain.ErrRateLimited.WithDetail("slow down %d", 3), want: domain.KindRateLimited},
		{name: "with cause", err: domain.ErrInvalidToken.With(errors.New("bad signature")), want: domain.KindUnauthenticated},
		{name: "built with E", err: domain.E(domain.KindTooLarge, "too_large", "too big", nil), want: domain.KindTooLarge},
		{name: "invalid fields", err: domain.Invalid(domain.FieldError{Field: "x", Message: "y"}), want: domain.KindInvalid},
		{name: "outermost domain error wins", err: domain.ErrForbidden.With(domain.ErrNotFound), want: domain.KindForbidden},
		{name: "plain error", err: errors.New("boom"), want: domain.KindInternal},
		{name: "nil", err: nil, want: domain.KindInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := domain.KindOf(tc.err)
			assert.Equal(t, tc.want, got, "got %s want %s", got, tc.want)
		})
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{name: "itself", err: domain.ErrNotFound, target: domain.ErrNotFound, want: true},
		{name: "wrapped with fmt", err: fmt.Errorf("get user: %w", domain.ErrNotFound), target: domain.ErrNotFound, want: true},
		{name: "copy with another detail", err: domain.ErrNotFound.WithDetail("the user does not exist"), target: domain.ErrNotFound, want: true},
		{name: "copy with retry after", err: domain.ErrRateLimited.WithRetryAfter(9), target: domain.ErrRateLimited, want: true},
		{name: "copy with a cause", err: domain.ErrInvalidToken.With(errors.New("expired")), target: domain.ErrInvalidToken, want: true},
		{name: "cause is found too", err: domain.ErrInvalidCredentials.With(domain.ErrUserDisabled), target: domain.ErrUserDisabled, want: true},
		{name: "same kind, other code", err: domain.ErrUserDisabled, target: domain.ErrInvalidCredentials, want: false},
		{name: "same kind, other code (forbidden)", err: domain.ErrTenantSuspended, target: domain.ErrTenantRequired, want: false},
		{name: "rebuilt by E with the same kind and code", err: domain.E(domain.KindNotFound, "not_found", "gone", nil), target: domain.ErrNotFound, want: true},
		{name: "other kind, same code", err: domain.E(domain.KindConflict, "not_found", "", nil), target: domain.ErrNotFound, want: false},
		{name: "plain error", err: errors.New("not_found"), target: domain.ErrNotFound, want: false},
		{name: "plain target", err: domain.ErrNotFound, target: errors.New("not_found"), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, errors.Is(tc.err, tc.target))
		})
	}
}

func TestErrorCopiesLeaveNamedErrorsAlone(t *testing.T) {
	t.Parallel()
	before := *domain.ErrRateLimited

	a := domain.ErrRateLimited.WithDetail("custom").WithRetryAfter(30).With(errors.New("cause"))

	assert.Equal(t, before, *domain.ErrRateLimited)
	assert.Equal(t, "custom", a.Detail)
	assert.Equal(t, 30, a.RetryAfterSeconds)
	assert.EqualError(t, a.Err, "cause")
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *domain.Error
		want string
	}{
		{name: "code and detail", err: domain.ErrNotFound, want: "not_found: the resource does not exist"},
		{name: "with cause", err: domain.ErrUnavailable.With(errors.New("dial tcp: refused")), want: "unavailable: a dependency is unavailable; try again shortly: dial tcp: refused"},
		{name: "code only", err: domain.E(domain.KindInternal, "internal", "", nil), want: "internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

func TestInvalidDetail(t *testing.T) {
	t.Parallel()
	one := domain.Invalid(domain.FieldError{Field: "email", Message: "must be valid"})
	assert.Equal(t, "email: must be valid", one.Detail)
	assert.Equal(t, "invalid_request", one.Code)

	two := domain.Invalid(domain.FieldError{Field: "a", Message: "x"}, domain.FieldError{Field: "b", Message: "y"})
	assert.Equal(t, "the request has invalid fields", two.Detail)
	assert.Len(t, two.Fields, 2)
}

func TestAsError(t *testing.T) {
	t.Parallel()
	wrapped := fmt.Errorf("ctx: %w", domain.ErrQuotaExceeded.WithRetryAfter(60))
	got := domain.AsError(wrapped)
	if assert.NotNil(t, got) {
		assert.Equal(t, "quota_exceeded", got.Code)
		assert.Equal(t, 60, got.RetryAfterSeconds)
	}
	assert.Nil(t, domain.AsError(errors.New("plain")))
	assert.Nil(t, domain.AsError(nil))
}

func TestKindString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind domain.Kind
		want string
	}{
		{name: "zero value is internal", kind: 0, want: "internal"},
		{name: "not found", kind: domain.KindNotFound, want: "not_found"},
		{name: "rate limited", kind: domain.KindRateLimited, want: "rate_limited"},
		{name: "unsupported media", kind: domain.KindUnsupportedMedia, want: "unsupported_media_type"},
		{name: "unprocessable", kind: domain.KindUnprocessable, want: "unprocessable"},
		{name: "unknown", kind: domain.Kind(99), want: "kind(99)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.kind.String())
		})
	}
}
