package httpapi

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/domain"
)

// rateLimitPolicy states the tenant's request budget on every /v1 response in the
// headers OpenAI's API sends (x-ratelimit-limit-requests, requests per minute) and in
// the IETF RateLimit-Policy header (draft-ietf-httpapi-ratelimit-headers). An unlimited
// tenant gets neither.
func rateLimitPolicy(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if tc, err := mustTenant(c); err == nil {
			if rpm := tc.Tenant.Limits.RequestsPerMinute; rpm > 0 {
				h := c.Response().Header()
				h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(rpm))
				h.Set("RateLimit-Policy", `"requests";q=`+strconv.Itoa(rpm)+";w=60")
			}
		}
		return next(c)
	}
}

// setRateLimitReset completes a /v1 429 with OpenAI's remaining and reset headers for
// the budget that ran out: requests per minute, or the monthly tokens.
func setRateLimitReset(h http.Header, pr problem) {
	if pr.Status != http.StatusTooManyRequests || pr.retryAfter <= 0 {
		return
	}
	reset := strconv.Itoa(pr.retryAfter) + "s"
	switch pr.Code {
	case domain.ErrRateLimited.Code:
		h.Set("X-Ratelimit-Remaining-Requests", "0")
		h.Set("X-Ratelimit-Reset-Requests", reset)
		h.Set("RateLimit", `"requests";r=0;t=`+strconv.Itoa(pr.retryAfter))
	case domain.ErrQuotaExceeded.Code:
		h.Set("X-Ratelimit-Remaining-Tokens", "0")
		h.Set("X-Ratelimit-Reset-Tokens", reset)
	}
}
