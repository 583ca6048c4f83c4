package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

// heldModel closes started when it is called, sends the token "hi" at once, and ends
// the answer once release is closed.
func heldModel(started, release chan struct{}) func(context.Context, []domain.ChatMessage, domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			close(started)
			if !yield(domain.Delta{Text: "hi"}, nil) {
				return
			}
			select {
			case <-release:
			case <-ctx.Done():
				yield(domain.Delta{}, ctx.Err())
				return
			}
			yield(domain.Delta{Done: true, FinishReason: "stop", Usage: domain.Usage{PromptTokens: 1, CompletionTokens: 1}}, nil)
		}
	}
}

// requireWholeStream reads a stream to its end: it must finish with a done event, and
// the chunked body with its last chunk rather than a cut connection.
func requireWholeStream(t *testing.T, body io.Reader) {
	t.Helper()
	evs, _ := readEvents(t, body)
	require.NotEmpty(t, evs)
	assert.Equal(t, "done", evs[len(evs)-1].Type)
	rest, err := io.ReadAll(body)
	require.NoError(t, err, "the chunked body ends with its last chunk, not a cut connection")
	assert.Empty(t, rest)
}

func waitFor(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal(what)
	}
}

// TestStreamIsTrackedUntilItEnds checks a stream served on a real connection: it
// counts as open in the metrics, and is neither counted nor logged as a finished
// request, until it ends; then its log line carries its whole size.
func TestStreamIsTrackedUntilItEnds(t *testing.T) {
	reg, withM := withMetrics(t, "")
	ev := newEnv(t, withM)
	started, release := make(chan struct{}), make(chan struct{})
	ev.vendors.setModel(heldModel(started, release))
	srv := httptest.NewServer(ev.e)
	defer srv.Close()

	res := chat(t, srv, ev.token("acme-member"), `{"message":"hello there"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	assert.NotEmpty(t, res.Header.Get("X-Request-ID"), "the middleware's headers go out with the stream's")
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	waitFor(t, started, "the model was never called")
	p := newSSEParser(res.Body)
	for _, want := range []string{"sources", "token"} {
		e, err := p.Next()
		require.NoError(t, err)
		require.Equal(t, want, e.Type)
	}

	gauge := metricSeries(t, reg, "tenantry_http_active_streams", nil)
	assert.Equal(t, 1.0, gauge.GetGauge().GetValue())
	assert.Nil(t, metricSeries(t, reg, "tenantry_http_requests_total", map[string]string{"route": "/chat/stream", "status": "200"}),
		"the stream is counted when it ends")
	assert.Zero(t, ev.logs.FilterMessage("request").FilterField(routeField("/chat/stream")).Len(), "the request is logged when its stream ends")

	close(release)
	e, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, "done", e.Type)
	_, err = io.ReadAll(res.Body)
	require.NoError(t, err, "the chunked body ends with its last chunk, not a cut connection")
	require.Eventually(t, func() bool {
		return ev.logs.FilterMessage("request").FilterField(routeField("/chat/stream")).Len() == 1
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0.0, metricSeries(t, reg, "tenantry_http_active_streams", nil).GetGauge().GetValue())
	count := metricSeries(t, reg, "tenantry_http_requests_total", map[string]string{"route": "/chat/stream", "status": "200"})
	require.NotNil(t, count)
	assert.Equal(t, 1.0, count.GetCounter().GetValue())
	fields := ev.logs.FilterMessage("request").FilterField(routeField("/chat/stream")).All()[0].ContextMap()
	assert.EqualValues(t, 200, fields["status"])
	assert.Greater(t, fields["bytes"], int64(100), "the line counts the stream's body")
	assert.Equal(t, "acme", fields["tenant_id"])
}

// TestServerCancelEndsAStreamWithItsCause checks what the server does at the end of
// its shutdown timeout: it cancels the requests' base context with a cause, and the
// open stream gets one error event carrying it.
func TestServerCancelEndsAStreamWithItsCause(t *testing.T) {
	ev := newEnv(t)
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	ev.vendors.setModel(heldModel(started, release))
	base, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	srv := httptest.NewUnstartedServer(ev.e)
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	defer srv.Close()
	res := chat(t, srv, ev.token("acme-member"), `{"message":"hello there"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	waitFor(t, started, "the model was never called")

	cancel(domain.E(domain.KindUnavailable, "shutting_down", "the server is shutting down; retry the request", nil))
	evs, _ := readEvents(t, res.Body)
	require.NotEmpty(t, evs)
	last := evs[len(evs)-1]
	assert.Equal(t, "error", last.Type)
	assert.Contains(t, last.Data, `"code":"shutting_down"`)
	assert.Contains(t, last.Data, `"status":503`)
}

// TestStreamOnHTTP10IsServedThroughTheResponse checks the path for a connection that
// is not taken over: an HTTP/1.0 client (no chunked encoding) gets the whole stream,
// ended by the connection's close.
func TestStreamOnHTTP10IsServedThroughTheResponse(t *testing.T) {
	ev := newEnv(t)
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	body := `{"message":"hello"}`
	_, err = fmt.Fprintf(conn, "POST /chat/stream HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		ev.token("acme-member"), len(body), body)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodPost})
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Empty(t, res.TransferEncoding, "HTTP/1.0 has no chunked encoding")
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	evs, _ := readEvents(t, strings.NewReader(string(raw)))
	require.NotEmpty(t, evs)
	assert.Equal(t, "sources", evs[0].Type)
	assert.Equal(t, "done", evs[len(evs)-1].Type)
}

func routeField(route string) zap.Field { return zap.String("route", route) }

// serveOnLoopback serves ev's router on a loopback listener with the server settings
// that matter here, and returns its base URL.
func serveOnLoopback(t *testing.T, ev *env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: ev.e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestFinishedStreamKeepsItsConnectionAlive checks keep-alive across streams: a
// stream's response does not close the connection, and the client's next requests
// (another stream, then a plain one) reuse it, also once the stream's last write
// deadline has passed.
func TestFinishedStreamKeepsItsConnectionAlive(t *testing.T) {
	ev := newEnv(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.StreamWriteTimeout = 50 * time.Millisecond })
	base := serveOnLoopback(t, ev)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	tok := ev.token("acme-member")

	var local []string
	do := func(path, body string) (*http.Response, bool) {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			reused = i.Reused
			local = append(local, i.Conn.LocalAddr().String())
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		require.NoError(t, err)
		return res, reused
	}
	for i := range 3 {
		res, reused := do("/chat/stream", `{"message":"hello"}`)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.False(t, res.Close, "the stream keeps its connection alive")
		assert.Equal(t, []string{"chunked"}, res.TransferEncoding)
		requireWholeStream(t, res.Body)
		require.NoError(t, res.Body.Close())
		assert.Equal(t, i > 0, reused, "stream %d", i)
		time.Sleep(60 * time.Millisecond) // past the stream's last write deadline
	}
	res, reused := do("/auth/revoke", "")
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	assert.True(t, reused, "a plain request after the streams reuses the connection")
	assert.NotEqual(t, http.StatusInternalServerError, res.StatusCode)
	for _, a := range local {
		assert.Equal(t, local[0], a, "one connection served every request")
	}
}

// TestStreamServesAPipelinedRequest checks that a request a client sends behind its
// chat request before the stream has ended (pipelining), together with it or while the
// events come, is not lost: the stream is answered whole, then the pipelined request
// on the same connection.
func TestStreamServesAPipelinedRequest(t *testing.T) {
	for _, during := range []bool{false, true} {
		t.Run(fmt.Sprintf("during_the_stream=%v", during), func(t *testing.T) {
			ev := newEnv(t)
			started, release := make(chan struct{}), make(chan struct{})
			ev.vendors.setModel(heldModel(started, release))
			base := serveOnLoopback(t, ev)
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			const next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
			body := `{"message":"hello"}`
			req := fmt.Sprintf("POST /chat/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				ev.token("acme-member"), len(body), body)
			if !during {
				req += next
			}
			_, err = io.WriteString(conn, req)
			require.NoError(t, err)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			p := newSSEParser(res.Body)
			first, err := p.Next()
			require.NoError(t, err)
			assert.Equal(t, "sources", first.Type)
			if during {
				_, err = io.WriteString(conn, next)
				require.NoError(t, err)
				time.Sleep(20 * time.Millisecond) // let net/http's background read take it
			}
			close(release)
			evs, _ := readEvents(t, res.Body)
			require.NotEmpty(t, evs)
			assert.Equal(t, "done", evs[len(evs)-1].Type)
			_, err = io.ReadAll(res.Body)
			require.NoError(t, err)
			got, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
			require.NoError(t, err, "the pipelined request is answered on the same connection")
			defer got.Body.Close()
			assert.Equal(t, http.StatusOK, got.StatusCode)
			assert.Equal(t, "application/json", strings.Split(got.Header.Get("Content-Type"), ";")[0])
		})
	}
}

// TestStreamPanicsAreContained checks that a panic in a stream neither kills the
// process nor leaks the stream: before the first event (here in the search) it is a
// 500 problem, after it (here in the model) the stream ends with an internal error
// event and the panic is logged once.
func TestStreamPanicsAreContained(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprintf("after_first_event=%v", after), func(t *testing.T) {
			ev := newEnv(t)
			if after {
				ev.vendors.setModel(func(context.Context, []domain.ChatMessage, domain.ChatParams) iter.Seq2[domain.Delta, error] {
					return func(yield func(domain.Delta, error) bool) {
						if yield(domain.Delta{Text: "hi"}, nil) {
							panic("model bug")
						}
					}
				})
			} else {
				ev.vendors.onSearch = func() { panic("index bug") }
			}
			srv := httptest.NewServer(ev.e)
			defer srv.Close()
			res := chat(t, srv, ev.token("acme-member"), `{"message":"hello"}`)
			if !after {
				require.Equal(t, http.StatusInternalServerError, res.StatusCode)
				assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
				return
			}
			require.Equal(t, http.StatusOK, res.StatusCode)
			evs, _ := readEvents(t, res.Body)
			require.NotEmpty(t, evs)
			last := evs[len(evs)-1]
			assert.Equal(t, "error", last.Type)
			assert.Contains(t, last.Data, `"status":500`)
			assert.NotContains(t, last.Data, "model bug", "the cause goes to the logs only")
			require.NoError(t, res.Body.Close())
			var panics int
			for _, l := range ev.logs.FilterLevelExact(zap.ErrorLevel).All() {
				if strings.Contains(fmt.Sprint(l.ContextMap()), "model bug") {
					panics++
				}
			}
			assert.Equal(t, 1, panics, "the panic is logged once")
		})
	}
}

// TestStreamToAClientThatStopsReadingIsCut checks the per-write deadline: a client
// that stops reading while the model floods it is cut after StreamWriteTimeout, the
// model is stopped, and the request ends (its log line is written).
func TestStreamToAClientThatStopsReadingIsCut(t *testing.T) {
	ev := newEnv(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.StreamWriteTimeout = 100 * time.Millisecond })
	stopped := make(chan struct{})
	big := strings.Repeat("x", 64<<10)
	ev.vendors.setModel(func(ctx context.Context, _ []domain.ChatMessage, _ domain.ChatParams) iter.Seq2[domain.Delta, error] {
		return func(yield func(domain.Delta, error) bool) {
			defer close(stopped)
			for ctx.Err() == nil && yield(domain.Delta{Text: big}, nil) {
			}
		}
	})
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	body := `{"message":"hello"}`
	_, err = fmt.Fprintf(conn, "POST /chat/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		ev.token("acme-member"), len(body), body)
	require.NoError(t, err)
	var head [12]byte
	_, err = io.ReadFull(conn, head[:])
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 200", string(head[:]))
	// From here the client reads nothing more.
	waitFor(t, stopped, "the model was not stopped when the client stopped reading")
	require.Eventually(t, func() bool {
		return ev.logs.FilterMessage("request").FilterField(routeField("/chat/stream")).Len() == 1
	}, 5*time.Second, 10*time.Millisecond)
}
