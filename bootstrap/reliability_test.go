package bootstrap

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/hashing"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// The reliability tests of issue 8: client faults (slow headers, slow bodies,
// disconnects mid-stream) against serveOn with the production http.Server settings,
// and database faults against a PostgreSQL cluster of the test's own, which it stops
// and starts under load.

// relVendors answer every tenant with a hashing embedder, an empty index and a model
// whose stream the test scripts.
type relVendors struct {
	stream func(ctx context.Context) iter.Seq2[domain.Delta, error]
}

func (v *relVendors) Embedder(domain.Tenant) (ports.Embedder, error) { return hashing.New(64), nil }
func (v *relVendors) VectorIndex(domain.Tenant) (ports.VectorIndex, error) {
	return shutdownIndex{}, nil
}
func (v *relVendors) ChatModel(domain.Tenant) (ports.ChatModel, error) { return v, nil }
func (v *relVendors) Check(context.Context, domain.Tenant) error       { return nil }
func (v *relVendors) Stream(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return v.stream(ctx)
}

// relAddUser stores a user of tenant acme with shutdownPassword and returns an access
// token for it.
func relAddUser(t *testing.T, s *shutdownServer, id domain.UserID, email string, role domain.Role) string {
	t.Helper()
	ctx := context.Background()
	hash, err := passwords.New(passwords.Config{}).Hash(ctx, shutdownPassword)
	require.NoError(t, err)
	u, err := domain.NewUser(id, domain.Email(email), role, "acme", hash, time.Now())
	require.NoError(t, err)
	require.NoError(t, s.st.Users.Create(ctx, u))
	res, err := http.PostForm(s.base+"/auth/token", map[string][]string{"username": {email}, "password": {shutdownPassword}})
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tr))
	return tr.AccessToken
}

// relTimeouts are short server read timeouts, so slow clients are cut within a second.
var relTimeouts = []string{"TENANTRY_READ_HEADER_TIMEOUT", "700ms", "TENANTRY_READ_TIMEOUT", "1s"}

// relTrickle writes b one byte every gap until done, the connection fails or b ends;
// it returns how many bytes went out.
func relTrickle(conn net.Conn, b []byte, gap time.Duration, done <-chan struct{}) int {
	for i := range b {
		select {
		case <-done:
			return i
		case <-time.After(gap):
		}
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write(b[i : i+1]); err != nil {
			return i
		}
	}
	return len(b)
}

func TestReliabilitySlowHeadersAreCutByReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	s := startShutdownServer(t, &relVendors{}, time.Second, relTimeouts...)
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer conn.Close()

	// A slowloris client: the request line at once, then one header byte every 100 ms;
	// sending all of it would take about 20 s.
	began := time.Now()
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: tenantry.test\r\n")
	require.NoError(t, err)
	closed := make(chan struct{})
	var got []byte
	var readErr error
	go func() {
		defer close(closed)
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		got, readErr = io.ReadAll(conn)
	}()
	sent := relTrickle(conn, []byte("X-Slow: "+strings.Repeat("a", 200)+"\r\n\r\n"), 100*time.Millisecond, closed)
	<-closed
	cut := time.Since(began)

	require.NotErrorIs(t, readErr, context.DeadlineExceeded)
	var ne net.Error
	if errors.As(readErr, &ne) {
		require.False(t, ne.Timeout(), "the client, not the server, gave up: %v", readErr)
	}
	// net/http answers a plain 400 and closes the connection; the handler never runs.
	if len(got) > 0 {
		assert.True(t, strings.HasPrefix(string(got), "HTTP/1.1 400 "), "%q", got)
		assert.Contains(t, string(got), "Connection: close")
	}
	assert.Less(t, sent, 200, "the headers were never complete")
	assert.GreaterOrEqual(t, cut, 600*time.Millisecond, "cut at TENANTRY_READ_HEADER_TIMEOUT, not before")
	assert.Less(t, cut, 3*time.Second, "cut soon after TENANTRY_READ_HEADER_TIMEOUT (700ms)")
	t.Logf("slow headers cut after %v (%d header bytes sent)", cut.Round(time.Millisecond), sent)

	// The server still serves everyone else.
	res, err := http.Get(s.base + "/healthz")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestReliabilitySlowBodyIsCutByReadTimeout(t *testing.T) {
	t.Parallel()
	s := startShutdownServer(t, &relVendors{}, time.Second, relTimeouts...)
	token := relAddUser(t, s, "u-admin", "admin@acme.test", domain.RoleTenantAdmin)
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer conn.Close()

	body := `{"title":"slow","text":"` + strings.Repeat("x", 300) + `"}`
	began := time.Now()
	_, err = fmt.Fprintf(conn, "POST /documents HTTP/1.1\r\nHost: tenantry.test\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", token, len(body))
	require.NoError(t, err)
	answered := make(chan struct{})
	var res *http.Response
	var resBody []byte
	var readErr error
	go func() {
		defer close(answered)
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		br := bufio.NewReader(conn)
		res, readErr = http.ReadResponse(br, nil)
		if readErr == nil {
			resBody, _ = io.ReadAll(res.Body)
			_ = res.Body.Close()
			_, readErr = br.ReadByte() // then the server closes the connection
		}
	}()
	// One body byte every 50 ms: the whole body would take about 16 s.
	sent := relTrickle(conn, []byte(body), 50*time.Millisecond, answered)
	<-answered
	cut := time.Since(began)

	assert.Less(t, sent, len(body), "the body was never complete")
	assert.GreaterOrEqual(t, cut, 900*time.Millisecond, "cut at TENANTRY_READ_TIMEOUT, not before")
	assert.Less(t, cut, 3*time.Second, "cut soon after TENANTRY_READ_TIMEOUT (1s)")
	require.NotNil(t, res, "the handler answers the failed read: %v", readErr)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", resBody)
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	assert.Contains(t, string(resBody), `"code":"invalid_request"`)
	assert.ErrorIs(t, readErr, io.EOF, "the connection is closed after the answer")
	t.Logf("slow body cut after %v (%d of %d body bytes sent): %d %s", cut.Round(time.Millisecond), sent, len(body), res.StatusCode, resBody)

	docs, err := s.st.Documents.List(context.Background(), "acme", domain.Page{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, docs, "nothing is stored from a cut body")
}

// relCancelRecord is what the scripted model saw of its context.
type relCancelRecord struct {
	mu       sync.Mutex
	calls    int
	err      error
	stopped  chan struct{}
	released time.Time
}

func TestReliabilityClientDisconnectCancelsTheModel(t *testing.T) {
	t.Parallel()
	rec := &relCancelRecord{stopped: make(chan struct{}, 8)}
	v := &relVendors{stream: func(ctx context.Context) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			rec.mu.Lock()
			rec.calls++
			first := rec.calls == 1
			rec.mu.Unlock()
			if !first { // the stream opened after the disconnect answers at once
				if yield(domain.Delta{Text: "second"}, nil) {
					yield(domain.Delta{Done: true, FinishReason: "stop", Model: "rel"}, nil)
				}
				return
			}
			defer func() { rec.stopped <- struct{}{} }()
			if !yield(domain.Delta{Text: "partial "}, nil) {
				return
			}
			// An upstream that would stream for a minute unless cancelled.
			select {
			case <-ctx.Done():
				rec.mu.Lock()
				rec.err, rec.released = context.Cause(ctx), time.Now()
				rec.mu.Unlock()
				yield(domain.Delta{}, ctx.Err())
			case <-time.After(time.Minute):
				yield(domain.Delta{Done: true, FinishReason: "stop", Model: "rel"}, nil)
			}
		}
	}}
	s := startShutdownServer(t, v, time.Second)
	// One stream at a time: a second stream is only accepted once the first one's
	// slot was released, so the test also shows that the disconnect ended the work.
	_, err := s.st.Tenants.Update(context.Background(), "acme", func(tn *domain.Tenant) error {
		tn.Limits.MaxConcurrentStreams = 1
		return nil
	})
	require.NoError(t, err)

	res, _ := s.openStream(t) // read up to the first token
	left := time.Now()
	require.NoError(t, res.Body.Close())

	select {
	case <-rec.stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the model kept running after the client disconnected")
	}
	rec.mu.Lock()
	assert.ErrorIs(t, rec.err, context.Canceled, "the model's context is cancelled")
	assert.Less(t, rec.released.Sub(left), 2*time.Second, "promptly")
	rec.mu.Unlock()

	// The stream slot is free again and the partial answer is stored as incomplete.
	ctx := context.Background()
	require.Eventually(t, func() bool {
		convs, err := s.st.Conversations.List(ctx, "acme", "u-1", domain.Page{Limit: 10})
		if err != nil || len(convs) != 1 {
			return false
		}
		msgs, err := s.st.Conversations.Messages(ctx, "acme", convs[0].ID, 10)
		return err == nil && len(msgs) == 2 && msgs[1].Incomplete && msgs[1].Content == "partial "
	}, 5*time.Second, 20*time.Millisecond, "the partial answer is stored, marked incomplete")
	var names []string
	require.Eventually(t, func() bool {
		res2, evs := s.relStream(t)
		defer res2.Body.Close()
		if res2.StatusCode != http.StatusOK {
			return false
		}
		names = evs
		return true
	}, 5*time.Second, 50*time.Millisecond, "a new stream is accepted: the slot was released")
	assert.Equal(t, []string{"sources", "token", "done"}, names)
}

// relStream posts one chat message and reads every event name of a 200 stream.
func (s *shutdownServer) relStream(t *testing.T) (*http.Response, []string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/chat/stream", strings.NewReader(`{"message":"hello"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token(t))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	if res.StatusCode != http.StatusOK {
		return res, nil
	}
	evs := &shutdownEvents{r: bufio.NewReader(res.Body)}
	var names []string
	for {
		name, _, err := evs.next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			return res, names
		}
		names = append(names, name)
	}
}

// TestReliabilityStreamOutlivesReadTimeout: the read timeout bounds how long a client
// may take to send its request, not how long the answer may stream. net/http cancels
// a request's context when a read on its connection fails; it lifts the read deadline
// once the body has been read to its end, which the JSON decoding does. This pins
// that a short TENANTRY_READ_TIMEOUT never cuts a long answer.
func TestReliabilityStreamOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	v := &relVendors{stream: func(ctx context.Context) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			for i := range 12 { // about 2.4 s, well past the 1 s read timeout
				if !yield(domain.Delta{Text: fmt.Sprintf("t%d ", i)}, nil) {
					return
				}
				select {
				case <-ctx.Done():
					yield(domain.Delta{}, ctx.Err())
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			yield(domain.Delta{Done: true, FinishReason: "stop", Model: "rel"}, nil)
		}
	}}
	s := startShutdownServer(t, v, time.Second, relTimeouts...)
	res, names := s.relStream(t)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotEmpty(t, names)
	assert.Equal(t, "done", names[len(names)-1], "the stream completes: %v", names)
	assert.Len(t, names, 14, "sources, 12 tokens, done")
}

// relPostgres is a throwaway PostgreSQL cluster of one test, started from the system's
// binaries (as .ci/with-postgres does), so that the test may stop and restart it
// without disturbing the tests that share TEST_DATABASE_URL's server.
type relPostgres struct {
	bin, dir, data string
	port           int
	asPG           []string // runuser prefix when running as root (initdb refuses root)
}

// relPostgresBin finds the directory of initdb and pg_ctl, newest version first.
func relPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return relVersion(b) - relVersion(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL binaries (initdb, pg_ctl) not found: install the Debian package postgresql")
}

// relVersion is the major version in /usr/lib/postgresql/<major>/bin.
func relVersion(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func relStartPostgres(t *testing.T) *relPostgres {
	t.Helper()
	bin, err := relPostgresBin()
	require.NoError(t, err)
	// Not t.TempDir: its parents are 0700, and the postgres user must traverse them.
	dir, err := os.MkdirTemp("", "tenantry-rel-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	p := &relPostgres{bin: bin, dir: dir, data: filepath.Join(dir, "data"), port: freePort(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root, but there is no postgres user to run initdb as")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
		p.asPG = []string{"runuser", "-u", "postgres", "--"}
	}
	require.NoError(t, p.exec("initdb", "-D", p.data, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"))
	t.Cleanup(func() { _ = p.exec("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop") })
	p.start(t)
	return p
}

// start starts (or restarts) the cluster on its port. fsync is off (a throwaway
// cluster), but synchronous_commit stays on: an immediate stop kills the server, not
// the machine, so every commit it acknowledged is in the WAL and survives.
func (p *relPostgres) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", p.port, p.data)
	require.NoError(t, p.exec("pg_ctl", "-D", p.data, "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "30", "-o", opts, "start"))
}

// stop kills the server at once, as a crash or a failover would: open connections
// break, new ones are refused.
func (p *relPostgres) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.exec("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop"))
}

func (p *relPostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// exec runs one of the cluster's binaries as the postgres user; its output goes to a
// file (the server it starts must not hold a pipe of ours open).
func (p *relPostgres) exec(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(append([]string{}, p.asPG...), filepath.Join(p.bin, name))
	argv = append(argv, args...)
	outPath := filepath.Join(p.dir, "ctl.out")
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(outPath)
		log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
		return fmt.Errorf("%s %s: %w\n%s\n%s", name, strings.Join(args, " "), err, msg, log)
	}
	return nil
}

// relServer is `tenantry serve` in process (openRuntime + serveOn, as serve runs them)
// on a relPostgres cluster, with tenant acme and its admin, tenant beta and a member.
type relServer struct {
	base   string
	cfg    Config
	logs   *hBuffer
	served chan struct{}
}

func relStartServer(t *testing.T, pg *relPostgres, extra ...env) *relServer {
	t.Helper()
	e := env{
		"DATABASE_URL": pg.url(), "TENANTRY_SECRET_KEY": secretKey(t), "TENANTRY_DATA_DIR": t.TempDir(),
		"TENANTRY_PUBLIC_URL": "http://tenantry.test", "TENANTRY_LOG_LEVEL": "info",
		"TENANTRY_DB_TIMEOUT": "2s",
		// Long enough that the warm caches outlive the outage (see the /users/me check).
		"TENANTRY_CACHE_TTL": "2m",
	}
	for _, x := range extra {
		for k, v := range x {
			e[k] = v
		}
	}
	cfg := e.config(t)
	logs := &hBuffer{}
	ctx := context.Background()
	rt, err := openRuntime(ctx, cfg, IO{In: strings.NewReader(""), Out: io.Discard, Err: logs, Getenv: e.getenv}, schemaHCL(t), true)
	require.NoError(t, err)
	a := rt.admin()
	_, err = a.tenants.Create(ctx, a.actor, "acme", "Acme")
	require.NoError(t, err)
	_, err = a.users.Create(ctx, a.actor, application.NewUserInput{Email: "admin@acme.test", Password: hPassword, Role: domain.RoleTenantAdmin, TenantID: "acme"})
	require.NoError(t, err)
	_, err = a.tenants.Create(ctx, a.actor, "beta", "Beta")
	require.NoError(t, err)
	_, err = a.users.Create(ctx, a.actor, application.NewUserInput{Email: "member@beta.test", Password: hPassword, Role: domain.RoleMember, TenantID: "beta"})
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	s := &relServer{base: "http://" + ln.Addr().String(), cfg: cfg, logs: logs, served: make(chan struct{})}
	go func() {
		defer close(s.served)
		if err := serveOn(runCtx, rt, ln); err != nil {
			t.Errorf("serveOn: %v", err)
		}
	}()
	t.Cleanup(func() {
		stop()
		<-s.served
		rt.Close()
		if t.Failed() {
			var errs []string
			for _, line := range strings.Split(logs.String(), "\n") {
				if !strings.Contains(line, `"level":"info"`) && !strings.Contains(line, `"level":"debug"`) {
					errs = append(errs, line)
				}
			}
			t.Logf("server log, warnings and errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	return s
}

// relOutcome is one request of the load and its answer.
type relOutcome struct {
	route        string
	status       int
	contentType  string
	code         string
	began, ended time.Time
	err          error
}

func (o relOutcome) String() string {
	return fmt.Sprintf("%s -> %d %s (%v)", o.route, o.status, o.code, o.ended.Sub(o.began).Round(time.Millisecond))
}

// relLoad drives the server with a few writers and readers and records every answer,
// the documents whose creation was answered 2xx and the system prompts sent.
type relLoad struct {
	base, token string
	betaToken   string // a member of tenant beta, which nothing writes to
	client      *http.Client

	mu       sync.Mutex
	outcomes []relOutcome
	docs     map[string]string // id → title of every 201 on POST /documents
	prompts  []relPrompt       // in the order the one patcher sent them
}

type relPrompt struct {
	value  string
	status int
}

func (l *relLoad) do(route, contentType, body string) (relOutcome, []byte) {
	return l.doAs(l.token, "", route, contentType, body)
}

// doAs sends route with token; label, when set, marks the outcome's route.
func (l *relLoad) doAs(token, label, route, contentType, body string) (relOutcome, []byte) {
	method, path, _ := strings.Cut(route, " ")
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.base+path, rd)
	if err != nil {
		panic(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	o := relOutcome{route: method + " " + strings.SplitN(path, "?", 2)[0] + label, began: time.Now()}
	res, err := l.client.Do(req)
	var b []byte
	if err == nil {
		b, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
		o.status, o.contentType = res.StatusCode, res.Header.Get("Content-Type")
		var p struct {
			Code string `json:"code"`
		}
		if strings.Contains(o.contentType, "problem+json") && json.Unmarshal(b, &p) == nil {
			o.code = p.Code
		}
	}
	o.ended, o.err = time.Now(), err
	l.mu.Lock()
	l.outcomes = append(l.outcomes, o)
	l.mu.Unlock()
	return o, b
}

func (l *relLoad) writeDocument(title string) relOutcome {
	body := fmt.Sprintf(`{"title":%q,"text":"Reliability document %s: the refund window is thirty days."}`, title, title)
	o, b := l.do("POST /documents", "application/json", body)
	if o.status == http.StatusCreated {
		var d struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &d) == nil && d.ID != "" {
			l.mu.Lock()
			l.docs[d.ID] = title
			l.mu.Unlock()
		}
	}
	return o
}

func (l *relLoad) patchPrompt(value string) relOutcome {
	o, _ := l.do("PATCH /tenant", "application/merge-patch+json", fmt.Sprintf(`{"system_prompt":%q}`, value))
	l.mu.Lock()
	l.prompts = append(l.prompts, relPrompt{value: value, status: o.status})
	l.mu.Unlock()
	return o
}

// run starts two document writers, one tenant patcher and three readers (one of them
// for tenant beta), each sending a request every 20 ms until stop is closed.
func (l *relLoad) run(stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	loop := func(step func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				step(i)
			}
		}()
	}
	for w := range 2 {
		loop(func(i int) { l.writeDocument(fmt.Sprintf("rel-%d-%d", w, i)) })
	}
	loop(func(i int) { l.patchPrompt(fmt.Sprintf("Answer briefly. (revision %d)", i)) })
	for r := range 2 {
		loop(func(i int) {
			if (i+r)%2 == 0 {
				l.do("GET /documents?limit=5", "", "")
			} else {
				l.do("GET /users/me", "", "")
			}
		})
	}
	loop(func(int) { l.doAs(l.betaToken, relBeta, "GET /users/me", "", "") })
	return &wg
}

// burst starts n writers that send back to back, without pause, until stop is
// closed, so that transactions are open at the moment the database dies.
func (l *relLoad) burst(stop <-chan struct{}, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if w%2 == 0 {
					l.patchPrompt(fmt.Sprintf("Answer briefly. (burst %d.%d)", w, i))
				} else {
					l.writeDocument(fmt.Sprintf("burst-%d-%d", w, i))
				}
			}
		}()
	}
	return &wg
}

func (l *relLoad) snapshot() []relOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.outcomes)
}

// relBeta labels the requests of tenant beta's member.
const relBeta = " (beta)"

// relNeedsDB are the routes of the load that cannot answer without the database.
var relNeedsDB = map[string]bool{"POST /documents": true, "PATCH /tenant": true, "GET /documents": true}

func TestReliabilityDatabaseOutageAndRecovery(t *testing.T) {
	requirePostgres(t) // the cluster is the test's own; the variable says PostgreSQL tests are wanted
	pg := relStartPostgres(t)
	s := relStartServer(t, pg)
	// Each answer, failures included, comes within this bound: a refused connection
	// fails at once, and a connection attempt is bounded by TENANTRY_DB_TIMEOUT (2s).
	bound := s.cfg.DBTimeout + 3*time.Second

	l := &relLoad{base: s.base, client: &http.Client{Timeout: 30 * time.Second}, docs: map[string]string{}}
	l.token, l.betaToken = l.relLogin(t, "admin@acme.test"), l.relLogin(t, "member@beta.test")
	for _, warm := range []string{"GET /users/me", "GET /documents"} {
		o, b := l.do(warm, "", "")
		require.Equal(t, http.StatusOK, o.status, "%s: %s", warm, b)
	}
	o, b := l.doAs(l.betaToken, relBeta, "GET /users/me", "", "")
	require.Equal(t, http.StatusOK, o.status, "%s", b)

	stop := make(chan struct{})
	wg := l.run(stop)
	time.Sleep(time.Second)

	// The outage: PostgreSQL dies under load, with a burst of writes in flight.
	burst := make(chan struct{})
	burstDone := l.burst(burst, 6)
	time.Sleep(150 * time.Millisecond)
	stopping := time.Now()
	pg.stop(t)
	down := time.Now()
	close(burst)
	burstDone.Wait()
	time.Sleep(300 * time.Millisecond)
	for _, probe := range []struct{ route, contentType, body string }{
		{"GET /readyz", "", ""},
		{"POST /documents", "application/json", `{"title":"during the outage","text":"never stored"}`},
		{"PATCH /tenant", "application/merge-patch+json", `{"name":"never stored"}`},
		{"GET /documents", "", ""},
	} {
		o, b := l.do(probe.route, probe.contentType, probe.body)
		assert.Equal(t, http.StatusServiceUnavailable, o.status, "%s during the outage: %s", probe.route, b)
		assert.Equal(t, "application/problem+json", o.contentType, "%s", probe.route)
		assert.Equal(t, "unavailable", o.code, "%s: %s", probe.route, b)
	}
	// Logging in needs the database: it is unavailable, never "invalid credentials".
	form := "grant_type=password&username=admin%40acme.test&password=" + strings.ReplaceAll(hPassword, " ", "+")
	o, b = l.doAs("", "", "POST /auth/token", "application/x-www-form-urlencoded", form)
	assert.Equal(t, http.StatusServiceUnavailable, o.status, "login during the outage: %s", b)
	// The process is alive.
	o, _ = l.do("GET /healthz", "", "")
	assert.Equal(t, http.StatusOK, o.status)
	// By design, /users/me keeps answering from the warm user and tenant caches
	// (TENANTRY_CACHE_TTL; tokens are verified with signing keys held in memory), so
	// identity reads survive a short outage while every write fails with 503. Tenant
	// beta's member shows it: nothing writes to beta. Acme's /users/me may turn 503,
	// because each PATCH /tenant, even a failed one, drops acme from the cache (the
	// write's outcome is unknown), and the next read must go to the database.
	o, b = l.doAs(l.betaToken, relBeta, "GET /users/me", "", "")
	assert.Equal(t, http.StatusOK, o.status, "/users/me from the caches: %s", b)
	time.Sleep(1500 * time.Millisecond)

	// The recovery, without restarting tenantry.
	up := time.Now()
	pg.start(t)
	var readyAt time.Time
	require.Eventually(t, func() bool {
		o, _ := l.do("GET /readyz", "", "")
		readyAt = o.ended
		return o.status == http.StatusOK
	}, 20*time.Second, 100*time.Millisecond, "/readyz turns 200 again")
	t.Logf("outage %v; ready %v after the restart", up.Sub(stopping).Round(time.Millisecond), readyAt.Sub(up).Round(time.Millisecond))
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// Writes succeed again, every one of them.
	for i := range 5 {
		o := l.writeDocument(fmt.Sprintf("after-%d", i))
		require.Equal(t, http.StatusCreated, o.status, "write after recovery: %s", o)
		o = l.patchPrompt(fmt.Sprintf("Answer briefly. (after %d)", i))
		require.Equal(t, http.StatusOK, o.status, "patch after recovery: %s", o)
	}
	assert.Equal(t, http.StatusOK, l.relLoginStatus(form), "login after recovery")

	relCheckOutcomes(t, l.snapshot(), relWindow{stopping: stopping, down: down, up: up, ready: readyAt}, bound)
	relCheckNothingLost(t, l, pg)
	select {
	case <-s.served:
		t.Fatal("the server stopped during the outage")
	default:
	}
}

// relLogin runs the password grant and returns the access token.
func (l *relLoad) relLogin(t *testing.T, email string) string {
	t.Helper()
	form := "grant_type=password&username=" + strings.ReplaceAll(email, "@", "%40") + "&password=" + strings.ReplaceAll(hPassword, " ", "+")
	o, b := l.doAs("", "", "POST /auth/token", "application/x-www-form-urlencoded", form)
	require.Equal(t, http.StatusOK, o.status, "%s", b)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(b, &tok))
	return tok.AccessToken
}

func (l *relLoad) relLoginStatus(form string) int {
	o, _ := l.doAs("", "", "POST /auth/token", "application/x-www-form-urlencoded", form)
	return o.status
}

// relWindow is when the outage began (stopping), was complete (down), ended (up) and
// when /readyz said so (ready).
type relWindow struct{ stopping, down, up, ready time.Time }

// phase classifies a request: "up" when it ran entirely with the database up (before
// the stop, or after /readyz turned 200), "down" when entirely within the outage,
// "straddling" otherwise.
func (w relWindow) phase(o relOutcome) string {
	switch {
	case o.ended.Before(w.stopping) || o.began.After(w.ready):
		return "up"
	case o.began.After(w.down) && o.ended.Before(w.up):
		return "down"
	}
	return "straddling"
}

// relCheckOutcomes checks every answer of the load: on time, 2xx or a 503 problem,
// 503 for what needs the database while it was down, 2xx once it was back.
func relCheckOutcomes(t *testing.T, outcomes []relOutcome, w relWindow, bound time.Duration) {
	t.Helper()
	var slowest time.Duration
	counts := map[string]int{}
	for _, o := range outcomes {
		require.NoError(t, o.err, "%s", o)
		took := o.ended.Sub(o.began)
		slowest = max(slowest, took)
		assert.LessOrEqual(t, took, bound, "no request hangs: %s", o)
		if o.route == "GET /healthz" || o.route == "POST /auth/token" {
			continue // checked where they were sent
		}
		phase := w.phase(o)
		counts[fmt.Sprintf("%s %s %d", phase, o.route, o.status)]++
		if o.status >= 300 {
			assert.Equal(t, http.StatusServiceUnavailable, o.status, "only a 503 is a valid failure: %s", o)
			assert.Equal(t, "application/problem+json", o.contentType, "%s", o)
			assert.Equal(t, "unavailable", o.code, "%s", o)
		}
		switch {
		case phase == "up" && o.route != "GET /readyz":
			assert.Less(t, o.status, 300, "with the database up: %s", o)
		case phase == "down" && relNeedsDB[o.route]:
			assert.Equal(t, http.StatusServiceUnavailable, o.status, "with the database down: %s", o)
		case phase == "down" && o.route == "GET /users/me"+relBeta:
			assert.Equal(t, http.StatusOK, o.status, "from the caches: %s", o)
		}
	}
	var summary strings.Builder
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&summary, "\n  %-40s %d", k, counts[k])
	}
	t.Logf("%d requests, slowest %v (bound %v):%s", len(outcomes), slowest.Round(time.Millisecond), bound, summary.String())
	for _, route := range []string{"POST /documents", "PATCH /tenant", "GET /documents"} {
		assert.Positive(t, counts["down "+route+" 503"], "the load hit %s during the outage", route)
		assert.Positive(t, counts["up "+route+" 200"]+counts["up "+route+" 201"], "and with the database up")
	}
	assert.Positive(t, counts["down GET /users/me"+relBeta+" 200"], "beta's /users/me ran during the outage")
}

// relCheckNothingLost reads back every write that was answered 2xx, through the API
// and straight from the database.
func relCheckNothingLost(t *testing.T, l *relLoad, pg *relPostgres) {
	t.Helper()
	db, err := sql.Open("pgx", pg.url())
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()
	l.mu.Lock()
	docs := maps.Clone(l.docs)
	prompts := slices.Clone(l.prompts)
	l.mu.Unlock()
	require.NotEmpty(t, docs)
	for id, title := range docs {
		o, b := l.do("GET /documents/"+id, "", "")
		require.Equal(t, http.StatusOK, o.status, "document %s (%s) was answered 201: %s", id, title, b)
		var d struct {
			Title string `json:"title"`
		}
		require.NoError(t, json.Unmarshal(b, &d))
		assert.Equal(t, title, d.Title)
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM chunks WHERE tenant_id = 'acme' AND document_id = $1", id).Scan(&n))
		assert.Positive(t, n, "document %s has its chunks", id)
	}
	var stored int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM documents WHERE tenant_id = 'acme'").Scan(&stored))
	assert.GreaterOrEqual(t, stored, len(docs))

	// The tenant holds the last prompt answered 200, or one sent after it whose answer
	// was lost with the connection (it may have committed): never an older one.
	last := -1
	for i, p := range prompts {
		if p.status == http.StatusOK {
			last = i
		}
	}
	require.GreaterOrEqual(t, last, 0)
	var got string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT system_prompt FROM tenants WHERE id = 'acme'").Scan(&got))
	allowed := []string{prompts[last].value}
	for _, p := range prompts[last+1:] {
		allowed = append(allowed, p.value)
	}
	assert.Contains(t, allowed, got)
	t.Logf("%d documents and %d prompt patches answered 2xx, all readable after the recovery", len(docs), relCount(prompts))
}

func relCount(ps []relPrompt) int {
	n := 0
	for _, p := range ps {
		if p.status == http.StatusOK {
			n++
		}
	}
	return n
}
