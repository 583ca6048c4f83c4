package bootstrap

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// The tests in this file start the real binary (built once, see testmain_test.go) and
// drive it over HTTP with third-party clients: golang.org/x/oauth2 for the token
// endpoint, go-jose (and, where installed, Python's joserfc) for the JWKS.

const e2ePassword = "correct-Horse-e2e-7731"

// response is one HTTP exchange's answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// transcript keeps every response a test received, so that it can check them all.
type transcript struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (tr *transcript) add(method, path string, r response) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fmt.Fprintf(&tr.buf, "%s %s -> %d\n", method, path, r.status)
	_ = r.header.Write(&tr.buf)
	tr.buf.Write(r.body)
	tr.buf.WriteString("\n\n")
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.buf.String()
}

// do sends one request to the server; bearer may be empty. With tr set, the response
// is recorded.
func (s *server) do(t *testing.T, tr *transcript, method, path, bearer, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := response{status: res.StatusCode, header: res.Header, body: b}
	tr.add(method, path, r)
	return r
}

func (s *server) get(t *testing.T, tr *transcript, path, bearer string) response {
	t.Helper()
	return s.do(t, tr, http.MethodGet, path, bearer, "", "")
}

func (s *server) form(t *testing.T, tr *transcript, path string, v url.Values) response {
	t.Helper()
	return s.do(t, tr, http.MethodPost, path, "", "application/x-www-form-urlencoded", v.Encode())
}

// tokens is the token endpoint's success body.
type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func (s *server) login(t *testing.T, tr *transcript, email, password string) tokens {
	t.Helper()
	r := s.form(t, tr, "/auth/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}})
	require.Equal(t, http.StatusOK, r.status, "login %s: %s", email, r.body)
	var tk tokens
	require.NoError(t, json.Unmarshal(r.body, &tk))
	require.NotEmpty(t, tk.AccessToken)
	return tk
}

// jwtHeader decodes a compact JWS header without verifying anything.
func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	seg, _, ok := strings.Cut(token, ".")
	require.True(t, ok, "not a compact JWS")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(raw, &h))
	return h
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	kid, _ := jwtHeader(t, token)["kid"].(string)
	require.NotEmpty(t, kid)
	return kid
}

// seed creates a tenant and a user in it through the CLI, in process.
func seed(t *testing.T, e env, tenant, email, role string) {
	t.Helper()
	if tenant != "" {
		mustRun(t, e, "", "tenant", "create", "--id", tenant, "--name", "Tenant "+tenant)
	}
	args := []string{"user", "create", "--email", email, "--role", role, "--password-stdin"}
	if tenant != "" {
		args = append(args, "--tenant", tenant)
	}
	mustRun(t, e, e2ePassword+"\n", args...)
}

// requireInvalidToken asserts the 401 of RFC 6750 with a problem+json body.
func requireInvalidToken(t *testing.T, r response) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, r.status, "body: %s", r.body)
	assert.Equal(t, `Bearer error="invalid_token"`, r.header.Get("WWW-Authenticate"))
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	assert.Equal(t, "invalid_token", r.json(t)["code"])
}

func TestE2EOAuth2PasswordAndRefreshFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e, "acme", "alice@acme.test", "member")
	s := startServer(t, e)

	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	conf := &oauth2.Config{ClientID: "tenantry-e2e", Endpoint: oauth2.Endpoint{TokenURL: s.url + "/auth/token", AuthStyle: oauth2.AuthStyleInParams}}

	tok, err := conf.PasswordCredentialsToken(ctx, "alice@acme.test", e2ePassword)
	require.NoError(t, err)
	assert.Equal(t, "bearer", tok.TokenType)
	assert.Equal(t, "Bearer", tok.Type())
	assert.NotEmpty(t, tok.RefreshToken)
	assert.EqualValues(t, 900, tok.Extra("expires_in"))
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), tok.Expiry, time.Minute)

	res, err := conf.Client(ctx, tok).Get(s.url + "/users/me")
	require.NoError(t, err)
	var me map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&me))
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "alice@acme.test", me["email"])
	assert.Equal(t, "acme", me["tenant_id"])

	// The client refreshes a token it believes expired through the refresh_token grant.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &expired).Token()
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, fresh.AccessToken)
	require.NotEmpty(t, fresh.RefreshToken)
	assert.NotEqual(t, tok.RefreshToken, fresh.RefreshToken, "refresh tokens rotate on every use")
	assert.Equal(t, http.StatusOK, s.get(t, nil, "/users/me", fresh.AccessToken).status)

	// Reusing the rotated token fails and revokes its family: the newest one too.
	for _, rt := range []string{tok.RefreshToken, fresh.RefreshToken} {
		r := s.form(t, nil, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		require.Equal(t, http.StatusBadRequest, r.status, "body: %s", r.body)
		assert.Equal(t, "invalid_grant", r.json(t)["error"])
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	}
	stale := *fresh
	stale.Expiry = time.Now().Add(-time.Minute)
	_, err = conf.TokenSource(ctx, &stale).Token()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "got %v", err)
	assert.Equal(t, "invalid_grant", re.ErrorCode)

	_, err = conf.PasswordCredentialsToken(ctx, "alice@acme.test", "not-the-password")
	require.True(t, errors.As(err, &re), "got %v", err)
	assert.Equal(t, "invalid_grant", re.ErrorCode)
	assert.Equal(t, http.StatusBadRequest, re.Response.StatusCode)
}

// fetchJWKS follows the discovery document to the key set, as a relying party would.
func fetchJWKS(t *testing.T, s *server) (discovery map[string]any, raw []byte, set jose.JSONWebKeySet) {
	t.Helper()
	r := s.get(t, nil, "/.well-known/oauth-authorization-server", "")
	require.Equal(t, http.StatusOK, r.status)
	discovery = r.json(t)
	jwksURI, _ := discovery["jwks_uri"].(string)
	require.NotEmpty(t, jwksURI)
	res, err := http.Get(jwksURI)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	raw, err = io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &set))
	return discovery, raw, set
}

// accessClaims are tenantry's claims beyond the registered ones.
type accessClaims struct {
	TenantID *string `json:"tenant_id"`
	Role     string  `json:"role"`
	Ver      int     `json:"ver"`
}

// verifyWithGoJose verifies token against set by its kid with go-jose, which shares no
// code with the signer (jwx), and checks the registered claims.
func verifyWithGoJose(t *testing.T, set jose.JSONWebKeySet, token, issuer, subject string) accessClaims {
	t.Helper()
	parsed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	require.Len(t, parsed.Headers, 1)
	keys := set.Key(parsed.Headers[0].KeyID)
	require.Len(t, keys, 1, "kid %q is not in the JWKS", parsed.Headers[0].KeyID)
	assert.True(t, keys[0].IsPublic())
	var std josejwt.Claims
	var own accessClaims
	require.NoError(t, parsed.Claims(keys[0].Key, &std, &own))
	require.NoError(t, std.ValidateWithLeeway(josejwt.Expected{
		Issuer: issuer, Subject: subject, AnyAudience: josejwt.Audience{"tenantry"}, Time: time.Now(),
	}, 5*time.Second))
	assert.NotEmpty(t, std.ID, "jti")
	require.NotNil(t, std.Expiry)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), std.Expiry.Time(), time.Minute)
	return own
}

func TestE2EJWKSVerifiesWithIndependentJOSELibraries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", "loner@example.test", "--password-stdin")
	s := startServer(t, e)
	issuer := "http://localhost:" + e["PORT"]

	discovery, rawJWKS, set := fetchJWKS(t, s)
	assert.Equal(t, issuer, discovery["issuer"])
	assert.Equal(t, issuer+"/.well-known/jwks.json", discovery["jwks_uri"])
	assert.Equal(t, issuer+"/auth/token", discovery["token_endpoint"])
	assert.ElementsMatch(t, []any{"password", "refresh_token"}, discovery["grant_types_supported"])
	assert.Equal(t, []any{}, discovery["response_types_supported"], "RFC 8414 metadata: no authorization endpoint")
	require.Len(t, set.Keys, 1)
	assert.Equal(t, "ES256", set.Keys[0].Algorithm)
	assert.Equal(t, "sig", set.Keys[0].Use)
	assert.NotContains(t, string(rawJWKS), `"d"`, "the JWKS publishes public parts only")

	tk := s.login(t, nil, "admin@acme.test", e2ePassword)
	me := s.get(t, nil, "/users/me", tk.AccessToken).json(t)
	assert.Equal(t, "at+jwt", jwtHeader(t, tk.AccessToken)["typ"])
	own := verifyWithGoJose(t, set, tk.AccessToken, issuer, me["id"].(string))
	require.NotNil(t, own.TenantID)
	assert.Equal(t, "acme", *own.TenantID)
	assert.Equal(t, "tenant_admin", own.Role)
	assert.Equal(t, 1, own.Ver)

	// A user without a tenant gets a token without the tenant_id claim.
	lone := s.login(t, nil, "loner@example.test", e2ePassword)
	loneMe := s.get(t, nil, "/users/me", lone.AccessToken).json(t)
	assert.Nil(t, loneMe["tenant_id"])
	own = verifyWithGoJose(t, set, lone.AccessToken, issuer, loneMe["id"].(string))
	assert.Nil(t, own.TenantID, "tenant_id is absent for a user without a tenant")

	// A payload changed after signing fails go-jose and the server alike.
	parts := strings.Split(tk.AccessToken, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"acme"`), []byte(`"beta"`), 1)) + "." + parts[2]
	parsed, err := josejwt.ParseSigned(forged, []jose.SignatureAlgorithm{jose.ES256})
	require.NoError(t, err)
	var std josejwt.Claims
	assert.Error(t, parsed.Claims(set.Keys[0].Key, &std))
	requireInvalidToken(t, s.get(t, nil, "/users/me", forged))

	t.Run("python joserfc", func(t *testing.T) {
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("python3 is not installed; the go-jose verification above covers the JWKS")
		}
		if exec.Command(py, "-c", "import joserfc").Run() != nil {
			t.Skip("python3 has no joserfc; the go-jose verification above covers the JWKS")
		}
		script := `
import json, sys
from joserfc import jwt
from joserfc.jwk import KeySet
jwks, token, iss = sys.argv[1], sys.argv[2], sys.argv[3]
tok = jwt.decode(token, KeySet.import_key_set(json.loads(jwks)), algorithms=["ES256"])
jwt.JWTClaimsRegistry(iss={"essential": True, "value": iss}, aud={"essential": True, "value": "tenantry"},
    sub={"essential": True}, exp={"essential": True}, tenant_id={"essential": True}).validate(tok.claims)
print(json.dumps({"kid": tok.header["kid"], "tenant_id": tok.claims["tenant_id"], "sub": tok.claims["sub"]}))
`
		out, err := exec.Command(py, "-c", script, string(rawJWKS), tk.AccessToken, issuer).CombinedOutput()
		require.NoError(t, err, "%s", out)
		var got map[string]string
		require.NoError(t, json.Unmarshal(out, &got), "%s", out)
		assert.Equal(t, map[string]string{"kid": kidOf(t, tk.AccessToken), "tenant_id": "acme", "sub": me["id"].(string)}, got)

		out, err = exec.Command(py, "-c", script, string(rawJWKS), forged, issuer).CombinedOutput()
		assert.Error(t, err, "joserfc accepted a forged payload: %s", out)
	})
}

func TestE2EKeyRotationWhileServing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e, "acme", "alice@acme.test", "member")
	s := startServer(t, e)
	issuer := "http://localhost:" + e["PORT"]

	before := s.login(t, nil, "alice@acme.test", e2ePassword)
	oldKID := kidOf(t, before.AccessToken)

	r := mustRunBinary(t, e, "", "keys", "rotate")
	m := regexp.MustCompile(`new active signing key (\S+) \(ES256\)`).FindStringSubmatch(r.out)
	require.Len(t, m, 2, "keys rotate printed: %s", r.out)
	newKID := m[1]
	require.NotEqual(t, oldKID, newKID)

	// The running server picks a rotation up on its periodic reload (every minute) or
	// as soon as it sees a token with a kid it does not know. A second node on the same
	// database, here in process, already signs with the new key; its token reaches the
	// running server, which reloads on the unknown kid.
	other := secondNodeLogin(t, e, "alice@acme.test", e2ePassword)
	require.Equal(t, newKID, kidOf(t, other.AccessToken))
	assert.Equal(t, http.StatusOK, s.get(t, nil, "/users/me", other.AccessToken).status)

	after := s.login(t, nil, "alice@acme.test", e2ePassword)
	assert.Equal(t, newKID, kidOf(t, after.AccessToken), "new tokens carry the new kid")
	me := s.get(t, nil, "/users/me", before.AccessToken)
	require.Equal(t, http.StatusOK, me.status, "a token of the retired key still verifies: %s", me.body)
	assert.Equal(t, http.StatusOK, s.get(t, nil, "/users/me", after.AccessToken).status)

	_, _, set := fetchJWKS(t, s)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	assert.Equal(t, []string{newKID, oldKID}, kids, "the JWKS lists the new key and the still-valid old one, newest first")
	sub := me.json(t)["id"].(string)
	verifyWithGoJose(t, set, before.AccessToken, issuer, sub)
	verifyWithGoJose(t, set, after.AccessToken, issuer, sub)
}

// secondNodeLogin logs in through another tenantry instance on the same database, in
// process (its router without a listener).
func secondNodeLogin(t *testing.T, e env, email, password string) tokens {
	t.Helper()
	rt, err := openRuntime(t.Context(), e.config(t), IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Getenv: e.getenv}, schemaHCL(t), false)
	require.NoError(t, err)
	defer rt.Close()
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, "/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	rt.router.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, "second node login: %s", rec.Body)
	var tk tokens
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &tk))
	return tk
}

func TestE2ELogsAndResponsesHoldNoSecrets(t *testing.T) {
	t.Parallel()
	const (
		wrongPassword = "wrong-Battery-e2e-5512"
		apiKey        = "sk-TESTKEY-e2e-9f8e7d6c5b4a3210QRST"
		passage       = "The quartermaster keeps the zeppelin manifests in cabinet seventeen."
		question      = "Where does the quartermaster keep the zeppelin manifests?"
	)
	e := newEnv(t).with("TENANTRY_LOG_LEVEL", "debug", "TENANTRY_CACHE_TTL", "1s")
	var cliOutput strings.Builder
	cli := func(stdin string, args ...string) result {
		r := mustRunBinary(t, e, stdin, args...)
		cliOutput.WriteString(r.out + r.err)
		return r
	}
	cli("", "tenant", "create", "--id", "acme", "--name", "Acme")
	cli(e2ePassword+"\n", "user", "create", "--email", "admin@acme.test", "--tenant", "acme", "--role", "tenant_admin", "--password-stdin")
	s := startServer(t, e)
	tr := &transcript{}

	for _, creds := range [][2]string{{"admin@acme.test", wrongPassword}, {"nobody@acme.test", e2ePassword}} {
		r := s.form(t, tr, "/auth/token", url.Values{"grant_type": {"password"}, "username": {creds[0]}, "password": {creds[1]}})
		require.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_grant", r.json(t)["error"])
	}
	// The token endpoint's own answers carry tokens by design; they are checked for the
	// other secrets but kept out of the transcript that must hold no token at all.
	first := s.login(t, nil, "admin@acme.test", e2ePassword)
	r := s.form(t, nil, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status)
	var second tokens
	require.NoError(t, json.Unmarshal(r.body, &second))
	tokenBodies := string(r.body)
	require.Equal(t, http.StatusOK, s.get(t, tr, "/users/me", second.AccessToken).status)
	requireInvalidToken(t, s.get(t, tr, "/users/me", second.AccessToken+"x"))

	set := cli(apiKey+"\n", "tenant", "update", "acme", "--llm-api-key-stdin")
	assert.Contains(t, set.out, `"api_key_last4": "QRST"`)
	var llm map[string]any
	poll(t, 5*time.Second, "the server never showed the new API key", func() bool { // its tenant cache lives TENANTRY_CACHE_TTL
		r := s.get(t, tr, "/tenant", second.AccessToken)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		llm, _ = r.json(t)["llm"].(map[string]any)
		return llm["api_key_set"] == true
	})
	assert.Equal(t, "QRST", llm["api_key_last4"])

	doc := s.do(t, tr, http.MethodPost, "/documents", second.AccessToken, "application/json",
		fmt.Sprintf(`{"title":"Logistics","text":%q}`, passage))
	require.Equal(t, http.StatusCreated, doc.status, "body: %s", doc.body)
	chat := s.do(t, nil, http.MethodPost, "/chat/stream", second.AccessToken, "application/json", fmt.Sprintf(`{"message":%q}`, question))
	require.Equal(t, http.StatusOK, chat.status, "body: %s", chat.body)
	assert.Contains(t, string(chat.body), "cabinet seventeen", "the answer quotes the stored passage")
	require.Equal(t, http.StatusOK, s.form(t, tr, "/auth/revoke", url.Values{"token": {second.RefreshToken}}).status)

	require.Equal(t, 0, s.stop(t), "stderr:\n%s", s.stderr.String())
	logs := s.stderr.String() + s.stdout.String()
	// The capture is real: JSON lines, with debug ones and the rejected logins.
	levels, rejectedLogins := map[any]int{}, 0
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), "not a JSON log line: %s", line)
		levels[entry["level"]]++
		if entry["route"] == "/auth/token" && entry["status"] == float64(http.StatusBadRequest) {
			rejectedLogins++
		}
	}
	assert.Positive(t, levels["debug"], "TENANTRY_LOG_LEVEL=debug logs debug lines")
	assert.Equal(t, 2, rejectedLogins, "both failed logins are logged")
	masterKey, err := os.ReadFile(e["TENANTRY_DATA_DIR"] + "/secret.key")
	require.NoError(t, err)

	secrets := map[string]string{
		"password": e2ePassword, "wrong password": wrongPassword, "API key": apiKey, "API key body": apiKey[:len(apiKey)-4],
		"password hash": "$argon2id$", "master key": strings.TrimSpace(string(masterKey)),
		"first access token": first.AccessToken, "first access signature": signatureOf(first.AccessToken),
		"second access token": second.AccessToken, "second access signature": signatureOf(second.AccessToken),
		"first refresh token": first.RefreshToken, "second refresh token": second.RefreshToken,
	}
	for name, secret := range secrets {
		assert.NotContains(t, logs, secret, "the server log holds the %s", name)
		assert.NotContains(t, cliOutput.String(), secret, "CLI output holds the %s", name)
		assert.NotContains(t, tr.String(), secret, "an HTTP response holds the %s", name)
		assert.NotContains(t, string(chat.body), secret, "the chat stream holds the %s", name)
	}
	assert.Contains(t, tr.String(), `"api_key_last4":"QRST"`, "the transcript holds the responses checked")
	for _, secret := range []string{e2ePassword, wrongPassword, apiKey, "$argon2id$"} {
		assert.NotContains(t, tokenBodies, secret)
	}
	for _, content := range []string{passage, question, "zeppelin"} {
		assert.NotContains(t, logs, content, "the server log holds a prompt or passage")
	}
}

// poll calls cond on the test's goroutine until it holds, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func signatureOf(jwt string) string { return jwt[strings.LastIndex(jwt, ".")+1:] }

func TestE2ETokenVersionInvalidatesOutstandingTokens(t *testing.T) {
	t.Parallel()
	// The CLI is another process writing the database: the server hears of the raised
	// token version through the change log (TestE2ECLIChangesReachARunningServer shows
	// it with hour-long caches); here the TTL is short as well.
	e := newEnv(t).with("TENANTRY_CACHE_TTL", "1s")
	seed(t, e, "acme", "assign@acme.test", "member")
	mustRun(t, e, "", "tenant", "create", "--id", "beta", "--name", "Beta")
	for _, email := range []string{"disable@acme.test", "passwd@acme.test"} {
		mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", email, "--tenant", "acme", "--password-stdin")
	}
	s := startServer(t, e)

	tests := []struct {
		name  string
		email string
		stdin string
		args  []string
		after func(t *testing.T)
	}{
		{name: "assign", email: "assign@acme.test", args: []string{"user", "assign", "--email", "assign@acme.test", "--tenant", "beta"},
			after: func(t *testing.T) {
				tk := s.login(t, nil, "assign@acme.test", e2ePassword)
				assert.Equal(t, "beta", s.get(t, nil, "/users/me", tk.AccessToken).json(t)["tenant_id"])
			}},
		{name: "disable", email: "disable@acme.test", args: []string{"user", "disable", "--email", "disable@acme.test"},
			after: func(t *testing.T) {
				r := s.form(t, nil, "/auth/token", url.Values{"username": {"disable@acme.test"}, "password": {e2ePassword}})
				assert.Equal(t, http.StatusBadRequest, r.status)
				assert.Equal(t, "invalid_grant", r.json(t)["error"])
			}},
		{name: "passwd", email: "passwd@acme.test", stdin: "new-Passw0rd-e2e\n", args: []string{"user", "passwd", "--email", "passwd@acme.test", "--password-stdin"},
			after: func(t *testing.T) {
				r := s.form(t, nil, "/auth/token", url.Values{"username": {"passwd@acme.test"}, "password": {e2ePassword}})
				assert.Equal(t, http.StatusBadRequest, r.status)
				s.login(t, nil, "passwd@acme.test", "new-Passw0rd-e2e")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tk := s.login(t, nil, tc.email, e2ePassword)
			require.Equal(t, http.StatusOK, s.get(t, nil, "/users/me", tk.AccessToken).status)

			mustRunBinary(t, e, tc.stdin, tc.args...)

			var last response
			poll(t, 5*time.Second, "the outstanding token still works after `tenantry "+tc.name+"`", func() bool {
				last = s.get(t, nil, "/users/me", tk.AccessToken)
				return last.status != http.StatusOK
			})
			requireInvalidToken(t, last)
			// The refresh token of that session is refused too: no way back in.
			r := s.form(t, nil, "/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}})
			assert.Equal(t, http.StatusBadRequest, r.status, "refresh after `tenantry %s`: %s", tc.name, r.body)
			tc.after(t)
		})
	}
}

// requirePostgres returns TEST_DATABASE_URL (set by `go tool task test`). Without it
// the test skips, except under CI=true, where PostgreSQL-backed tests must run.
func requirePostgres(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set, but CI=true requires the PostgreSQL-backed tests to run (use `go tool task test`)")
		}
		t.Skip("TEST_DATABASE_URL is not set; run `go tool task test` to run the PostgreSQL-backed tests")
	}
	return u
}

// pgDatabase is a fresh database of its own on the TEST_DATABASE_URL server, dropped
// after the test.
type pgDatabase struct {
	db *sql.DB // a direct connection, to inspect and alter the schema behind tenantry
	// url is the database's URL in the Python driver form users paste
	// (postgresql+psycopg://), with a password even where the server trusts everyone,
	// so that the tests can check it never shows.
	url      string
	password string
}

func newPostgresDatabase(t *testing.T) pgDatabase {
	t.Helper()
	base := requirePostgres(t)
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "tenantry_e2e_" + hex.EncodeToString(b[:])
	_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)

	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = db.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	password, ok := u.User.Password()
	if !ok {
		password = "pg-Secret-e2e-4242" // ignored by a trust-authenticated server
		user := u.User.Username()
		if user == "" {
			user = "postgres"
		}
		u.User = url.UserPassword(user, password)
	}
	u.Scheme = "postgresql+psycopg"
	return pgDatabase{db: db, url: u.String(), password: password}
}

func (p pgDatabase) tables(t *testing.T) []string {
	t.Helper()
	rows, err := p.db.QueryContext(t.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

func (p pgDatabase) hasColumn(t *testing.T, table, column string) bool {
	t.Helper()
	var n int
	require.NoError(t, p.db.QueryRowContext(t.Context(),
		"SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
		table, column).Scan(&n))
	return n == 1
}

func TestPostgresMigrateDriftAndServe(t *testing.T) {
	t.Parallel()
	pg := newPostgresDatabase(t)
	e := newEnv(t).with("DATABASE_URL", pg.url, "TENANTRY_SECRET_KEY", secretKey(t))
	var outputs []string
	record := func(r result) result { outputs = append(outputs, r.out, r.err); return r }

	r := record(mustRun(t, e, "", "migrate", "--dry-run"))
	assert.Contains(t, r.out, "dry run (postgres)")
	assert.Contains(t, r.out, `CREATE TABLE "public"."users"`)
	assert.Empty(t, pg.tables(t), "--dry-run changes nothing")

	r = record(run(t, e, "", "serve"))
	assert.Equal(t, 1, r.code, "serve on an unmigrated database: %s", r)
	assert.Contains(t, r.err, "tenantry migrate", "the error names the command to run")
	assert.Empty(t, pg.tables(t))

	r = record(run(t, e.without("TENANTRY_SECRET_KEY"), "", "serve", "--migrate"))
	assert.Equal(t, 1, r.code, "serve without a master key: %s", r)
	assert.Contains(t, r.err, "TENANTRY_SECRET_KEY")
	assert.Empty(t, pg.tables(t), "a missing master key stops serve before it touches the database")

	r = record(mustRun(t, e, "", "migrate"))
	assert.Regexp(t, `applied \d+ statements \(postgres\)`, r.out)
	assert.Subset(t, pg.tables(t), []string{"tenants", "users", "signing_keys", "refresh_tokens"})
	r = record(mustRun(t, e, "", "migrate"))
	assert.Contains(t, r.out, "no changes")

	// DATABASE_PUBLIC_URL wins over DATABASE_URL (here one that could not even open).
	r = record(mustRun(t, e.with("DATABASE_URL", "mysql://nobody:hunter2@nowhere/db", "DATABASE_PUBLIC_URL", pg.url), "", "migrate"))
	assert.Contains(t, r.out, "no changes")

	// A column the declared schema does not have: applying would drop it.
	_, err := pg.db.ExecContext(t.Context(), "ALTER TABLE users ADD COLUMN nickname text")
	require.NoError(t, err)
	r = record(run(t, e, "", "migrate"))
	assert.Equal(t, 1, r.code, "%s", r)
	assert.Contains(t, r.err, `drop column "nickname" of table "users"`)
	assert.Contains(t, r.err, "--allow-destructive")
	assert.True(t, pg.hasColumn(t, "users", "nickname"), "a refused migration changes nothing")
	r = record(mustRun(t, e, "", "migrate", "--allow-destructive"))
	assert.Contains(t, r.out, "applied 1 statements")
	assert.False(t, pg.hasColumn(t, "users", "nickname"))
	r = record(mustRun(t, e, "", "migrate"))
	assert.Contains(t, r.out, "no changes")

	record(mustRun(t, e, "", "tenant", "create", "--id", "acme", "--name", "Acme"))
	record(mustRun(t, e, e2ePassword+"\n", "user", "create", "--email", "alice@acme.test", "--tenant", "acme", "--password-stdin"))
	s := startServer(t, e)
	ready := s.get(t, nil, "/readyz", "")
	assert.Equal(t, http.StatusOK, ready.status, "%s", ready.body)
	tk := s.login(t, nil, "alice@acme.test", e2ePassword)
	me := s.get(t, nil, "/users/me", tk.AccessToken)
	require.Equal(t, http.StatusOK, me.status, "%s", me.body)
	assert.Equal(t, "acme", me.json(t)["tenant_id"])
	require.Equal(t, 0, s.stop(t), "stderr:\n%s", s.stderr.String())

	outputs = append(outputs, s.stderr.String(), s.stdout.String())
	for _, out := range outputs {
		assert.NotContains(t, out, pg.password, "the database password leaked")
		assert.NotContains(t, out, "hunter2", "the database password leaked")
	}
}

func TestPostgresServeMigrateFlag(t *testing.T) {
	t.Parallel()
	pg := newPostgresDatabase(t)
	e := newEnv(t).with("DATABASE_URL", pg.url, "TENANTRY_SECRET_KEY", secretKey(t))
	s := startServer(t, e, "--migrate")
	assert.Subset(t, pg.tables(t), []string{"tenants", "users"})
	assert.Equal(t, http.StatusOK, s.get(t, nil, "/healthz", "").status)
	require.Equal(t, 0, s.stop(t), "stderr:\n%s", s.stderr.String())
	assert.Contains(t, s.stderr.String(), `"msg":"schema applied"`)
	assert.NotContains(t, s.stderr.String(), pg.password)
	assert.Contains(t, mustRun(t, e, "", "migrate").out, "no changes")
}
