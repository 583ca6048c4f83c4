package sse

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/tenantry/tenantry/adapters/internal/freshstack"
)

// ErrClosed is what a write returns once the stream has been closed.
var ErrClosed = errors.New("sse: stream closed")

// ContentType is the media type of an event stream.
const ContentType = "text/event-stream"

// pingFrame is the keep-alive comment sent after a ping interval of silence.
var pingFrame = EncodeComment(nil, "ping")

// Options tune a Stream.
type Options struct {
	// Ping is the silence after which a ": ping" comment goes out, so that proxies
	// keep an idle stream open; 0 sends none.
	Ping time.Duration
	// WriteTimeout bounds each write (events and pings alike) to a client that stopped
	// reading: the write fails once it has waited that long, and so does every later
	// one. 0 keeps whatever deadline the server set.
	WriteTimeout time.Duration
}

// Stream writes server-sent events to one response, each flushed at once. Writes
// (events and the pings) are serialised by mu. Pings come from a time.AfterFunc timer
// rather than a goroutine of the stream's own, so an idle stream costs no goroutine: a
// ping runs on a short-lived goroutine of the runtime's, once per interval of silence.
type Stream struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	rc     *http.ResponseController
	opts   Options
	timer  *time.Timer // nil when pings are off
	closed bool
	err    error // the first failed write; every later write returns it
}

// Start sends the status 200 with the event stream's headers (and those already set
// on w), flushes them, and returns the stream. rc must control w's connection:
// http.NewResponseController(w), or one on the writer that w wraps when w's own Flush
// hides errors (Echo's Response does). The handler must Close the stream before it
// returns; nothing is written to w after that.
func Start(w http.ResponseWriter, rc *http.ResponseController, o Options) *Stream {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	s := &Stream{w: w, rc: rc, opts: o}
	s.mu.Lock()
	defer s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	s.setDeadline()
	s.flushHeaderLocked()
	if o.Ping > 0 && s.err == nil {
		s.timer = time.AfterFunc(o.Ping, s.pingNow)
	}
	return s
}

// flushHeaderLocked sends the response header. net/http formats it in a function whose
// frame alone is over 3 KiB, so it runs on a fresh stack.
func (s *Stream) flushHeaderLocked() { freshstack.Run(s.flushLocked) }

// Event writes one event. data must be valid UTF-8; its line breaks are kept.
func (s *Stream) Event(name, data string) error {
	frame, err := Encode(nil, name, data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	s.writeLocked(frame)
	return s.err
}

// Fail ends a stream that cannot go on with one last event, then closes it. The
// status went out as 200 when the stream started, so this event is how the client
// learns of the failure.
func (s *Stream) Fail(name, data string) error {
	err := s.Event(name, data)
	s.Close()
	return err
}

// Close stops the pings. Once it returns nothing writes to the response any more: a
// ping already running holds mu until its write is done, and a later one sees closed.
// The last write deadline stays for net/http's final flush, which clears it afterwards.
func (s *Stream) Close() {
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

// pingNow is the timer's function. It may run after Close (the timer fired just
// before Stop), so it checks closed under mu.
func (s *Stream) pingNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.err == nil {
		s.writeLocked(pingFrame)
	}
}

// writeLocked writes and flushes frame under a fresh write deadline, and re-arms the
// ping timer: a ping is due only after a ping interval of silence. A failed write
// leaves the timer stopped, since nothing more can be sent.
func (s *Stream) writeLocked(frame []byte) {
	s.setDeadline()
	if _, err := s.w.Write(frame); err != nil {
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
	s.timer.Reset(s.opts.Ping)
}

func (s *Stream) setDeadline() {
	if s.opts.WriteTimeout > 0 {
		// A writer without deadlines keeps the server's.
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	}
}

func (s *Stream) flushLocked() {
	if err := s.rc.Flush(); err != nil && s.err == nil && !errors.Is(err, http.ErrNotSupported) {
		s.err = err
	}
}
