package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

var errStreamClosed = errors.New("sse: stream closed")

// pingFrame is the keep-alive comment sent after a ping interval of silence.
var pingFrame = encodeSSEComment(nil, "ping")

// sseStream writes server-sent events to one response. Every write (events and the
// keep-alive pings) is serialised by mu and flushed at once. Pings come from a
// time.AfterFunc timer rather than a goroutine of the stream's own, so an idle stream
// costs no goroutine: a ping runs on a short-lived goroutine of the runtime's, once per
// interval of silence.
type sseStream struct {
	mu           sync.Mutex
	res          *echo.Response
	rc           *http.ResponseController
	writeTimeout time.Duration
	ping         time.Duration
	timer        *time.Timer // nil when pings are off
	closed       bool
	err          error
}

// startSSE sends the 200 status and the stream headers, then arms the ping timer; ping
// 0 disables pings. The caller must call close before the handler returns.
func startSSE(c echo.Context, ping, writeTimeout time.Duration) *sseStream {
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del(echo.HeaderContentLength)
	s := &sseStream{res: res, rc: http.NewResponseController(res.Writer), writeTimeout: writeTimeout, ping: ping}
	s.mu.Lock()
	defer s.mu.Unlock()
	res.WriteHeader(http.StatusOK)
	s.flushLocked()
	if ping > 0 {
		s.timer = time.AfterFunc(ping, s.pingNow)
	}
	return s
}

// pingNow is the timer's function. It may run after close (the timer fired just
// before Stop), so it checks closed under mu: nothing is written once close returned.
func (s *sseStream) pingNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.err == nil {
		s.writeLocked(pingFrame)
	}
}

// event writes one event whose data is v as JSON.
func (s *sseStream) event(name string, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	frame, err := encodeSSE(nil, name, string(bytes.TrimSuffix(b, []byte("\n"))))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStreamClosed
	}
	if s.err != nil {
		return s.err
	}
	s.writeLocked(frame)
	return s.err
}

// writeLocked writes and flushes frame under a fresh write deadline, and re-arms the
// ping timer: a ping is due only after ping of silence. A failed write leaves the
// timer stopped, since nothing more can be sent.
func (s *sseStream) writeLocked(frame []byte) {
	if s.writeTimeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)) // unsupported writers keep the server's deadline
	}
	if _, err := s.res.Write(frame); err != nil {
		s.err = err
	} else {
		s.flushLocked()
	}
	if s.timer == nil {
		return
	}
	if s.err != nil {
		s.timer.Stop()
		return
	}
	s.timer.Reset(s.ping)
}

func (s *sseStream) flushLocked() {
	if err := s.rc.Flush(); err != nil && s.err == nil && !errors.Is(err, http.ErrNotSupported) {
		s.err = err
	}
}

// close stops the pings. Once it returns nothing writes to the response any more: a
// ping already running holds mu until its write is done, and a later one sees closed.
// The last write deadline stays for net/http's final flush, which clears it afterwards.
func (s *sseStream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
}
