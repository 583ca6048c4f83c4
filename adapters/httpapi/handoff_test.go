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
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

// heldModel answers "hi" once release is closed, and reports when it was called.
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

func waitFor(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal(what)
	}
}

// TestHandedOffStreamIsTrackedUntilItEnds checks a stream served on a real connection:
// its handler has returned (the request's middleware has run) while the stream stays
// open, and the stream counts as open in Streams and in the metrics, and is logged,
// until it ends.
func TestHandedOffStreamIsTrackedUntilItEnds(t *testing.T) {
	streams := httpapi.NewStreams()
	reg, withM := withMetrics(t, "")
	ev := newEnv(t, withM, func(_ *httpapi.Config, d *httpapi.Deps) { d.Streams = streams })
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

	assert.Equal(t, int64(1), streams.Open())
	gauge := metricSeries(t, reg, "tenantry_http_active_streams", nil)
	assert.Equal(t, 1.0, gauge.GetGauge().GetValue())
	assert.Zero(t, ev.logs.FilterMessage("request").FilterField(routeField("/chat/stream")).Len(), "the request is logged when its stream ends")

	close(release)
	e, err := p.Next()
	require.NoError(t, err)
	assert.Equal(t, "done", e.Type)
	require.Eventually(t, func() bool { return streams.Open() == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0.0, metricSeries(t, reg, "tenantry_http_active_streams", nil).GetGauge().GetValue())
	count := metricSeries(t, reg, "tenantry_http_requests_total", map[string]string{"route": "/chat/stream", "status": "200"})
	require.NotNil(t, count)
	assert.Equal(t, 1.0, count.GetCounter().GetValue())
	lines := ev.logs.FilterMessage("request").FilterField(routeField("/chat/stream")).All()
	require.Len(t, lines, 1)
	fields := lines[0].ContextMap()
	assert.EqualValues(t, 200, fields["status"])
	assert.Greater(t, fields["bytes"], int64(100), "the line counts the stream's body")
	assert.Equal(t, "acme", fields["tenant_id"])
}

// TestStreamsCancelEndsHandedOffStreams checks what the server does at the end of its
// shutdown timeout: the open stream gets one error event carrying the cause, and Wait
// returns once it has ended.
func TestStreamsCancelEndsHandedOffStreams(t *testing.T) {
	streams := httpapi.NewStreams()
	ev := newEnv(t, func(_ *httpapi.Config, d *httpapi.Deps) { d.Streams = streams })
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	ev.vendors.setModel(heldModel(started, release))
	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("acme-member"), `{"message":"hello there"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	waitFor(t, started, "the model was never called")

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, streams.Wait(short), context.DeadlineExceeded, "Wait waits for the open stream")

	streams.Cancel(domain.E(domain.KindUnavailable, "shutting_down", "the server is shutting down; retry the request", nil))
	evs, _ := readEvents(t, res.Body)
	require.NotEmpty(t, evs)
	last := evs[len(evs)-1]
	assert.Equal(t, "error", last.Type)
	assert.Contains(t, last.Data, `"code":"shutting_down"`)
	assert.Contains(t, last.Data, `"status":503`)
	require.NoError(t, streams.Wait(t.Context()))
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
