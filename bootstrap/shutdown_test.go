package bootstrap

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/hashing"
	"github.com/tenantry/tenantry/adapters/memory"
	"github.com/tenantry/tenantry/adapters/passwords"
	"github.com/tenantry/tenantry/adapters/secretbox"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// shutdownVendors answer every tenant with a hashing embedder, an empty index and a
// model that sends one delta, signals started, then waits for release (finishing the
// answer) or for its context to end (failing with the context's error).
type shutdownVendors struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func newShutdownVendors() *shutdownVendors {
	return &shutdownVendors{started: make(chan struct{}), release: make(chan struct{})}
}

func (v *shutdownVendors) Embedder(domain.Tenant) (ports.Embedder, error) {
	return hashing.New(64), nil
}
func (v *shutdownVendors) VectorIndex(domain.Tenant) (ports.VectorIndex, error) {
	return shutdownIndex{}, nil
}
func (v *shutdownVendors) ChatModel(domain.Tenant) (ports.ChatModel, error) { return v, nil }

func (v *shutdownVendors) Check(context.Context, domain.Tenant) error { return nil }

func (v *shutdownVendors) Stream(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return func(yield func(domain.Delta, error) bool) {
		if !yield(domain.Delta{Text: "partial "}, nil) {
			return
		}
		v.once.Do(func() { close(v.started) })
		select {
		case <-ctx.Done():
			yield(domain.Delta{}, ctx.Err())
		case <-v.release:
			if yield(domain.Delta{Text: "answer"}, nil) {
				yield(domain.Delta{Done: true, FinishReason: "stop", Model: "slow", Usage: domain.Usage{PromptTokens: 3, CompletionTokens: 2}}, nil)
			}
		}
	}
}

type shutdownIndex struct{}

func (shutdownIndex) Upsert(context.Context, domain.TenantID, []domain.Chunk) error { return nil }
func (shutdownIndex) Search(context.Context, domain.TenantID, []float32, int, float64) (domain.SearchResult, error) {
	return domain.SearchResult{Passages: []domain.Passage{}}, nil
}
func (shutdownIndex) DeleteDocument(context.Context, domain.TenantID, domain.DocumentID) error {
	return nil
}
func (shutdownIndex) DropTenant(context.Context, domain.TenantID) error { return nil }

// shutdownServer is serveOn running the production router on memory stores.
type shutdownServer struct {
	base   string
	addr   string
	st     Stores
	logs   *shutdownLog
	stop   context.CancelFunc
	served chan struct{} // closed when serveOn has returned, with its error in err
	err    error
}

const shutdownPassword = "correct horse battery staple"

// startShutdownServer serves on a loopback port with the given shutdown timeout and
// seeds tenant acme with one member.
func startShutdownServer(t *testing.T, v ports.Vendors, timeout time.Duration, env ...string) *shutdownServer {
	t.Helper()
	vars := map[string]string{"TENANTRY_PUBLIC_URL": "http://tenantry.test", "TENANTRY_LOG_LEVEL": "debug",
		"TENANTRY_SHUTDOWN_TIMEOUT": timeout.String()}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	require.NoError(t, err)
	key, err := secretbox.GenerateKey()
	require.NoError(t, err)
	keyring, err := secretbox.New(key)
	require.NoError(t, err)
	logs := &shutdownLog{}
	log, err := newLogger(cfg, logs)
	require.NoError(t, err)
	ctx := context.Background()
	st := MemoryStores(memory.NewDB())
	api, err := Router(ctx, cfg, st, RouterOptions{Log: log, Sealer: keyring, Vendors: v})
	require.NoError(t, err)
	t.Cleanup(func() { _ = api.Close() })

	now := time.Now()
	tn, err := domain.NewTenant("acme", "Acme", now)
	require.NoError(t, err)
	require.NoError(t, st.Tenants.Create(ctx, tn))
	hash, err := passwords.New(passwords.Config{}).Hash(ctx, shutdownPassword)
	require.NoError(t, err)
	u, err := domain.NewUser("u-1", "member@acme.test", domain.RoleMember, "acme", hash, now)
	require.NoError(t, err)
	require.NoError(t, st.Users.Create(ctx, u))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	s := &shutdownServer{base: "http://" + ln.Addr().String(), addr: ln.Addr().String(), st: st, logs: logs, stop: stop, served: make(chan struct{})}
	rt := &runtime{cfg: cfg, log: log, router: api.Handler}
	go func() {
		s.err = serveOn(runCtx, rt, ln)
		close(s.served)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-s.served:
		case <-time.After(10 * time.Second):
		}
	})
	return s
}

func (s *shutdownServer) token(t *testing.T) string {
	t.Helper()
	res, err := http.PostForm(s.base+"/auth/token", url.Values{"username": {"member@acme.test"}, "password": {shutdownPassword}})
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tr))
	return tr.AccessToken
}

// openStream starts a chat stream and reads it up to the first token event.
func (s *shutdownServer) openStream(t *testing.T) (*http.Response, *shutdownEvents) {
	t.Helper()
	return s.openStreamWith(t, http.DefaultClient)
}

// h2cClient speaks HTTP/2 without TLS (prior knowledge), as a proxy in front of the
// server may.
func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// openStreamWith is openStream through client.
func (s *shutdownServer) openStreamWith(t *testing.T, client *http.Client) (*http.Response, *shutdownEvents) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/chat/stream", strings.NewReader(`{"message":"what is our vacation policy?"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token(t))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	evs := &shutdownEvents{r: bufio.NewReader(res.Body)}
	for _, want := range []string{"sources", "token"} {
		name, _, err := evs.next()
		require.NoError(t, err)
		require.Equal(t, want, name)
	}
	return res, evs
}

// shutdownLog is a goroutine-safe log sink.
type shutdownLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *shutdownLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *shutdownLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// shutdownEvents reads named events ("event:" and one "data:" line, as tenantry writes
// them); comments (pings) are skipped.
type shutdownEvents struct{ r *bufio.Reader }

func (e *shutdownEvents) next() (name, data string, err error) {
	for {
		line, err := e.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && (name != "" || data != ""):
			return name, data, nil
		}
	}
}

func (s *shutdownServer) waitServed(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-s.served:
		require.NoError(t, s.err, "serveOn returns cleanly after a drain")
	case <-time.After(within):
		t.Fatal("serveOn did not return")
	}
}

// TestShutdownCancelsStreamsPastTheTimeoutWithAnErrorEvent runs over HTTP/1.1 (with
// gzip accepted, as Go's client does) and over h2c, which the server also speaks.
func TestShutdownCancelsStreamsPastTheTimeoutWithAnErrorEvent(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		t.Run(proto, func(t *testing.T) { testShutdownCancelsStreams(t, proto) })
	}
}

func testShutdownCancelsStreams(t *testing.T, proto string) {
	const timeout = 300 * time.Millisecond
	v := newShutdownVendors()
	s := startShutdownServer(t, v, timeout)
	client := http.DefaultClient
	if proto == "h2c" {
		client = h2cClient(t)
	}
	res, evs := s.openStreamWith(t, client)
	require.Equal(t, map[string]int{"HTTP/1.1": 1, "h2c": 2}[proto], res.ProtoMajor)
	<-v.started

	began := time.Now()
	s.stop()
	// The listener closes at once: no new connections during the drain.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, 2*time.Second, 10*time.Millisecond)

	name, data, err := evs.next()
	require.NoError(t, err)
	waited := time.Since(began)
	require.Equal(t, "error", name, "the stream ends with an error event, not silence")
	var p struct {
		Type      string `json:"type"`
		Title     string `json:"title"`
		Status    int    `json:"status"`
		Detail    string `json:"detail"`
		Instance  string `json:"instance"`
		Code      string `json:"code"`
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &p))
	assert.Equal(t, "shutting_down", p.Code)
	assert.Equal(t, http.StatusServiceUnavailable, p.Status)
	assert.Equal(t, "https://tenantry.dev/problems/shutting_down", p.Type)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Detail)
	assert.Equal(t, "/chat/stream", p.Instance)
	assert.Equal(t, res.Header.Get("X-Request-ID"), p.RequestID)
	assert.GreaterOrEqual(t, waited, timeout-50*time.Millisecond, "the stream had the shutdown timeout to finish")

	_, _, err = evs.next()
	assert.ErrorIs(t, err, io.EOF, "nothing follows the error event")
	s.waitServed(t, 5*time.Second)

	// The partial answer is stored, marked incomplete.
	ctx := context.Background()
	convs, err := s.st.Conversations.List(ctx, "acme", "u-1", domain.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, convs, 1)
	msgs, err := s.st.Conversations.Messages(ctx, "acme", convs[0].ID, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.True(t, msgs[1].Incomplete)
	assert.Equal(t, "partial ", msgs[1].Content)
}

func TestShutdownLetsStreamsFinishWithinTheTimeout(t *testing.T) {
	v := newShutdownVendors()
	s := startShutdownServer(t, v, 10*time.Second)
	_, evs := s.openStream(t)
	<-v.started

	s.stop()
	time.Sleep(100 * time.Millisecond) // the drain has begun; the stream is still open
	close(v.release)
	var names []string
	for {
		name, _, err := evs.next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		names = append(names, name)
	}
	assert.Equal(t, []string{"token", "done"}, names, "the answer completes normally during the drain")
	s.waitServed(t, 5*time.Second)
}

// TestServeSetsTheMemoryLimit checks that serving applies TENANTRY_MEMORY_LIMIT to the
// runtime and logs it.
func TestServeSetsTheMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	s := startShutdownServer(t, newShutdownVendors(), time.Second, "TENANTRY_MEMORY_LIMIT", "3GiB")
	res, err := http.Get(s.base + "/healthz")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, int64(3<<30), debug.SetMemoryLimit(-1))
	assert.Contains(t, s.logs.String(), `"bytes":3221225472,"from":"TENANTRY_MEMORY_LIMIT"`)
}

func TestMemoryLimitComesFromConfigThenGOMEMLIMITThenTheCgroup(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	cgroupOf := func(max uint64, err error) func() (uint64, error) {
		return func() (uint64, error) { return max, err }
	}
	tests := []struct {
		name       string
		setting    int64
		goMemLimit string
		cgroup     func() (uint64, error)
		wantLimit  int64
		wantSource string
	}{
		{name: "TENANTRY_MEMORY_LIMIT first", setting: 3 * gib, cgroup: cgroupOf(8*gib, nil), wantLimit: 3 * gib, wantSource: "TENANTRY_MEMORY_LIMIT"},
		{name: "GOMEMLIMIT left to the runtime", goMemLimit: "2GiB", cgroup: cgroupOf(8*gib, nil), wantSource: "GOMEMLIMIT"},
		{name: "GOMEMLIMIT=off stays off", goMemLimit: "off", cgroup: cgroupOf(8*gib, nil), wantSource: "GOMEMLIMIT"},
		{name: "90% of the cgroup's limit", cgroup: cgroupOf(10*gib, nil), wantLimit: 9 * gib, wantSource: "cgroup"},
		{name: "a cgroup without a limit", cgroup: cgroupOf(0, memlimit.ErrNoLimit)},
		{name: "no cgroup", cgroup: cgroupOf(0, memlimit.ErrNoCgroup)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotLimit, gotSource := memoryLimitOf(Config{MemoryLimit: tc.setting}, tc.goMemLimit, tc.cgroup)
			assert.Equal(t, tc.wantLimit, gotLimit)
			assert.Equal(t, tc.wantSource, gotSource)
		})
	}
}
