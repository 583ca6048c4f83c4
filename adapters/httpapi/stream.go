package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/httpapi/sse"
	"github.com/tenantry/tenantry/adapters/internal/freshstack"
	"github.com/tenantry/tenantry/domain"
)

// Event streams (POST /chat/stream, and POST /v1/chat/completions with "stream":
// true) are ordinary responses: the handler's goroutine runs the use case and writes
// each event through package sse, which flushes it at once under a write deadline of
// its own. The request's context ends the stream: net/http cancels it when the client
// leaves, and the server cancels it with a cause of its own (bootstrap's
// shutting_down) when its shutdown timeout ends. The handler returns when the stream
// has ended, so the request log, the metrics and any wrapping writer see the whole
// stream as the one response it is.

// streamer serves event streams; chatHandlers and openAIHandlers embed it.
type streamer struct {
	problems problems
	opts     sse.Options
}

// streamScope is one stream's request as its loop sees it.
type streamScope struct {
	st  *streamer
	c   echo.Context
	ctx context.Context
	// what names the stream in log lines.
	what string
	// errorEvent turns the problem that ends a started stream into its terminal event.
	errorEvent func(problem) (name string, v any)
	stream     *sse.Stream // set by open
}

// serve runs loop on the handler's goroutine and returns what the handler should: the
// loop's error when it failed before opening the stream (an ordinary problem
// response), else nil once the stream has ended. A panic in the loop is an internal
// error like any other: before the stream opens a problem response, after it the
// terminal error event.
func (st *streamer) serve(c echo.Context, what string, errorEvent func(problem) (string, any), loop func(sc *streamScope) error) (err error) {
	sc := &streamScope{st: st, c: c, ctx: c.Request().Context(), what: what, errorEvent: errorEvent}
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			stack := make([]byte, 8<<10)
			stack = stack[:runtime.Stack(stack, false)]
			perr := domain.E(domain.KindInternal, codeInternal, "", fmt.Errorf("panic: %v\n%s", r, stack))
			if sc.stream == nil {
				err = perr
			} else {
				sc.fail(perr)
			}
		}
		if sc.stream != nil {
			sc.stream.Close()
		}
	}()
	return loop(sc)
}

// open sends the 200 status and the stream's headers and returns the stream. The loop
// calls it once, when its first event is due.
func (sc *streamScope) open() *sse.Stream {
	res := sc.c.Response()
	// Echo's own Flush hides errors: control the writer it wraps.
	sc.stream = sse.Start(res, http.NewResponseController(res.Writer), sc.st.opts)
	return sc.stream
}

// event writes one event whose data is v as JSON.
func (sc *streamScope) event(name string, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	return sc.stream.Event(name, string(bytes.TrimSuffix(b, []byte("\n"))))
}

// onceEvent is event for a stream's first event (its sources), whose JSON nests
// deeply: encoding/json recurses 2–3 KiB deep through it, and the stream's goroutine
// would keep that stack for the stream's whole life, so it is encoded on a goroutine
// of its own. (The last events need not be: the handler returns after them.)
func (sc *streamScope) onceEvent(name string, v any) error {
	var b []byte
	var err error
	freshstack.Run(func() { b, err = marshalJSON(v) })
	if err != nil {
		return err
	}
	return sc.stream.Event(name, string(bytes.TrimSuffix(b, []byte("\n"))))
}

// fail ends a started stream with its terminal error event, logged once like any
// problem; a client that went away gets nothing.
func (sc *streamScope) fail(err error) {
	fields := logFields(sc.c)
	if clientGoneCtx(sc.ctx, err) {
		sc.st.problems.log.Debug("client left the "+sc.what, fields...)
		return
	}
	pr := sc.st.problems.buildFor(sc.ctx, sc.c.Request().URL.Path, RequestID(sc.c), err)
	sc.st.problems.logErrorWith(fields, pr, err)
	name, v := sc.errorEvent(pr)
	b, merr := marshalJSON(v)
	if merr != nil {
		sc.stream.Close()
		return
	}
	_ = sc.stream.Fail(name, string(bytes.TrimSuffix(b, []byte("\n")))) // the stream ends here either way
}

// abandon handles a failed write to the client: the stream is unusable, so the error
// is only logged; leaving the loop stops the iterator, which cancels the model call.
func (sc *streamScope) abandon(err error) error {
	sc.st.problems.log.Debug(sc.what+" write failed", append(logFields(sc.c), zap.Error(err))...)
	return nil
}
