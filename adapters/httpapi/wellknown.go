package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Discovery is what GET /.well-known/openid-configuration publishes.
type Discovery struct {
	// Issuer is the tokens' iss, the public base URL; the other endpoints hang off it.
	Issuer string
	// SigningAlgorithms are the JWS algorithms of the access tokens, e.g. ["ES256"].
	SigningAlgorithms []string
}

type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
}

func openIDConfiguration(d Discovery) echo.HandlerFunc {
	base := strings.TrimRight(d.Issuer, "/")
	doc := discoveryDoc{
		Issuer:                            d.Issuer,
		JWKSURI:                           base + "/.well-known/jwks.json",
		TokenEndpoint:                     base + "/auth/token",
		RevocationEndpoint:                base + "/auth/revoke",
		GrantTypesSupported:               []string{"password", "refresh_token"},
		IDTokenSigningAlgValuesSupported:  append([]string{}, d.SigningAlgorithms...),
		TokenEndpointAuthMethodsSupported: []string{"none"},
		RevocationEndpointAuthMethods:     []string{"none"},
		SubjectTypesSupported:             []string{"public"},
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
