package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/adapters/openai/openaitest"
)

// consoleShots are the screenshots console.cjs takes, one per page.
var consoleShots = []string{"console-login.png", "console-chat.png", "console-markdown.png", "console-phone.png", "console-documents.png",
	"console-users.png", "console-apikeys.png", "console-assistant.png", "console-usage.png", "console-audit.png", "console-account.png",
	"console-tenants.png", "console-tenant.png", "console-allusers.png", "console-platform-usage.png", "console-platform-audit.png"}

// consoleShotsDir is where the README's console tour finds the screenshots, outside
// the embedded files.
const consoleShotsDir = "adapters/httpapi/console/screenshots"

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
	Quotes             int      `json:"quotes"`
	Cites              int      `json:"cites"`
	Answer             string   `json:"answer"`
	AnswerBusy         string   `json:"answerBusy"`
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

	UploadProgress float64 `json:"uploadProgress"`
	ReindexBefore  string  `json:"reindexBefore"`
	ReindexAfter   string  `json:"reindexAfter"`
	Markdown       struct {
		Strong []string `json:"strong"`
		Links  []struct {
			Text, Href, Rel string
		} `json:"links"`
		Dangerous int    `json:"dangerous"`
		Pwned     string `json:"pwned"`
		Text      string `json:"text"`
	} `json:"markdown"`
	Rendered struct {
		Strong    int      `json:"strong"`
		Em        int      `json:"em"`
		Bullets   int      `json:"bullets"`
		Numbered  int      `json:"numbered"`
		Code      string   `json:"code"`
		Links     []string `json:"links"`
		Dangerous int      `json:"dangerous"`
	} `json:"rendered"`
	Renamed                 []string `json:"renamed"`
	AfterConversationDelete []string `json:"afterConversationDelete"`
	MessagesAfterDelete     int      `json:"messagesAfterDelete"`
	APIKey                  struct {
		Prefix       string `json:"prefix"`
		Length       int    `json:"length"`
		RowHasSecret bool   `json:"rowHasSecret"`
		Expires      string `json:"expires"`
		Status       string `json:"status"`
	} `json:"apiKey"`
	Prompt      string   `json:"prompt"`
	VendorFacts []string `json:"vendorFacts"`
	Usage       []struct {
		Label, Value string
	} `json:"usage"`
	Audit              []string `json:"audit"`
	PasswordError      string   `json:"passwordError"`
	PasswordChanged    bool     `json:"passwordChanged"`
	LLMKeyBefore       string   `json:"llmKeyBefore"`
	LLMKeyAfter        string   `json:"llmKeyAfter"`
	KeyInputAfter      string   `json:"keyInputAfter"`
	PageHasKey         bool     `json:"pageHasKey"`
	PageHasKeyEnd      bool     `json:"pageHasKeyEnd"`
	LimitAfter         string   `json:"limitAfter"`
	TenantsAfterDelete []string `json:"tenantsAfterDelete"`
	AllUsers           []string `json:"allUsers"`
	PlatformUsage      []string `json:"platformUsage"`
	PlatformAudit      []string `json:"platformAudit"`
}

// TestConsoleInChromium starts the real binary on an empty embedded database, takes
// the first-run credentials from its stdout, and drives the web console in Debian's
// headless Chromium with playwright-core: log in, a streamed answer with a source
// opened, token refresh, documents with upload progress and re-indexing, users, an
// answer rendered as sanitised Markdown, conversations renamed and deleted, API keys,
// the system prompt, usage, audit, a password change, a phone-sized viewport and, as a
// platform admin, tenants (created, configured with a write-only key and limits,
// suspended, deleted), users of every tenant, usage and audit. Screenshots go to the
// test's temp dir, or to $TENANTRY_CONSOLE_SCREENSHOTS to keep them (the README's
// console tour shows those in adapters/httpapi/console/screenshots).
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
	var got browserReport
	runBrowserScript(t, node, modules, "console.cjs", s, 3*time.Minute, &got,
		"TENANTRY_EMAIL="+m[1], "TENANTRY_PASSWORD="+m[2],
		"TENANTRY_ROOT_EMAIL=root@example.test", "TENANTRY_ROOT_PASSWORD="+rootPassword, "SCREENSHOT_DIR="+shots)
	t.Logf("Chromium %s; screenshots in %s", got.Browser, shots)
	t.Logf("answer %q; sources %q", got.Answer, got.Sources)

	assert.Empty(t, got.Problems, "script errors, CSP violations or failed loads")
	assert.Equal(t, []int{400, 401, 415, 409, 400}, got.HTTPErrors,
		"wrong password, forged access token, PDF upload, duplicate user, wrong current password: nothing else failed")
	assert.Equal(t, httpapi.ConsoleCSP, got.CSP)
	assert.Equal(t, "Skip to content", got.FirstTab)
	assert.Equal(t, "invalid username or password", got.LoginError, "the OAuth error's description")

	assert.Equal(t, "admin@demo.local", got.Who.Email)
	assert.Equal(t, "Tenant admin", got.Who.Role)
	assert.Equal(t, "Demo Company (demo)", got.Who.Tenant)
	assert.Equal(t, []string{"Chat", "Documents", "Users", "API keys", "Assistant", "Usage", "Audit log", "Account"}, got.Tabs)
	assert.Equal(t, "chat-title", got.ChatHeadingFocused, "focus moves to the new view's heading")

	assert.Contains(t, got.Answer, "within 30 days of your first payment")
	assert.Equal(t, "false", got.AnswerBusy)
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
	assert.True(t, strings.HasPrefix(got.UploadError, "the file's extension must be one of"), "the problem's detail, got %q", got.UploadError)

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
	assert.Equal(t, []string{"Tenants", "All users", "Platform usage", "Platform audit", "Account"}, got.RootTabs)
	tenants := map[string]string{}
	for _, tn := range got.Tenants {
		tenants[tn.ID] = tn.Name + "/" + tn.Status
	}
	assert.Equal(t, map[string]string{"acme": "Acme Corporation/Suspended", "demo": "Demo Company/Active"}, tenants)
	assertAdminPages(t, got)
	for _, name := range consoleShots {
		st, err := os.Stat(filepath.Join(shots, name))
		if assert.NoError(t, err) {
			assert.Greater(t, st.Size(), int64(10_000), name)
		}
	}
}

// assertAdminPages checks the steps after the chat: upload progress and re-indexing,
// Markdown, conversation edits, the tenant admin's and the platform admin's pages.
func assertAdminPages(t *testing.T, got browserReport) {
	t.Helper()
	assert.Equal(t, 100.0, got.UploadProgress, "the upload's progress bar reached the end")
	assert.NotEmpty(t, got.ReindexBefore)
	assert.Contains(t, got.ReindexAfter, "Up to date. Last re-indexed")

	md := got.Markdown
	assert.Equal(t, []string{"sturdy gloves"}, md.Strong, "**bold** from the document renders")
	require.NotEmpty(t, md.Links, "the answer's links: %q", md.Text)
	assert.Equal(t, "https://example.com/pelicans", md.Links[0].Href)
	assert.Equal(t, "noopener noreferrer nofollow", md.Links[0].Rel)
	for _, l := range md.Links {
		assert.NotContains(t, l.Href, "javascript", "a javascript: link lost its target")
	}
	assert.Zero(t, md.Dangerous, "no image, script, event handler or javascript: link in the messages")
	assert.Empty(t, md.Pwned, "no injected code ran")
	assert.Contains(t, md.Text, `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`, "HTML in a document shows as text")
	r := got.Rendered
	assert.Equal(t, 1, r.Strong)
	assert.Equal(t, 1, r.Em)
	assert.Equal(t, 2, r.Bullets)
	assert.Equal(t, 1, r.Numbered)
	assert.Equal(t, "code <b>x</b>\n", r.Code, "HTML in a code block shows as text")
	assert.Equal(t, "https://example.com/docs", r.Links[0])
	for _, l := range r.Links[1:] {
		assert.Empty(t, l, "javascript: links keep their text and lose their target")
	}
	assert.Zero(t, r.Dangerous)

	assert.Equal(t, []string{"Pelican care questions", "How many days do I have to request a refund?"}, got.Renamed)
	assert.Equal(t, []string{"How many days do I have to request a refund?"}, got.AfterConversationDelete)
	assert.Zero(t, got.MessagesAfterDelete, "the open conversation was the deleted one")

	assert.Equal(t, "tnt_", got.APIKey.Prefix)
	assert.Greater(t, got.APIKey.Length, 30)
	assert.False(t, got.APIKey.RowHasSecret, "the list shows the prefix only")
	assert.Equal(t, "Revoked", got.APIKey.Status)
	assert.Contains(t, got.APIKey.Expires, "2031", "the expiry chosen when creating it")
	assert.Equal(t, "You are Demo Company's support assistant. Answer briefly and cite the documents.", got.Prompt)
	assert.Equal(t, []string{"Language model", "Embedder", "Vector store", "Retrieval", "Limits"}, got.VendorFacts)
	usage := map[string]string{}
	for _, u := range got.Usage {
		usage[u.Label] = u.Value
	}
	assert.Equal(t, "2", usage["Requests"], "the two questions asked")
	assert.Contains(t, got.Audit, "api_key.revoke")
	assert.Contains(t, got.Audit, "tenant.update")
	assert.Contains(t, got.PasswordError, "is not your current password", "the problem's field error")
	assert.True(t, got.PasswordChanged)

	assert.Equal(t, "(not set)", got.LLMKeyBefore)
	assert.Equal(t, "(set)", got.LLMKeyAfter)
	assert.Empty(t, got.KeyInputAfter, "a key is never filled back in")
	assert.False(t, got.PageHasKey, "the key appears nowhere on the page")
	assert.False(t, got.PageHasKeyEnd, "not even its last characters")
	assert.Equal(t, "120", got.LimitAfter)
	assert.Equal(t, []string{"demo"}, got.TenantsAfterDelete)
	assert.Subset(t, got.AllUsers, []string{"admin@demo.local", "bob@demo.local", "carol@demo.local"})
	assert.Len(t, got.AllUsers, 4, "and the API key's service identity")
	assert.Contains(t, got.PlatformUsage, "demo")
	assert.Contains(t, got.PlatformAudit, "tenant.delete")
}

// TestREADMEConsoleTourShowsTheBrowserTestsScreenshots: every screenshot the README's
// console tour shows is one TestConsoleInChromium takes, and is in the repository.
func TestREADMEConsoleTourShowsTheBrowserTestsScreenshots(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	refs := regexp.MustCompile(`\]\(`+regexp.QuoteMeta(consoleShotsDir)+`/([a-z-]+\.png)\)`).FindAllStringSubmatch(string(readme), -1)
	require.NotEmpty(t, refs, "the README has a console tour")
	for _, m := range refs {
		assert.Contains(t, consoleShots, m[1])
		st, err := os.Stat(filepath.Join("..", consoleShotsDir, m[1]))
		if assert.NoError(t, err, m[1]) {
			assert.Greater(t, st.Size(), int64(10_000), m[1])
		}
	}
}

// streamReply is the fake model's answer, one content delta per element: a list with
// bold text and HTML meant to run script (split across deltas, as a model may send it)
// in the first streamHalf deltas, then a numbered list.
var streamReply = []string{"Pack these:\n\n", "- **sturdy", " gloves**\n", "- a map\n\n",
	"Avoid <img src=x one", "rror=\"window.pwned=1\"> and <scr", "ipt>window.pwned=2</script> ",
	"<b onclick=\"window.pwned=3\">x</b> and [a link](javascript:window.pwned=4).\n\n",
	"1. first\n", "2. second\n"}

const streamHalf = 8

// streamReport is what stream.cjs prints.
type streamReport struct {
	Problems []string `json:"problems"`
	Busy     string   `json:"busy"`
	Partial  struct {
		State    string   `json:"state"`
		Strong   []string `json:"strong"`
		Bullets  int      `json:"bullets"`
		Numbered int      `json:"numbered"`
		Text     string   `json:"text"`
	} `json:"partial"`
	Final struct {
		State    string   `json:"state"`
		Strong   []string `json:"strong"`
		Bullets  int      `json:"bullets"`
		Numbered int      `json:"numbered"`
		Text     string   `json:"text"`
	} `json:"final"`
	Live  []string `json:"live"`
	Pwned string   `json:"pwned"`
}

// TestConsoleRendersMarkdownWhileStreaming drives the console in headless Chromium
// against the real binary, whose tenant's model is a local OpenAI-compatible fake that
// stalls half-way through its first answer: the half already shows as rendered
// Markdown, and no render, intermediate or final, inserts live HTML or runs script.
func TestConsoleRendersMarkdownWhileStreaming(t *testing.T) {
	t.Parallel()
	node, npm := nodeTools(t, "the console browser test", browserChromium)
	modules := npmModules(t, npm, browserDir, "playwright-core")

	const aiKey = "sk-console-stream-0123456789"
	ai := openaitest.New(t, openaitest.Options{APIKey: aiKey, Reply: streamReply})
	ai.Inject(openaitest.Fault{Path: "/chat/completions", After: streamHalf, Stall: true})
	e := newEnv(t).with("TENANTRY_ALLOW_HTTP_VENDORS", "true", "AI_KEY", aiKey)
	seed(t, e, "acme", "admin@acme.test", "tenant_admin")
	mustRun(t, e, "", "tenant", "update", "acme", "--llm-provider", "openai", "--llm-base-url", ai.URL,
		"--llm-model", "gpt-4o-mini", "--llm-api-key-env", "AI_KEY")
	s := startServer(t, e)

	var got streamReport
	runBrowserScript(t, node, modules, "stream.cjs", s, 2*time.Minute, &got,
		"TENANTRY_EMAIL=admin@acme.test", "TENANTRY_PASSWORD="+e2ePassword)

	assert.Empty(t, got.Problems, "script errors or CSP violations")
	assert.Equal(t, "streaming", got.Partial.State, "observed before done")
	assert.Equal(t, "true", got.Busy)
	assert.Equal(t, []string{"sturdy gloves"}, got.Partial.Strong, "bold renders mid-stream")
	assert.Equal(t, 2, got.Partial.Bullets, "the list renders mid-stream")
	assert.Zero(t, got.Partial.Numbered, "nothing after the stall showed")
	assert.Contains(t, got.Partial.Text, `<img src=x onerror="window.pwned=1">`, "HTML shows as text")
	assert.Contains(t, got.Partial.Text, `<script>window.pwned=2</script>`)

	assert.Equal(t, "done", got.Final.State)
	assert.Equal(t, []string{"sturdy gloves"}, got.Final.Strong)
	assert.Equal(t, 2, got.Final.Numbered)
	assert.Empty(t, got.Live, "live HTML was inserted by some render")
	assert.Empty(t, got.Pwned, "script from the model ran")
	require.Len(t, ai.ChatRequests(), 2)
}

// runBrowserScript runs one of browserDir's scripts with node against s, with vars
// (KEY=value) besides TENANTRY_URL, a fresh Chromium profile and the browser, and
// decodes the JSON report it prints into report.
func runBrowserScript(t *testing.T, node, modules, script string, s *server, timeout time.Duration, report any, vars ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = browserDir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NODE_PATH=" + modules,
		"TENANTRY_URL=" + s.url, "USER_DATA_DIR=" + t.TempDir(), "CHROMIUM=" + browserChromium,
	}, vars...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "node %s\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", script, stdout.String(), stderr.String(), s.stderr.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), report), stdout.String())
}
