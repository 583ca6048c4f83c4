package pinecone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantry/tenantry/domain"
)

// APIVersion is the Pinecone API version pinned on every request, the one place it is
// named. Pinecone supports a stable version for 12 months after its release; 2025-10 is
// the version Pinecone's own SDKs pin, and documents every call this package makes.
const APIVersion = "2025-10"

// DefaultInferenceHost is Pinecone's control-plane host, which serves Inference.
const DefaultInferenceHost = "https://api.pinecone.io"

// maxResponseBytes bounds what one response may hold (a query of 10,000 matches with
// metadata stays far below it).
const maxResponseBytes = 64 << 20

// transport sends authenticated JSON requests to one Pinecone host with timeouts and
// bounded retries, and turns failures into *domain.Error values.
type transport struct {
	base    *url.URL
	key     domain.Secret
	client  *http.Client
	timeout time.Duration
	retry   RetryPolicy
}

func newTransport(host string, key domain.Secret, client *http.Client, timeout time.Duration, retry RetryPolicy) (*transport, error) {
	base, err := parseHost(host)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{}
	}
	// A redirect would carry the Api-Key header to wherever it points: never follow one.
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client = &noRedirect
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &transport{base: base, key: key, client: client, timeout: timeout, retry: retry.withDefaults()}, nil
}

// parseHost accepts an index host as Pinecone shows it (bare "name-xyz.svc....pinecone.io",
// meaning https) or as a URL.
func parseHost(host string) (*url.URL, error) {
	host = strings.TrimSpace(host)
	if host == "" {
		return nil, domain.Invalid(domain.FieldError{Field: "vector_store.index_host", Message: "is required for pinecone"})
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, domain.Invalid(domain.FieldError{Field: "vector_store.index_host", Message: "must be a host name or an http(s) URL"})
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// call is one API request: an escaped path below the host, an optional query and a
// JSON body.
type call struct {
	method string
	path   string
	query  url.Values
	body   any
}

// do sends c, retrying per the policy, and decodes a 2xx JSON answer into out (nil to
// discard it). Pinecone's data-plane writes are idempotent, so every call may be retried.
func (t *transport) do(ctx context.Context, c call, out any) error {
	var payload []byte
	if c.body != nil {
		var err error
		if payload, err = json.Marshal(c.body); err != nil {
			return domain.E(domain.KindInternal, "encode_failed", "", fmt.Errorf("encode pinecone request: %w", err))
		}
	}
	deadline := time.Now().Add(t.retry.MaxElapsed)
	for attempt := 1; ; attempt++ {
		res, err := t.once(ctx, c, payload, deadline)
		if err == nil && res.status/100 == 2 {
			return decode(res.body, out)
		}
		if ctx.Err() != nil {
			return ctxError(ctx)
		}
		failure, retryable := t.classify(res, err)
		if !retryable || attempt >= t.retry.MaxAttempts {
			return failure
		}
		wait := t.retry.backoff(attempt)
		if ra, ok := retryAfter(res.header, time.Now()); ok {
			wait = ra
		}
		if time.Now().Add(wait).After(deadline) {
			return failure
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctxError(ctx)
		case <-timer.C:
		}
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// once makes a single attempt bounded by the per-call timeout and the call's overall
// deadline, reading the whole body before either ends.
func (t *transport) once(ctx context.Context, c call, payload []byte, deadline time.Time) (response, error) {
	end := time.Now().Add(t.timeout)
	if deadline.Before(end) {
		end = deadline
	}
	actx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	u, err := url.Parse(t.base.String() + c.path)
	if err != nil {
		return response{}, err
	}
	if len(c.query) > 0 {
		u.RawQuery = c.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, c.method, u.String(), body)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Api-Key", t.key.Reveal())
	req.Header.Set("X-Pinecone-Api-Version", APIVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tenantry")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return response{header: resp.Header}, err
	}
	if len(data) > maxResponseBytes {
		return response{header: resp.Header}, fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// classify maps a failed attempt to the error returned if no retry follows, and says
// whether a retry may help.
func (t *transport) classify(res response, err error) (*domain.Error, bool) {
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return domain.E(domain.KindUnavailable, "vendor_timeout",
				fmt.Sprintf("Pinecone did not answer within %s", t.timeout), t.redact(err)), true
		}
		return domain.E(domain.KindUnavailable, "vendor_unreachable", "Pinecone could not be reached; try again shortly", t.redact(err)), true
	}
	cause := &apiError{Status: res.status, Message: t.redactString(vendorMessage(res.body))}
	switch s := res.status; {
	case s == http.StatusTooManyRequests:
		wait := t.retry.BaseDelay
		if ra, ok := retryAfter(res.header, time.Now()); ok {
			wait = ra
		}
		return domain.E(domain.KindRateLimited, "vendor_rate_limited",
			"the tenant's Pinecone project is rate limited; try again shortly", cause).WithRetryAfter(ceilSeconds(wait)), true
	case s >= 500:
		e := domain.E(domain.KindUnavailable, "vendor_unavailable", "Pinecone is unavailable; try again shortly", cause)
		if ra, ok := retryAfter(res.header, time.Now()); ok {
			e = e.WithRetryAfter(ceilSeconds(ra))
		}
		return e, true
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		// The vendor's message may quote part of the key back: keep only the status.
		return domain.E(domain.KindUnavailable, "vendor_key_rejected", "the tenant's Pinecone API key was rejected",
			&apiError{Status: s}), false
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		return domain.E(domain.KindInvalid, "vendor_invalid_request", "Pinecone rejected the request as invalid", cause), false
	default:
		return domain.E(domain.KindUnavailable, "vendor_error", fmt.Sprintf("Pinecone answered with status %d", s), cause), false
	}
}

// ctxError reports the caller's cancellation as is; a deadline the caller set is a
// timeout of the dependency, hence Unavailable.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return domain.E(domain.KindUnavailable, "vendor_timeout", "Pinecone did not answer in time", err)
	}
	return err
}

func decode(body []byte, out any) error {
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return domain.E(domain.KindUnavailable, "vendor_bad_response", "Pinecone sent an unreadable answer", fmt.Errorf("decode pinecone response: %w", err))
	}
	return nil
}

// apiError is a non-2xx answer from Pinecone, kept as the cause of a *domain.Error.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("pinecone status %d", e.Status)
	}
	return fmt.Sprintf("pinecone status %d: %s", e.Status, e.Message)
}

// statusOf returns the HTTP status of a Pinecone answer in err's chain, or 0.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// vendorMessage extracts the message of Pinecone's error bodies: the data plane's
// {"code":..,"message":..} and Inference's {"error":{"code":..,"message":..}}.
func vendorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return e.Message
		}
		if e.Error.Message != "" {
			return strings.TrimSpace(e.Error.Code + " " + e.Error.Message)
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// redactString removes the API key should a vendor ever echo it.
func (t *transport) redactString(s string) string {
	if k := t.key.Reveal(); len(k) >= 4 {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	return s
}

func (t *transport) redact(err error) error {
	if k := t.key.Reveal(); len(k) >= 4 && strings.Contains(err.Error(), k) {
		return errors.New(t.redactString(err.Error()))
	}
	return err
}
