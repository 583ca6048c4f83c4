package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/httpapi"
)

const (
	browserDir      = "testdata/console-browser"
	browserChromium = "/usr/bin/chromium"
	rootPassword    = "root-Console-test-4471"
)

// browserReport is what console.cjs prints.
type browserReport struct {
	Problems           []string `json:"problems"`
	HTTPErrors         []int    `json:"httpErrors"`
	Steps              []string `json:"steps"`
	Browser            string   `json:"browser"`
	CSP                string   `json:"csp"`
	FirstTab           string   `json:"firstTab"`
	LoginError         string   `json:"loginError"`
	Who                struct{ Email, Role, Tenant string }
	Tabs               []string `json:"tabs"`
	ChatHeadingFocused string   `json:"chatHeadingFocused"`
	Partial            string   `json:"partial"`
	Streamed           string   `json:"streamed"`
	Quotes             int      `json:"quotes"`
	Cites              int      `json:"cites"`
	Answer             string   `json:"answer"`
	AnswerBusy         string   `json:"answerBusy"`
	Growth             int      `json:"growth"`
	Log                struct {
		Role string `json:"role"`
		Live string `json:"live"`
	} `json:"log"`
	Sources              []string `json:"sources"`
	CitedSource          string   `json:"citedSource"`
	SourceExpanded       string   `json:"sourceExpanded"`
	FocusAfterCite       string   `json:"focusAfterCite"`
	LastSourceOpened     bool     `json:"lastSourceOpened"`
	LastSourceClosed     bool     `json:"lastSourceClosed"`
	Passage              string   `json:"passage"`
	Conversations        []string `json:"conversations"`
	RefreshStatus        int      `json:"refreshStatus"`
	AfterRefresh         string   `json:"afterRefresh"`
	Documents            []string `json:"documents"`
	DocumentsAfterAdd    int      `json:"documentsAfterAdd"`
	DocumentsAfterDelete int      `json:"documentsAfterDelete"`
	Uploaded             []string `json:"uploaded"`
	UploadError          string   `json:"uploadError"`
	DuplicateUserError   string   `json:"duplicateUserError"`
	Users                []struct {
		Email, Role, Status string
	} `json:"users"`
	Phone struct {
		Overflow           int    `json:"overflow"`
		ToggleVisible      bool   `json:"toggleVisible"`
		PanelVisibleBefore bool   `json:"panelVisibleBefore"`
		PanelVisibleAfter  bool   `json:"panelVisibleAfter"`
		Reopened           string `json:"reopened"`
	} `json:"phone"`
	TokensAfterLogout *string  `json:"tokensAfterLogout"`
	RootTabs          []string `json:"rootTabs"`
	Tenants           []struct {
		ID, Name, Status string
	} `json:"tenants"`
}

// TestConsoleInChromium starts the real binary on an empty embedded database, takes
// the first-run credentials from its stdout, and drives the web console in Debian's
// headless Chromium with playwright-core: log in, a streamed answer with a source
// opened, token refresh, documents, users, a phone-sized viewport and, as a platform
// admin, tenants. Screenshots go to the test's temp dir, or to
// $TENANTRY_CONSOLE_SCREENSHOTS to keep them.
func TestConsoleInChromium(t *testing.T) {
	t.Parallel()
	node, npm := nodeTools(t, "the console browser test", browserChromium)
	modules := npmModules(t, npm, browserDir, "playwright-core")

	e := newEnv(t)
	s := startServer(t, e)
	m := demoCredentials.FindStringSubmatch(s.stdout.String())
	require.NotNil(t, m, "first-run credentials on stdout:\n%s", s.stdout.String())
	mustRunBinary(t, e, rootPassword+"\n", "user", "create", "--email", "root@example.test", "--role", "platform_admin", "--password-stdin")

	shots := os.Getenv("TENANTRY_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.cjs")
	cmd.Dir = browserDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_PATH=" + modules,
		"TENANTRY_URL=" + s.url, "TENANTRY_EMAIL=" + m[1], "TENANTRY_PASSWORD=" + m[2],
		"TENANTRY_ROOT_EMAIL=root@example.test", "TENANTRY_ROOT_PASSWORD=" + rootPassword,
		"SCREENSHOT_DIR=" + shots, "USER_DATA_DIR=" + t.TempDir(), "CHROMIUM=" + browserChromium,
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "node console.cjs\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", stdout.String(), stderr.String(), s.stderr.String())

	var got browserReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
	t.Logf("Chromium %s; screenshots in %s", got.Browser, shots)
	t.Logf("streamed answer (%d sizes seen): %q; sources %q", got.Growth, got.Streamed, got.Sources)

	assert.Empty(t, got.Problems, "script errors, CSP violations or failed loads")
	assert.Equal(t, []int{400, 401, 415, 409}, got.HTTPErrors, "wrong password, forged access token, PDF upload, duplicate user: nothing else failed")
	assert.Equal(t, httpapi.ConsoleCSP, got.CSP)
	assert.Equal(t, "Skip to content", got.FirstTab)
	assert.Equal(t, "invalid username or password", got.LoginError, "the OAuth error's description")

	assert.Equal(t, "admin@demo.local", got.Who.Email)
	assert.Equal(t, "Tenant admin", got.Who.Role)
	assert.Equal(t, "Demo Company (demo)", got.Who.Tenant)
	assert.Equal(t, []string{"Chat", "Documents", "Users"}, got.Tabs)
	assert.Equal(t, "chat-title", got.ChatHeadingFocused, "focus moves to the new view's heading")

	assert.Contains(t, got.Answer, "within 30 days of your first payment")
	assert.Equal(t, "false", got.AnswerBusy)
	assert.GreaterOrEqual(t, got.Growth, 5, "the answer grew in several steps while streaming")
	assert.NotEmpty(t, got.Partial, "part of the answer showed while streaming")
	assert.Less(t, len(got.Partial), len(got.Streamed))
	assert.Contains(t, got.Streamed, "> You can request a full refund within 30 days of your first payment")
	assert.GreaterOrEqual(t, got.Quotes, 1, "quoted lines render as quotations once finished")
	assert.GreaterOrEqual(t, got.Cites, 1, "[n] markers link to their sources")
	assert.Equal(t, "log", got.Log.Role)
	assert.Equal(t, "polite", got.Log.Live)
	require.NotEmpty(t, got.Sources)
	assert.Contains(t, got.Sources[0], "Refund policy", "the best passage comes from the refund policy")
	assert.Contains(t, got.CitedSource, "Refund policy")
	assert.Equal(t, "true", got.SourceExpanded, "the cited source is open")
	assert.Equal(t, got.CitedSource, got.FocusAfterCite, "focus moves to the opened source")
	assert.Contains(t, got.Passage, "Refund policy")
	assert.Contains(t, got.Passage, "within 30 days of your first payment", "the passage the first quote came from")
	assert.True(t, got.LastSourceOpened, "a source button shows its passage")
	assert.True(t, got.LastSourceClosed, "and hides it again")
	assert.Equal(t, []string{"How many days do I have to request a refund?"}, got.Conversations)

	assert.Equal(t, 200, got.RefreshStatus, "the refresh grant after the 401")
	assert.Equal(t, "admin@demo.local", got.AfterRefresh)

	assert.ElementsMatch(t, []string{"Product FAQ", "Refund policy", "Onboarding guide"}, got.Documents)
	assert.Equal(t, 4, got.DocumentsAfterAdd)
	assert.Equal(t, 3, got.DocumentsAfterDelete)
	assert.ElementsMatch(t, []string{"team-lunch", "Product FAQ", "Refund policy", "Onboarding guide"}, got.Uploaded, "an uploaded file is titled after its name")
	assert.Equal(t, "only .txt and .md files can be uploaded", got.UploadError, "the problem's detail")

	assert.NotEmpty(t, got.DuplicateUserError)
	assert.NotRegexp(t, regexp.MustCompile(`^\d{3}\b`), got.DuplicateUserError, "the problem's detail, not a bare status")
	users := map[string]string{}
	for _, u := range got.Users {
		users[u.Email] = u.Role + "/" + u.Status
	}
	assert.Equal(t, map[string]string{"admin@demo.local (you)": "Tenant admin/Active", "bob@demo.local": "tenant_admin/Disabled"}, users)

	assert.LessOrEqual(t, got.Phone.Overflow, 0, "no sideways scrolling at 390 px")
	assert.True(t, got.Phone.ToggleVisible)
	assert.False(t, got.Phone.PanelVisibleBefore)
	assert.True(t, got.Phone.PanelVisibleAfter)
	assert.Equal(t, "How many days do I have to request a refund?", got.Phone.Reopened)

	assert.Nil(t, got.TokensAfterLogout, "logging out forgets the tokens")
	assert.Equal(t, []string{"Tenants"}, got.RootTabs)
	tenants := map[string]string{}
	for _, tn := range got.Tenants {
		tenants[tn.ID] = tn.Name + "/" + tn.Status
	}
	assert.Equal(t, map[string]string{"acme": "Acme Corporation/Suspended", "demo": "Demo Company/Active"}, tenants)
	for _, name := range []string{"console-chat.png", "console-phone.png", "console-tenants.png"} {
		st, err := os.Stat(filepath.Join(shots, name))
		if assert.NoError(t, err) {
			assert.Greater(t, st.Size(), int64(10_000), name)
		}
	}
}
