package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// TestOAuth2Client drives the token endpoint with golang.org/x/oauth2, a third-party
// client that parses the RFC 6749 wire format on its own.
func TestOAuth2Client(t *testing.T) {
	ev := newEnv(t)
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
	conf := &oauth2.Config{ClientID: "tenantry-cli", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/auth/token", AuthStyle: oauth2.AuthStyleInParams}}

	tok, err := conf.PasswordCredentialsToken(ctx, "acme-member@example.com", testPassword)
	require.NoError(t, err)
	assert.Equal(t, "bearer", tok.TokenType)
	assert.NotEmpty(t, tok.RefreshToken)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), tok.Expiry, time.Minute)

	client := conf.Client(ctx, tok)
	res, err := client.Get(srv.URL + "/users/me")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// An expired token is refreshed through the refresh_token grant.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &expired).Token()
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, fresh.AccessToken)
	assert.NotEqual(t, tok.RefreshToken, fresh.RefreshToken)

	_, err = conf.PasswordCredentialsToken(ctx, "acme-member@example.com", "wrong password")
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "got %v", err)
	assert.Equal(t, "invalid_grant", re.ErrorCode)
	assert.Equal(t, http.StatusBadRequest, re.Response.StatusCode)
}
