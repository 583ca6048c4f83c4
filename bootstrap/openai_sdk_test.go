package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/domain"
)

const (
	sdkDir      = "testdata/openai-sdk"
	sdkPassword = "correct horse battery staple"
	sdkQuestion = "How many vacation days do employees get?"
	sdkDocument = "Employees of Acme receive thirty vacation days per year. Unused vacation days expire in March."
)

// TestOpenAISDKAgainstTenantry drives /v1 with the official OpenAI Node SDK: it lists
// the models, streams an answer with usage, uses the SDK's stream helper, makes a
// non-streaming call, and checks how the SDK sees tenantry's errors.
func TestOpenAISDKAgainstTenantry(t *testing.T) {
	node, npm := nodeTools(t, "the OpenAI SDK test")
	modules := npmModules(t, npm, sdkDir, "openai")
	baseURL, apiKey := sdkServer(t)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk.cjs")
	cmd.Dir = sdkDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_PATH=" + modules,
		"TENANTRY_BASE_URL=" + baseURL, "TENANTRY_API_KEY=" + apiKey, "TENANTRY_QUESTION=" + sdkQuestion,
		"TENANTRY_OTHER_MODEL=tenantry-globex",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "node sdk.cjs\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	var got sdkOutput
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	t.Logf("openai %s: streamed %d chunks: %q", got.SDKVersion, got.Stream.Chunks, got.Stream.Text)
	assert.True(t, strings.HasPrefix(got.SDKVersion, "6."), got.SDKVersion)

	require.Len(t, got.Models, 1)
	assert.Equal(t, sdkModel{ID: "tenantry-acme", Object: "model", OwnedBy: "tenantry"}, got.Models[0])
	assert.Equal(t, "tenantry-acme", got.Retrieved)

	s := got.Stream
	assert.Contains(t, s.Text, "thirty vacation days")
	assert.Equal(t, "assistant", s.Role)
	assert.Equal(t, "stop", s.FinishReason)
	assert.Equal(t, []string{"tenantry-acme"}, s.Models)
	require.Len(t, s.IDs, 1, "one id for every chunk")
	assert.True(t, strings.HasPrefix(s.IDs[0], "chatcmpl-"), s.IDs[0])
	assert.GreaterOrEqual(t, s.Chunks, 4, "role, content, finish and usage chunks")
	assert.Equal(t, []string{"Vacation policy"}, s.Sources)
	require.NotNil(t, s.Usage, "usage chunk with stream_options.include_usage")
	assert.Positive(t, s.Usage.PromptTokens)
	assert.Positive(t, s.Usage.CompletionTokens)
	assert.Equal(t, s.Usage.PromptTokens+s.Usage.CompletionTokens, s.Usage.TotalTokens)

	assert.Equal(t, s.Text, got.Helper.Text, "the SDK's accumulator rebuilds the same answer")
	assert.Equal(t, "stop", got.Helper.FinishReason)

	c := got.Completion
	assert.Equal(t, "chat.completion", c.Object)
	assert.Equal(t, "tenantry-acme", c.Model)
	assert.True(t, strings.HasPrefix(c.ID, "chatcmpl-"), c.ID)
	assert.NotEqual(t, s.IDs[0], c.ID)
	assert.Equal(t, "assistant", c.Role)
	assert.Equal(t, "stop", c.FinishReason)
	assert.Equal(t, s.Text, c.Text, "the extractive model answers the same question the same way")
	assert.Equal(t, []string{"Vacation policy"}, c.Sources)
	require.NotNil(t, c.Usage)
	assert.Equal(t, *s.Usage, *c.Usage)

	other := got.Errors.OtherModel
	require.NotNil(t, other, "another tenant's assistant must be refused")
	assert.Equal(t, "NotFoundError", other.Class)
	assert.Equal(t, http.StatusNotFound, other.Status)
	assert.Equal(t, "model_not_found", other.Code)
	assert.Equal(t, "invalid_request_error", other.Type)
	assert.Equal(t, "model", other.Param)
	assert.Contains(t, other.Message, "tenantry-globex")

	bad := got.Errors.BadKey
	require.NotNil(t, bad, "a wrong API key must be refused")
	assert.Equal(t, "AuthenticationError", bad.Class)
	assert.Equal(t, http.StatusUnauthorized, bad.Status)
	assert.Equal(t, "invalid_api_key", bad.Code)
	assert.Equal(t, "invalid_request_error", bad.Type)
}

type sdkModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	OwnedBy string `json:"owned_by"`
}

type sdkUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type sdkError struct {
	Class   string `json:"class"`
	Status  int    `json:"status"`
	Type    string `json:"type"`
	Code    string `json:"code"`
	Param   string `json:"param"`
	Message string `json:"message"`
}

// sdkOutput is what sdk.cjs prints.
type sdkOutput struct {
	SDKVersion string     `json:"sdk_version"`
	Models     []sdkModel `json:"models"`
	Retrieved  string     `json:"retrieved"`
	Stream     struct {
		Text         string    `json:"text"`
		Usage        *sdkUsage `json:"usage"`
		FinishReason string    `json:"finish_reason"`
		Role         string    `json:"role"`
		IDs          []string  `json:"ids"`
		Models       []string  `json:"models"`
		Chunks       int       `json:"chunks"`
		Sources      []string  `json:"sources"`
	} `json:"stream"`
	Helper struct {
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	} `json:"helper"`
	Completion struct {
		ID           string    `json:"id"`
		Object       string    `json:"object"`
		Model        string    `json:"model"`
		Usage        *sdkUsage `json:"usage"`
		Text         string    `json:"text"`
		Role         string    `json:"role"`
		FinishReason string    `json:"finish_reason"`
		Sources      []string  `json:"sources"`
	} `json:"completion"`
	Errors struct {
		OtherModel *sdkError `json:"other_model"`
		BadKey     *sdkError `json:"bad_key"`
	} `json:"errors"`
}

// sdkServer runs the production router on a loopback listener over in-memory stores,
// with tenants acme (a tenant admin and one document) and globex, and returns the /v1
// base URL and the admin's access token.
func sdkServer(t *testing.T) (baseURL, token string) {
	t.Helper()
	return sdkServerWith(t, nil, nil)
}

// sdkServerWith is sdkServer with edit applied to acme before it is stored, and wrap
// (when set) around the router.
func sdkServerWith(t *testing.T, edit func(*domain.Tenant), wrap func(http.Handler) http.Handler) (baseURL, token string) {
	t.Helper()
	ctx := t.Context()
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{"TENANTRY_PUBLIC_URL": "http://127.0.0.1"}[k]
	})
	require.NoError(t, err)
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	keyring, err := secretbox.New(key)
	require.NoError(t, err)
	st := MemoryStores(memory.NewDB())
	api, err := Router(ctx, cfg, st, RouterOptions{Log: zap.NewNop(), Sealer: keyring})
	require.NoError(t, err)
	var handler http.Handler = api.Handler
	if wrap != nil {
		handler = wrap(handler)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		_ = api.Close()
	})

	now := time.Now()
	for _, id := range []domain.TenantID{"acme", "globex"} {
		tn, err := domain.NewTenant(id, string(id), now)
		require.NoError(t, err)
		if id == "acme" && edit != nil {
			edit(&tn)
		}
		require.NoError(t, st.Tenants.Create(ctx, tn))
	}
	hash, err := passwords.New(passwords.Config{}).Hash(ctx, sdkPassword)
	require.NoError(t, err)
	u, err := domain.NewUser("u-acme-admin", "admin@acme.test", domain.RoleTenantAdmin, "acme", hash, now)
	require.NoError(t, err)
	require.NoError(t, st.Users.Create(ctx, u))

	form := url.Values{"grant_type": {"password"}, "username": {"admin@acme.test"}, "password": {sdkPassword}}
	res, err := srv.Client().PostForm(srv.URL+"/auth/token", form)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tr))
	require.NotEmpty(t, tr.AccessToken)

	doc, err := json.Marshal(map[string]string{"title": "Vacation policy", "text": sdkDocument})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/documents", bytes.NewReader(doc))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	dres, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer dres.Body.Close()
	require.Equal(t, http.StatusCreated, dres.StatusCode, "POST /documents")
	return srv.URL + "/v1", tr.AccessToken
}
