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

// sseStream writes server-sent events to one response. Every write (events and the
// keep-alive pings of its own goroutine) is serialised by mu and flushed at once.
type sseStream struct {
	mu           sync.Mutex
	res          *echo.Response
	rc           *http.ResponseController
	writeTimeout time.Duration
	ping         time.Duration
	timer        *time.Timer
	closed       bool
	err          error
	done         chan struct{}
	pinger       sync.WaitGroup
}

// startSSE sends the 200 status and the stream headers, then starts the pinger; ping 0
// disables pings. The caller must call close before the handler returns.
func startSSE(c echo.Context, ping, writeTimeout time.Duration) *sseStream {
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del(echo.HeaderContentLength)
	s := &sseStream{res: res, rc: http.NewResponseController(res.Writer), writeTimeout: writeTimeout, ping: ping, done: make(chan struct{})}
	s.mu.Lock()
	res.WriteHeader(http.StatusOK)
	s.flushLocked()
	if ping > 0 {
		s.timer = time.NewTimer(ping)
		s.pinger.Add(1)
		go s.pingLoop()
	}
	s.mu.Unlock()
	return s
}

func (s *sseStream) pingLoop() {
	defer s.pinger.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.timer.C:
			s.mu.Lock()
			if !s.closed && s.err == nil {
				s.writeLocked(encodeSSEComment(nil, "ping"))
			}
			s.mu.Unlock()
		}
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
// ping timer: a ping is due only after ping of silence.
func (s *sseStream) writeLocked(frame []byte) {
	if s.writeTimeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)) // unsupported writers keep the server's deadline
	}
	if _, err := s.res.Write(frame); err != nil {
		s.err = err
		return
	}
	s.flushLocked()
	if s.timer != nil {
		s.timer.Reset(s.ping)
	}
}

func (s *sseStream) flushLocked() {
	if err := s.rc.Flush(); err != nil && s.err == nil && !errors.Is(err, http.ErrNotSupported) {
		s.err = err
	}
}

// close stops the pinger and waits for it, so nothing writes after the handler returns.
// The last write deadline stays for net/http's final flush, which clears it afterwards.
func (s *sseStream) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	close(s.done)
	s.pinger.Wait()
}
