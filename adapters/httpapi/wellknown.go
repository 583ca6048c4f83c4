package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Discovery is what GET /.well-known/oauth-authorization-server publishes: the RFC 8414
// metadata of tenantry's token issuer. tenantry issues access and refresh tokens only,
// no ID tokens, so it publishes no OpenID Connect discovery document.
type Discovery struct {
	// Issuer is the tokens' iss, the public base URL; the other endpoints hang off it.
	Issuer string
}

// authServerMetadata is RFC 8414's authorization server metadata. Fields that are
// REQUIRED there are always present; grant_types_supported and the auth methods are
// stated because their defaults (authorization_code and implicit, client_secret_basic)
// would be wrong. tenantry has no authorization endpoint: no grant it supports uses one,
// so that field is omitted and response_types_supported is empty.
type authServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	ServiceDocumentation              string   `json:"service_documentation"`
}

func authorizationServerMetadata(d Discovery) echo.HandlerFunc {
	base := strings.TrimRight(d.Issuer, "/")
	doc := authServerMetadata{
		Issuer:                            d.Issuer,
		TokenEndpoint:                     base + "/auth/token",
		JWKSURI:                           base + "/.well-known/jwks.json",
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{"password", "refresh_token"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		RevocationEndpoint:                base + "/auth/revoke",
		RevocationEndpointAuthMethods:     []string{"none"},
		ServiceDocumentation:              base + "/openapi.json",
	}
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return sendJSON(c, http.StatusOK, doc)
	}
}

// jwks serves the public signing keys. Clients re-fetch on an unknown kid, so a short
// cache lifetime is enough to pick up rotations.
func jwks(keys func(ctx context.Context) ([]byte, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := keys(c.Request().Context())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		return c.Blob(http.StatusOK, mimeJSON, b)
	}
}
