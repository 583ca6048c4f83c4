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
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
)

// keyHandoff marks a request whose stream was handed off (see handoffOf).
const keyHandoff = "httpapi.handoff"

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
	idleMu    sync.Mutex
	idle      map[*connSink]struct{} // finished streams waiting for the next request
}

// NewStreams returns an empty tracker.
func NewStreams() *Streams {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Streams{ctx: ctx, cancel: cancel, back: make(chan net.Conn), closed: make(chan struct{}), idle: map[*connSink]struct{}{}}
}

// Open reports how many handed-off streams are open now.
func (s *Streams) Open() int64 { return s.open.Load() }

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
// Only a response that was started and then went on without a byte through Echo can
// have been handed off, so every other one skips the context lookup.
func handoffOf(c echo.Context) *handoff {
	if res := c.Response(); !res.Committed || res.Size != 0 {
		return nil
	}
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
			sc.handOff(c, newConnSink(conn, brw.Reader, sc.st.streams, keepAlive, idleTimeout(r)))
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

// fail logs err once like any problem and returns the problem a started stream
// reports, or false when the client went away and gets nothing.
func (sc *streamScope) fail(err error, what string) (problem, bool) {
	if clientGoneCtx(sc.ctx, err) {
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
