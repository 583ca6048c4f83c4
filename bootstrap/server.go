package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/adapters/httpapi"
	"github.com/tenantry/tenantry/domain"
)

// serve runs the API until ctx ends, then shuts down gracefully: stop accepting, let
// open requests and streams finish up to the shutdown timeout, cancel the rest, close
// the database.
func serve(ctx context.Context, cfg Config, stdio IO, schemaHCL []byte, migrateFirst bool) error {
	rt, err := openRuntime(ctx, cfg, stdio, schemaHCL, migrateFirst)
	if err != nil {
		return err
	}
	defer rt.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	if err := seedDemo(ctx, rt, stdio.Out); err != nil {
		_ = ln.Close()
		return err
	}
	rt.admin().jobs.start() // re-index jobs, including those a stopped process left
	return serveOn(ctx, rt, ln)
}

// errShuttingDown cancels the requests still open when the shutdown timeout ends; the
// HTTP adapter answers them (an SSE stream with its error event) with this problem.
var errShuttingDown = domain.E(domain.KindUnavailable, "shutting_down", "the server is shutting down; retry the request", nil)

// serveOn serves rt's router on ln until ctx ends.
func serveOn(ctx context.Context, rt *runtime, ln net.Listener) error {
	baseCtx, cancelStreams := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelStreams(nil)
	srv := &http.Server{
		Handler:           rt.router,
		ReadHeaderTimeout: rt.cfg.ReadHeaderTimeout,
		ReadTimeout:       rt.cfg.ReadTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          zap.NewStdLog(rt.log.Named("http")),
	}
	rt.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Bool("embedded", rt.cfg.Embedded()), zap.String("public_url", rt.cfg.PublicURL))
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if rt.streams != nil {
		// Connections of finished event streams come back here for the next request.
		go func() { errc <- srv.Serve(rt.streams.Listener(ln.Addr())) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	rt.log.Info("shutting down", zap.Duration("timeout", rt.cfg.ShutdownTimeout))
	rt.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), rt.cfg.ShutdownTimeout)
	defer cancel()
	err := shutdown(shutdownCtx, srv, rt.streams)
	if errors.Is(err, context.DeadlineExceeded) {
		// Streams still open past the deadline are cancelled; their handlers send an
		// error event carrying this problem and store the partial answer.
		cancelStreams(errShuttingDown)
		if rt.streams != nil {
			rt.streams.Cancel(errShuttingDown)
		}
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelClose()
		err = shutdown(closeCtx, srv, rt.streams)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	rt.log.Info("stopped")
	return nil
}

// shutdown stops srv and waits for its requests, then for the event streams handed
// off their handlers, which http.Server no longer tracks.
func shutdown(ctx context.Context, srv *http.Server, streams *httpapi.Streams) error {
	if err := srv.Shutdown(ctx); err != nil || streams == nil {
		return err
	}
	return streams.Wait(ctx)
}
