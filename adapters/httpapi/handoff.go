package httpapi

// An event stream outlives its handler. Holding the handler for the length of an answer
// would keep the connection's goroutine (a 16 KiB stack by then: net/http, Echo and
// the middleware lie under the wait), net/http's background reader and its 10 KiB of
// connection buffers for every open stream; 10,000 streams must fit in 512 MiB (issue
// 8, target 5). So a stream's loop runs on a goroutine of its own from the start, and
// once its first event is due it takes the HTTP/1.1 connection over (Hijack, after
// net/http has written the status and headers): the handler returns, net/http lets go
// of the connection, and the loop writes each event straight to the socket as one
// chunk. What stays per stream is the loop's goroutine (its stack holds the use case
// and the model, not the HTTP stack), a small goroutine that notices a client leaving,
// and the stream's own state. When the stream has ended, its connection goes back to
// the http.Server through Streams.Listener for the client's next request, so streams
// keep HTTP keep-alive. A connection that cannot be taken over (HTTP/2, HTTP/1.0, a
// test recorder) is served through the response as before, with the handler waiting.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
)

// keyHandoff marks a request whose stream was handed off (see handoffOf).
const keyHandoff = "httpapi.handoff"

// lingerTimeout bounds the last chunk's write and how long a finished stream's
// connection waits for the client to close its side.
const lingerTimeout = 2 * time.Second

// Streams tracks the event streams that were handed off their handler. http.Server's
// Shutdown no longer sees those connections, so the server waits for them here, and
// cancels them here when the shutdown timeout ends. Its Listener gives the connections
// of finished streams back to the server.
type Streams struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	open   atomic.Int64

	back      chan net.Conn
	listening atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

// NewStreams returns an empty tracker.
func NewStreams() *Streams {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Streams{ctx: ctx, cancel: cancel, back: make(chan net.Conn), closed: make(chan struct{})}
}

// Open reports how many handed-off streams are open now.
func (s *Streams) Open() int64 { return s.open.Load() }

// Listener returns the listener through which the connections of finished streams come
// back for their next request; addr is what its Addr reports. The server must serve it
// beside its real listener (http.Server.Serve on both; Shutdown closes both). Without
// it, a stream answers Connection: close and closes its connection when it ends.
func (s *Streams) Listener(addr net.Addr) net.Listener {
	s.listening.Store(true)
	return &reuseListener{s: s, addr: addr}
}

// keepsAlive reports whether a stream ending now can give its connection back.
func (s *Streams) keepsAlive() bool {
	if !s.listening.Load() {
		return false
	}
	select {
	case <-s.closed:
		return false
	default:
		return true
	}
}

// giveBack hands conn to the server through the listener; false when the listener has
// closed (or is not served). The server takes it as a new connection, so the client's
// next request must begin within the server's ReadHeaderTimeout rather than its
// IdleTimeout; a client that waits longer finds the connection closed, as after any
// idle timeout, and opens another.
func (s *Streams) giveBack(conn net.Conn) bool {
	t := time.NewTimer(lingerTimeout)
	defer t.Stop()
	select {
	case s.back <- conn:
		return true
	case <-s.closed:
	case <-t.C:
	}
	return false
}

type reuseListener struct {
	s    *Streams
	addr net.Addr
}

func (l *reuseListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.s.back:
		return c, nil
	case <-l.s.closed:
		return nil, net.ErrClosed
	}
}

func (l *reuseListener) Close() error {
	l.s.closeOnce.Do(func() { close(l.s.closed) })
	return nil
}

func (l *reuseListener) Addr() net.Addr { return l.addr }

// Wait returns once no handed-off stream is open, or with ctx's error if ctx ends
// first. It polls, as http.Server.Shutdown does: once the server has stopped serving,
// no handler hands a stream off any more, so the count only falls.
func (s *Streams) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Cancel ends every handed-off stream, and any handed off later, with cause: the
// client gets the error event that carries it.
func (s *Streams) Cancel(cause error) { s.cancel(cause) }

// handoff is what middleware sees of a request whose stream was handed off: its
// handler has returned, but the response goes on. Middleware that reports on a request
// when it ends (the request log, the metrics) asks for its report to run then.
type handoff struct {
	mu    sync.Mutex
	ended bool
	bytes int64
	after []func(bytes int64)
}

// handoffOf returns the request's handoff, or nil when the handler answered it whole.
func handoffOf(c echo.Context) *handoff {
	h, _ := c.Get(keyHandoff).(*handoff)
	return h
}

// onEnd runs fn with the number of body bytes sent once the stream has ended; at once
// if it has. fn must not use the echo.Context, which serves other requests by then.
func (h *handoff) onEnd(fn func(bytes int64)) {
	h.mu.Lock()
	if !h.ended {
		h.after = append(h.after, fn)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	fn(h.bytes)
}

func (h *handoff) end(bytes int64) {
	h.mu.Lock()
	h.ended, h.bytes = true, bytes
	fns := h.after
	h.after = nil
	h.mu.Unlock()
	for _, fn := range fns {
		fn(bytes)
	}
}

// streamer serves event streams; chatHandlers and openAIHandlers embed it.
type streamer struct {
	problems     problems
	streams      *Streams
	ping         time.Duration
	writeTimeout time.Duration
}

// streamScope is one stream's request as its loop sees it. Until open hands the
// connection off, c is the request's Echo context (its handler is waiting); after that
// c is nil, and the loop has what it needs here.
type streamScope struct {
	st *streamer
	// ctx is the stream's context: the request's values, cancelled when the client
	// leaves or the server cancels streams, but not when the handler returns.
	ctx       context.Context
	cancel    context.CancelCauseFunc
	stopReq   func() bool
	stopSrv   func() bool
	c         echo.Context
	fields    []zap.Field
	instance  string
	requestID string
	result    chan error
	stream    *sseStream
	sink      *connSink // set once handed off
	handed    *handoff  // set once handed off
}

// serve runs loop on a goroutine of its own and returns what the handler should: the
// loop's error when it ends before opening a stream (an ordinary problem response),
// nil once the stream is handed off, or the loop's end when the stream runs through
// the response.
func (st *streamer) serve(c echo.Context, loop func(sc *streamScope) error) error {
	req := c.Request()
	reqCtx := req.Context()
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(reqCtx))
	sc := &streamScope{
		st: st, ctx: ctx, cancel: cancel, c: c, result: make(chan error, 1),
		fields: logFields(c), instance: req.URL.Path, requestID: RequestID(c),
	}
	sc.stopReq = context.AfterFunc(reqCtx, func() { cancel(context.Cause(reqCtx)) })
	sc.stopSrv = context.AfterFunc(st.streams.ctx, func() { cancel(context.Cause(st.streams.ctx)) })
	go sc.run(loop)
	return <-sc.result
}

func (sc *streamScope) run(loop func(sc *streamScope) error) {
	var err error
	defer func() {
		if r := recover(); r != nil {
			err = domain.E(domain.KindInternal, codeInternal, "", fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
		sc.finish(err)
	}()
	err = loop(sc)
}

// finish closes the stream and reports the end: to the waiting handler, or, for a
// handed-off stream, to the middleware that asked (handoff.onEnd).
func (sc *streamScope) finish(err error) {
	if sc.stream != nil {
		sc.stream.close()
	}
	sc.stopReq()
	sc.stopSrv()
	sc.cancel(context.Canceled)
	if sc.handed == nil {
		sc.result <- err
		return
	}
	if err != nil { // the loops turn failures into events; only a panic gets here
		sc.st.problems.log.Error("event stream failed", append(sc.fields[:len(sc.fields):len(sc.fields)], zap.Error(err))...)
	}
	sc.handed.end(sc.sink.bytes)
	sc.st.streams.open.Add(-1) // last: the server stops waiting once the count is 0
}

// open sends the 200 status and the stream's headers and returns the stream, handing
// the connection off when it can. The loop calls it once, before its first event.
func (sc *streamScope) open() *sseStream {
	c := sc.c
	res := c.Response()
	setSSEHeaders(res.Header())
	if r := c.Request(); r.ProtoMajor == 1 && r.ProtoMinor >= 1 {
		keepAlive := sc.st.streams.keepsAlive() && !r.Close
		if !keepAlive {
			// The client must not send another request on a connection that closes
			// when the stream ends.
			res.Header().Set("Connection", "close")
		}
		res.WriteHeader(http.StatusOK)
		// Hijack flushes the status and headers net/http prepared (Transfer-Encoding:
		// chunked, since the body has no length) before handing the connection over.
		if conn, brw, err := http.NewResponseController(res.Writer).Hijack(); err == nil {
			sink := &connSink{conn: conn, streams: sc.st.streams, keepAlive: keepAlive, watched: make(chan struct{})}
			if brw.Reader.Buffered() > 0 {
				sink.extra.Store(true) // a pipelined request: decline it by closing
			}
			sc.handOff(c, sink)
			return sc.stream
		}
	} else {
		res.WriteHeader(http.StatusOK)
	}
	sc.stream = newSSEStream(newResponseSink(res), sc.st.ping, sc.st.writeTimeout)
	return sc.stream
}

// handOff lets the handler return and serves the rest of the stream on sink's
// connection.
func (sc *streamScope) handOff(c echo.Context, sink *connSink) {
	// From here the request's context ends with the handler; the watcher notices a
	// client that leaves instead.
	sc.stopReq()
	sc.sink = sink
	sc.stream = newSSEStream(sc.sink, sc.st.ping, sc.st.writeTimeout)
	sc.handed = &handoff{}
	c.Set(keyHandoff, sc.handed)
	sc.st.streams.open.Add(1)
	sc.c = nil
	go sc.sink.watch(sc.cancel)
	sc.result <- nil
}

// clientGone reports whether err or the stream's context says the client went away.
func (sc *streamScope) clientGone(err error) bool { return clientGoneCtx(sc.ctx, err) }

// fail logs err once like any problem and returns the problem a started stream
// reports, or false when the client went away and gets nothing.
func (sc *streamScope) fail(err error, what string) (problem, bool) {
	if sc.clientGone(err) {
		sc.st.problems.log.Debug("client left the "+what, sc.fields...)
		return problem{}, false
	}
	pr := sc.st.problems.buildFor(sc.ctx, sc.instance, sc.requestID, err)
	sc.st.problems.logErrorWith(sc.fields, pr, err)
	return pr, true
}

// abandon handles a failed write to the client: the stream is unusable, so the error
// is only logged; leaving the loop stops the iterator, which cancels the model call.
func (sc *streamScope) abandon(err error, what string) error {
	sc.st.problems.log.Debug(what+" write failed", append(sc.fields[:len(sc.fields):len(sc.fields)], zap.Error(err))...)
	return nil
}

// connSink writes frames straight to a handed-off HTTP/1.1 connection, each frame one
// chunk of the chunked body net/http announced in the headers it sent.
type connSink struct {
	conn      net.Conn
	streams   *Streams
	keepAlive bool  // the response did not say Connection: close
	bytes     int64 // written under the stream's mutex; read after close

	extra    atomic.Bool   // the client sent more than its request
	stopping atomic.Bool   // end is taking the connection back from watch
	watched  chan struct{} // closed when watch returns
	readErr  error         // why watch's read failed; read after watched is closed
}

var (
	crlf = []byte("\r\n")
	// lastChunk ends a chunked body that has no trailers.
	lastChunk = []byte("0\r\n\r\n")
	// longAgo is a deadline in the past: it interrupts a pending read at once.
	longAgo = time.Unix(1, 0)
)

func (s *connSink) write(frame []byte, deadline time.Time) error {
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	var size [18]byte
	bufs := net.Buffers{append(strconv.AppendInt(size[:0], int64(len(frame)), 16), crlf...), frame, crlf}
	n, err := bufs.WriteTo(s.conn) // one writev
	s.bytes += n
	return err
}

// end sends the last chunk, then gives the connection back to the server for the
// client's next request when the response kept it alive and the client sent nothing
// more. Otherwise it closes the connection: at once after a failed write; else for
// writing only, so the client reads the whole body, and watch closes the socket once
// the client has closed its side (or after lingerTimeout).
func (s *connSink) end(failed bool) {
	if failed {
		_ = s.conn.Close()
		return
	}
	if s.keepAlive && !s.extra.Load() {
		// watch stops before the last chunk goes out: a client that has it may send
		// its next request at once, and those bytes are the server's to read.
		if s.reclaim() && s.writeLast() == nil {
			_ = s.conn.SetDeadline(time.Time{})
			if s.streams.giveBack(s.conn) {
				return
			}
		}
		_ = s.conn.Close()
		return
	}
	if s.writeLast() != nil {
		_ = s.conn.Close()
		return
	}
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = s.conn.SetReadDeadline(time.Now().Add(lingerTimeout))
		return
	}
	_ = s.conn.Close()
}

func (s *connSink) writeLast() error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(lingerTimeout))
	n, err := s.conn.Write(lastChunk)
	s.bytes += int64(n)
	return err
}

// reclaim stops watch and reports whether the connection is still good to read the
// next request from: watch stopped because of reclaim's deadline, not because the
// client closed the connection or sent more.
func (s *connSink) reclaim() bool {
	s.stopping.Store(true)
	_ = s.conn.SetReadDeadline(longAgo)
	<-s.watched
	return errors.Is(s.readErr, os.ErrDeadlineExceeded) && !s.extra.Load()
}

// watch reads the connection until the read fails, discarding (and noting) anything a
// client sends after its request. A failure while the stream runs means the client
// left: watch cancels the stream (a no-op once it has ended) and closes the socket.
// When end is taking the connection back (reclaim), watch leaves it to end.
func (s *connSink) watch(cancel context.CancelCauseFunc) {
	defer close(s.watched)
	var buf [64]byte
	for {
		n, err := s.conn.Read(buf[:])
		if n > 0 {
			s.extra.Store(true)
		}
		if err != nil {
			s.readErr = err
			break
		}
	}
	if s.stopping.Load() {
		return
	}
	cancel(context.Canceled)
	_ = s.conn.Close()
}
