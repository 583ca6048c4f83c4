package sse

import (
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frameRecorder is a ResponseWriter that records each Write as one frame with its time,
// and notes any Write that overlaps another (an unserialised write).
type frameRecorder struct {
	header http.Header
	delay  time.Duration // each Write takes this long, widening any race window

	mu       sync.Mutex
	inWrite  bool
	overlaps int
	frames   []string
	at       []time.Time
}

func newFrameRecorder(delay time.Duration) *frameRecorder {
	return &frameRecorder{header: http.Header{}, delay: delay}
}

func (r *frameRecorder) Header() http.Header { return r.header }
func (r *frameRecorder) WriteHeader(int)     {}
func (r *frameRecorder) Flush()              {}

func (r *frameRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	if r.inWrite {
		r.overlaps++
	}
	r.inWrite = true
	r.mu.Unlock()
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inWrite = false
	r.frames = append(r.frames, string(b))
	r.at = append(r.at, time.Now())
	return len(b), nil
}

func (r *frameRecorder) snapshot() (frames []string, at []time.Time, overlaps int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...), append([]time.Time(nil), r.at...), r.overlaps
}

func newTestStream(t *testing.T, w http.ResponseWriter, ping time.Duration) *Stream {
	t.Helper()
	return Start(w, http.NewResponseController(w), Options{Ping: ping, WriteTimeout: time.Second})
}

const tokenX = `{"delta":"x"}`

func TestSSEStreamPingsOnlyAfterSilence(t *testing.T) {
	rec := newFrameRecorder(0)
	s := newTestStream(t, rec, 30*time.Millisecond)
	require.Eventually(t, func() bool {
		frames, _, _ := rec.snapshot()
		return len(frames) >= 2
	}, 2*time.Second, time.Millisecond, "pings while silent")
	// Events every 10 ms keep the stream busy: no ping is due meanwhile.
	for range 10 {
		require.NoError(t, s.Event("token", tokenX))
		time.Sleep(10 * time.Millisecond)
	}
	s.Close()
	frames, at, _ := rec.snapshot()
	var tokens int
	for i, f := range frames {
		if f != ": ping\n\n" {
			assert.Equal(t, "event: token\ndata: {\"delta\":\"x\"}\n\n", f)
			tokens++
			continue
		}
		if i > 0 {
			assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), 25*time.Millisecond, "a ping %d came %v after the previous write", i, at[i].Sub(at[i-1]))
		}
	}
	assert.Equal(t, 10, tokens)
	assert.Equal(t, ": ping\n\n", frames[0], "the first write after the headers is a ping")
}

func TestSSEStreamSerialisesWritesAndStopsAtClose(t *testing.T) {
	rec := newFrameRecorder(200 * time.Microsecond)
	s := newTestStream(t, rec, time.Millisecond) // a ping due almost all the time
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if err := s.Event("token", `{"delta":"y"}`); err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(5 * time.Millisecond)
	s.Close()
	closedAt := time.Now()
	assert.ErrorIs(t, s.Event("token", `{"delta":"late"}`), ErrClosed)
	time.Sleep(20 * time.Millisecond) // any timer still pending would fire now
	frames, at, overlaps := rec.snapshot()
	assert.Zero(t, overlaps, "writes overlapped")
	var tokens, pings int
	for i, f := range frames {
		switch {
		case f == ": ping\n\n":
			pings++
		case strings.HasPrefix(f, "event: token\n"):
			tokens++
		default:
			t.Errorf("frame %d is torn: %q", i, f)
		}
		assert.False(t, at[i].After(closedAt), "frame %d written after close", i)
	}
	assert.Equal(t, 200, tokens)
	assert.Positive(t, pings)
}

// TestSSEStreamHasNoGoroutine checks that an idle stream costs no goroutine: 10,000
// concurrent streams would otherwise carry 10,000 pingers.
func TestSSEStreamHasNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	streams := make([]*Stream, 200)
	for i := range streams {
		streams[i] = newTestStream(t, newFrameRecorder(0), time.Hour)
	}
	during := runtime.NumGoroutine()
	for _, s := range streams {
		s.Close()
	}
	assert.Less(t, during-before, 20, "goroutines grew from %d to %d with %d idle streams", before, during, len(streams))
}

func TestStartSendsTheStreamHeaders(t *testing.T) {
	rec := newFrameRecorder(0)
	rec.header.Set("Content-Length", "12")
	rec.header.Set("X-Request-ID", "kept")
	s := newTestStream(t, rec, 0)
	require.NoError(t, s.Fail("error", `{"status":500}`))
	assert.Equal(t, "text/event-stream", rec.header.Get("Content-Type"))
	assert.Equal(t, "no-cache", rec.header.Get("Cache-Control"))
	assert.Empty(t, rec.header.Get("Content-Length"), "a stream has no length")
	assert.Equal(t, "kept", rec.header.Get("X-Request-ID"))
	frames, _, _ := rec.snapshot()
	assert.Equal(t, []string{"event: error\ndata: {\"status\":500}\n\n"}, frames)
	assert.ErrorIs(t, s.Event("token", tokenX), ErrClosed, "nothing follows the terminal event")
}
