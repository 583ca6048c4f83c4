package httpapi

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

const mimeForm = "application/x-www-form-urlencoded"

// oauthError is an RFC 6749 §5.2 error response. The token endpoints answer in this
// form, not problem+json, because OAuth clients parse it.
type oauthError struct {
	status     int
	Code       string `json:"error"`
	Desc       string `json:"error_description,omitempty"`
	retryAfter int
	cause      error
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Desc }

func oauthInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: "invalid_request", Desc: desc}
}

// tokenRequest is a parsed token request.
type tokenRequest struct {
	grantType    string
	username     string
	password     string
	refreshToken string
}

// readForm reads an application/x-www-form-urlencoded body (the only form RFC 6749
// allows) into single-valued parameters; a repeated parameter is invalid_request
// (RFC 6749 §3.2). Parameters sent without a value are treated as omitted.
func readForm(contentType string, body io.Reader) (map[string]string, *oauthError) {
	if !isFormType(contentType) {
		return nil, oauthInvalidRequest("the request must be application/x-www-form-urlencoded")
	}
	raw, err := io.ReadAll(io.LimitReader(body, tokenBodyBytes+1))
	if err != nil {
		e := oauthInvalidRequest("the request body could not be read")
		e.cause = err
		return nil, e
	}
	if len(raw) > tokenBodyBytes {
		e := oauthInvalidRequest("the request body is too large")
		e.status = http.StatusRequestEntityTooLarge
		return nil, e
	}
	vals, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, oauthInvalidRequest("the request body is not valid form encoding")
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, oauthInvalidRequest("parameter " + strconv.Quote(k) + " is repeated")
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, oauthInvalidRequest("parameters must be valid UTF-8")
		}
		if vs[0] != "" {
			out[k] = vs[0]
		}
	}
	return out, nil
}

func isFormType(contentType string) bool { return parseMediaType(contentType) == mimeForm }

// parseTokenForm reads a token request. grant_type may be omitted for the password
// grant, as FastAPI's OAuth2PasswordRequestForm allows.
func parseTokenForm(contentType string, body io.Reader) (tokenRequest, *oauthError) {
	f, oerr := readForm(contentType, body)
	if oerr != nil {
		return tokenRequest{}, oerr
	}
	tr := tokenRequest{grantType: f["grant_type"]}
	switch tr.grantType {
	case "", "password":
		tr.grantType = "password"
		tr.username, tr.password = f["username"], f["password"]
		if tr.username == "" || tr.password == "" {
			return tokenRequest{}, oauthInvalidRequest("username and password are required")
		}
	case "refresh_token":
		tr.refreshToken = f["refresh_token"]
		if tr.refreshToken == "" {
			return tokenRequest{}, oauthInvalidRequest("refresh_token is required")
		}
	default:
		return tokenRequest{}, &oauthError{status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Desc: "grant_type must be password or refresh_token"}
	}
	return tr, nil
}

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

type oauthHandlers struct {
	login   *application.Login
	refresh *application.RefreshTokens
	revoke  *application.RevokeToken
	log     *zap.Logger
}

// token serves POST /auth/token.
func (h oauthHandlers) token(c echo.Context) error {
	tr, oerr := parseTokenForm(c.Request().Header.Get(echo.HeaderContentType), c.Request().Body)
	if oerr != nil {
		return h.fail(c, oerr)
	}
	ctx := c.Request().Context()
	var toks application.Tokens
	var err error
	if tr.grantType == "password" {
		toks, err = h.login.Execute(ctx, application.LoginInput{Email: tr.username, Password: tr.password, ClientIP: c.RealIP()})
	} else {
		toks, err = h.refresh.Execute(ctx, tr.refreshToken)
	}
	if err != nil {
		oe := grantError(tr.grantType, err)
		if tr.grantType == "password" && (oe.Code == "invalid_grant" || oe.Code == "slow_down") {
			noteLoginFailure(c, oe.Code)
		}
		return h.fail(c, oe)
	}
	noStore(c)
	return sendJSON(c, http.StatusOK, tokenResponse{
		AccessToken: toks.AccessToken, TokenType: "bearer",
		ExpiresIn: int64(toks.ExpiresIn.Seconds()), RefreshToken: toks.RefreshToken,
	})
}

// revokeToken serves POST /auth/revoke (RFC 7009): 200 whether or not the token was
// known; token_type_hint is accepted and ignored, since only refresh tokens revoke.
func (h oauthHandlers) revokeToken(c echo.Context) error {
	f, oerr := readForm(c.Request().Header.Get(echo.HeaderContentType), c.Request().Body)
	if oerr != nil {
		return h.fail(c, oerr)
	}
	if f["token"] == "" {
		return h.fail(c, oauthInvalidRequest("token is required"))
	}
	if err := h.revoke.Execute(c.Request().Context(), f["token"]); err != nil {
		return h.fail(c, grantError("revoke", err))
	}
	noStore(c)
	return c.NoContent(http.StatusOK)
}

// grantError maps a use-case error to its OAuth form. Every authentication failure is
// the same invalid_grant, so responses do not tell unknown emails from wrong passwords;
// an outage is 503, never "invalid credentials".
func grantError(grant string, err error) *oauthError {
	de := domain.AsError(err)
	kind := domain.KindOf(err)
	e := &oauthError{cause: err}
	switch kind {
	case domain.KindUnauthenticated:
		e.status, e.Code, e.Desc = http.StatusBadRequest, "invalid_grant", "invalid username or password"
		if grant == "refresh_token" {
			e.Desc = "the refresh token is invalid, expired or revoked"
		}
	case domain.KindInvalid:
		e.status, e.Code, e.Desc = http.StatusBadRequest, "invalid_request", de.Detail
	case domain.KindRateLimited:
		e.status, e.Code, e.Desc = http.StatusTooManyRequests, "slow_down", "too many attempts; retry later"
		e.retryAfter = de.RetryAfterSeconds
	case domain.KindUnavailable:
		e.status, e.Code, e.Desc = http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable; retry later"
		e.retryAfter = de.RetryAfterSeconds
	default:
		e.status, e.Code, e.Desc = http.StatusInternalServerError, "server_error", internalDetail
	}
	return e
}

// fail writes e and logs it once (5xx at Error with the cause, 4xx at Debug); a client
// that went away gets nothing.
func (h oauthHandlers) fail(c echo.Context, e *oauthError) error {
	if clientGone(c, e.cause) {
		markClientGone(c)
		h.log.Debug("client went away", logFields(c)...)
		return nil
	}
	fields := append(logFields(c), zap.Int("status", e.status), zap.String("error", e.Code))
	if e.cause != nil {
		fields = append(fields, zap.Error(e.cause))
	}
	if e.status >= 500 {
		h.log.Error("token request failed", fields...)
	} else {
		h.log.Debug("token request rejected", fields...)
	}
	noStore(c)
	if e.retryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	return sendJSON(c, e.status, e)
}

func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
