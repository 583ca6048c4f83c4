package httpapi

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// The connection of a handed-off stream (handoff.go): how events reach it, how a client
// that leaves is noticed, and how the connection goes back to the http.Server for the
// client's next request once the stream is over (keep-alive), with the same idle
// timeout net/http would give it and without losing a byte the client sent meanwhile.

const (
	// lingerTimeout bounds the last chunk's write, the hand-back to the server, and how
	// long a connection that closes waits for the client to close its side.
	lingerTimeout = 2 * time.Second
	// maxPending caps what a client may send while its stream runs (a pipelined
	// request); more closes the connection when the stream ends.
	maxPending = 64 << 10
)

var (
	crlf = []byte("\r\n")
	// lastChunk ends a chunked body that has no trailers.
	lastChunk = []byte("0\r\n\r\n")
	// longAgo is a deadline in the past: it interrupts a pending read at once.
	longAgo = time.Unix(1, 0)
)

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
// closed (or is not served).
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

// waiting tracks a finished stream's connection while it waits for the next request,
// so that closing the listener closes it; false when the listener is closed already.
func (s *Streams) waiting(c *connSink, on bool) bool {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if !on {
		delete(s.idle, c)
		return true
	}
	select {
	case <-s.closed:
		return false
	default:
	}
	s.idle[c] = struct{}{}
	return true
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

// Close stops the hand-backs and closes the connections still waiting for a next
// request, as http.Server.Shutdown closes its idle connections.
func (l *reuseListener) Close() error {
	l.s.closeOnce.Do(func() {
		l.s.idleMu.Lock()
		defer l.s.idleMu.Unlock()
		close(l.s.closed)
		for c := range l.s.idle {
			_ = c.conn.Close()
		}
	})
	return nil
}

func (l *reuseListener) Addr() net.Addr { return l.addr }

// idleTimeout is how long net/http would keep r's connection waiting for the next
// request: the server's IdleTimeout, else its ReadTimeout; 0 waits without limit.
func idleTimeout(r *http.Request) time.Duration {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return 0
	}
	if srv.IdleTimeout != 0 {
		return srv.IdleTimeout
	}
	return srv.ReadTimeout
}

// The phases of a connSink.
const (
	phaseStreaming int32 = iota // events go out; a failed read means the client left
	phaseEnded                  // the body is complete and the connection kept alive
	phaseClosing                // the body is over (or broken) and the connection closes
)

// connSink writes frames straight to a handed-off HTTP/1.1 connection, each frame one
// chunk of the chunked body net/http announced in the headers it sent. Its watch
// goroutine is the connection's only reader from the hand-off on.
type connSink struct {
	conn      net.Conn
	streams   *Streams
	keepAlive bool          // the response did not say Connection: close
	idle      time.Duration // the wait for the next request, as net/http's
	bytes     int64         // written under the stream's mutex; read after close

	mu       sync.Mutex // guards phase, pending and overflow
	phase    int32
	pending  []byte // what the client sent after its request: the start of the next
	overflow bool
}

// newConnSink takes over conn; br is the reader net/http read the request with, which
// may hold the start of a request pipelined behind it.
func newConnSink(conn net.Conn, br *bufio.Reader, streams *Streams, keepAlive bool, idle time.Duration) *connSink {
	if rc, ok := conn.(*replayConn); ok && rc.drained() {
		conn = rc.Conn // back to the socket itself, for writev
	}
	s := &connSink{conn: conn, streams: streams, keepAlive: keepAlive, idle: idle}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		s.keep(b)
	}
	return s
}

// start has nothing to send: Hijack flushed the status and headers.
func (s *connSink) start() error { return nil }

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

// end sends the last chunk. A kept-alive connection then waits (in watch) for the
// client's next request and goes back to the server with it. Otherwise the connection
// closes: at once after a failed write; else for writing only, so the client reads the
// whole body, and watch closes the socket once the client has closed its side (or
// after lingerTimeout).
func (s *connSink) end(failed bool) {
	if !failed {
		_ = s.conn.SetWriteDeadline(time.Now().Add(lingerTimeout))
		n, err := s.conn.Write(lastChunk)
		s.bytes += int64(n)
		failed = err != nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case failed:
		s.phase = phaseClosing
		_ = s.conn.Close()
	case s.keepAlive && !s.overflow:
		// watch wakes up at once and either hands the connection back with what the
		// client already sent, or starts waiting for the next request.
		s.phase = phaseEnded
		_ = s.conn.SetReadDeadline(longAgo)
	default:
		s.phase = phaseClosing
		if cw, ok := s.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = s.conn.SetReadDeadline(time.Now().Add(lingerTimeout))
			return
		}
		_ = s.conn.Close()
	}
}

// keep notes bytes the client sent after its request.
func (s *connSink) keep(b []byte) {
	if s.overflow || len(s.pending)+len(b) > maxPending {
		s.overflow, s.pending = true, nil
		return
	}
	s.pending = append(s.pending, b...)
}

// watch reads the connection from the hand-off on. While the stream runs, bytes are
// kept for the next request, and a failed read means the client left: watch cancels
// the stream. Once a kept-alive stream has ended, watch waits for the next request up
// to the idle timeout and hands the connection back with the bytes read so far; in
// every other case it closes the connection.
func (s *connSink) watch(cancel context.CancelCauseFunc) {
	var buf [512]byte
	waiting := false
	defer func() {
		if waiting {
			s.streams.waiting(s, false)
		}
	}()
	for {
		n, err := s.conn.Read(buf[:])
		s.mu.Lock()
		if n > 0 {
			s.keep(buf[:n])
		}
		phase := s.phase
		switch {
		case phase == phaseEnded && (len(s.pending) > 0 || s.overflow):
			s.mu.Unlock()
			s.handBack()
			return
		case err == nil:
			s.mu.Unlock()
			continue
		case phase == phaseStreaming:
			s.mu.Unlock()
			cancel(context.Canceled) // the client left
		case phase == phaseEnded && !waiting && errors.Is(err, os.ErrDeadlineExceeded):
			// end's wake-up: wait for the next request as net/http would.
			var deadline time.Time
			if s.idle > 0 {
				deadline = time.Now().Add(s.idle)
			}
			_ = s.conn.SetReadDeadline(deadline)
			s.mu.Unlock()
			if waiting = s.streams.waiting(s, true); waiting {
				continue
			}
		default:
			s.mu.Unlock()
		}
		break
	}
	_ = s.conn.Close()
}

// handBack gives the connection to the server with the bytes the client sent since
// its request, which the server reads first.
func (s *connSink) handBack() {
	if s.overflow {
		_ = s.conn.Close()
		return
	}
	_ = s.conn.SetDeadline(time.Time{})
	if !s.streams.giveBack(&replayConn{Conn: s.conn, pending: s.pending}) {
		_ = s.conn.Close()
	}
}

// replayConn is a connection given back to the server with bytes already read from it,
// which Read returns first.
type replayConn struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *replayConn) drained() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) == 0
}

// CloseWrite lets net/http half-close the connection as it does a plain TCP one.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
