package openai

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/tenantry/tenantry/domain"
)

// Error codes of this adapter, stable for clients and logs.
const (
	CodeKeyRejected   = "vendor_key_rejected"
	CodeRateLimited   = "vendor_rate_limited"
	CodeQuota         = "vendor_quota_exhausted"
	CodeUnavailable   = "vendor_unavailable"
	CodeUnreachable   = "vendor_unreachable"
	CodeTimeout       = "vendor_timeout"
	CodeStreamCut     = "vendor_stream_cut"
	CodeStreamError   = "vendor_stream_error"
	CodeInvalid       = "vendor_invalid_request"
	CodeBadResponse   = "vendor_bad_response"
	CodeDimensionsOff = "embedding_dimension_mismatch"
)

// vendorError translates an SDK failure into a *domain.Error. The SDK's own error text
// is a status summary only; the provider's message is kept (with the key removed)
// except for authentication failures, whose messages may echo part of the key.
func vendorError(err error, key domain.Secret, reached bool) *domain.Error {
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		return statusError(apiErr, key)
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		return domain.E(domain.KindUnavailable, CodeStreamError, "the model reported an error in the middle of its answer",
			errors.New(redact("model stream error: "+string(streamErr.Event.Data), key)))
	}
	if !reached {
		return domain.E(domain.KindUnavailable, CodeUnreachable, "the model provider could not be reached; try again shortly", redactErr(err, key))
	}
	return domain.E(domain.KindUnavailable, CodeStreamCut, "the model stream ended early", redactErr(err, key))
}

func statusError(e *sdk.Error, key domain.Secret) *domain.Error {
	status := e.StatusCode
	cause := fmt.Errorf("%s", e.Error())
	if status != http.StatusUnauthorized && status != http.StatusForbidden && e.Message != "" {
		cause = fmt.Errorf("%s: %s", e.Error(), redact(e.Message, key))
	}
	switch {
	case status == http.StatusTooManyRequests && e.Code == "insufficient_quota":
		return domain.E(domain.KindUnavailable, CodeQuota, "the tenant's model provider account has no quota left", cause)
	case status == http.StatusTooManyRequests:
		return domain.E(domain.KindRateLimited, CodeRateLimited, "the tenant's model provider is rate limiting; try again shortly", cause).
			WithRetryAfter(retryAfterSeconds(e, 1))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return domain.E(domain.KindUnavailable, CodeKeyRejected, "the tenant's model API key was rejected", cause)
	case status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusUnprocessableEntity:
		return domain.E(domain.KindInvalid, CodeInvalid, fmt.Sprintf("the model provider refused the request (status %d); check the tenant's model settings", status), cause)
	case status >= 500:
		return domain.E(domain.KindUnavailable, CodeUnavailable, "the model provider is unavailable; try again shortly", cause).
			WithRetryAfter(retryAfterSeconds(e, 0))
	default:
		return domain.E(domain.KindUnavailable, CodeUnavailable, fmt.Sprintf("the model provider answered with status %d", status), cause)
	}
}

// retryAfterSeconds is the answer's Retry-After rounded up to whole seconds (at least
// one), or def when it has none.
func retryAfterSeconds(e *sdk.Error, def int) int {
	if e.Response == nil {
		return def
	}
	d, ok := retryAfter(e.Response.Header, time.Now())
	if !ok {
		return def
	}
	return max(int(math.Ceil(d.Seconds())), 1)
}

// retryAfter reads OpenAI's retry-after-ms, then the standard Retry-After (seconds or
// an HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// redact removes the key from s should a provider or a transport ever echo it.
func redact(s string, key domain.Secret) string {
	if k := key.Reveal(); len(k) >= 4 {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	return s
}

func redactErr(err error, key domain.Secret) error {
	if k := key.Reveal(); len(k) >= 4 && strings.Contains(err.Error(), k) {
		return errors.New(redact(err.Error(), key))
	}
	return err
}
