package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// rateLimitPolicy states the tenant's request budget on every /v1 response in the
// headers OpenAI's API sends (x-ratelimit-limit-requests, requests per minute) and in
// the IETF RateLimit-Policy header (draft-ietf-httpapi-ratelimit-headers). An unlimited
// tenant gets neither.
func rateLimitPolicy(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if tc, ok := tenantRef(c); ok {
			if rpm := tc.Tenant.Limits.RequestsPerMinute; rpm > 0 {
				h := c.Response().Header()
				h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(rpm))
				h.Set("RateLimit-Policy", `"requests";q=`+strconv.Itoa(rpm)+";w=60")
			}
		}
		return next(c)
	}
}

// setRateLimitStatus states on a /v1 response what is left of the tenant's request
// budget once this request was counted: OpenAI's x-ratelimit-remaining-requests and
// x-ratelimit-reset-requests (a duration such as "1s" or "6m0s", until the budget is
// full again), and the IETF RateLimit header.
func setRateLimitStatus(h http.Header, st ports.RateStatus) {
	reset := int(math.Ceil(st.Reset.Seconds()))
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(st.Limit))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(st.Remaining))
	h.Set("X-Ratelimit-Reset-Requests", (time.Duration(reset) * time.Second).String())
	h.Set("RateLimit", `"requests";r=`+strconv.Itoa(st.Remaining)+";t="+strconv.Itoa(reset))
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
