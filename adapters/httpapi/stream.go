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

// frameSink is where an sseStream's frames go: the handler's response (responseSink),
// or the connection itself once the stream has been handed off (connSink,
// stream_conn.go).
type frameSink interface {
	// start sends the status and headers, if they are not on their way already.
	start() error
	// write sends frame to the client at once, giving up at deadline (zero: none).
	write(frame []byte, deadline time.Time) error
	// end finishes the body after the last frame; failed says a write failed before.
	end(failed bool)
}

// sseStream writes server-sent events to one response. Every write (events and the
// keep-alive pings) is serialised by mu and flushed at once. Pings come from a
// time.AfterFunc timer rather than a goroutine of the stream's own, so an idle stream
// costs no goroutine: a ping runs on a short-lived goroutine of the runtime's, once per
// interval of silence.
type sseStream struct {
	mu           sync.Mutex
	sink         frameSink
	writeTimeout time.Duration
	ping         time.Duration
	timer        *time.Timer // nil when pings are off
	closed       bool
	err          error
}

// setSSEHeaders prepares h for an event stream.
func setSSEHeaders(h http.Header) {
	h.Set(echo.HeaderContentType, mimeEventStream)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del(echo.HeaderContentLength)
}

// newSSEStream starts a stream on sink, sending its headers at once.
func newSSEStream(sink frameSink, ping, writeTimeout time.Duration) *sseStream {
	s := &sseStream{sink: sink, writeTimeout: writeTimeout, ping: ping, err: sink.start()}
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
	return s.frame(frame)
}

// verbatim writes one unnamed event whose data is text as is: OpenAI ends a stream
// with the non-JSON sentinel "data: [DONE]".
func (s *sseStream) verbatim(text string) error {
	frame, err := encodeSSE(nil, "", text)
	if err != nil {
		return err
	}
	return s.frame(frame)
}

func (s *sseStream) frame(frame []byte) error {
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
	var deadline time.Time
	if s.writeTimeout > 0 {
		deadline = time.Now().Add(s.writeTimeout)
	}
	if err := s.sink.write(frame, deadline); err != nil {
		s.err = err
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

// close stops the pings and ends the body. Once it returns nothing writes to the
// response any more: a ping already running holds mu until its write is done, and a
// later one sees closed.
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
	s.sink.end(s.err != nil)
}

// responseSink writes frames through the handler's response, which net/http frames and
// finishes when the handler returns.
type responseSink struct {
	res *echo.Response
	rc  *http.ResponseController
}

func newResponseSink(res *echo.Response) *responseSink {
	return &responseSink{res: res, rc: http.NewResponseController(res.Writer)}
}

// start flushes the status and headers the handler wrote.
func (r *responseSink) start() error { return r.flush() }

func (r *responseSink) write(frame []byte, deadline time.Time) error {
	if !deadline.IsZero() {
		_ = r.rc.SetWriteDeadline(deadline) // unsupported writers keep the server's deadline
	}
	if _, err := r.res.Write(frame); err != nil {
		return err
	}
	return r.flush()
}

func (r *responseSink) flush() error {
	if err := r.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// end leaves the last write deadline for net/http's final flush, which clears it.
func (r *responseSink) end(bool) {}
