package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/zap"

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
	rt.api.WarmPDF(ctx, rt.log.Named("pdf")) // in the background: readiness does not wait for it
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	if err := seedDemo(ctx, rt, stdio.Out); err != nil {
		_ = ln.Close()
		return err
	}
	rt.admin().jobs.start() // re-index jobs, including those a stopped process left
	rt.admin().sweeper.start()
	return serveOn(ctx, rt, ln)
}

// errShuttingDown cancels the requests still open when the shutdown timeout ends; the
// HTTP adapter answers them (an SSE stream with its error event) with this problem.
var errShuttingDown = domain.E(domain.KindUnavailable, "shutting_down", "the server is shutting down; retry the request", nil)

// serveOn serves rt's router on ln until ctx ends.
func serveOn(ctx context.Context, rt *runtime, ln net.Listener) error {
	setMemoryLimit(rt.cfg, rt.log)
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
		Protocols:         new(http.Protocols),
	}
	// HTTP/1.1, and HTTP/2 without TLS for clients and proxies that speak it from the
	// first byte (h2c with prior knowledge); TLS is left to the platform in front.
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	rt.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Bool("embedded", rt.cfg.Embedded()), zap.String("public_url", rt.cfg.PublicURL))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	rt.log.Info("shutting down", zap.Duration("timeout", rt.cfg.ShutdownTimeout))
	rt.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), rt.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Streams still open past the deadline are cancelled; their handlers send an
		// error event carrying this problem and store the partial answer.
		cancelStreams(errShuttingDown)
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelClose()
		err = srv.Shutdown(closeCtx)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	rt.log.Info("stopped")
	return nil
}

// setMemoryLimit applies the soft memory limit memoryLimitOf decides, so that the GC
// works harder as the process nears it instead of letting the heap double past it
// (10,000 open streams, a container's memory bound). The limit in force is logged.
func setMemoryLimit(cfg Config, log *zap.Logger) {
	limit, source := memoryLimitOf(cfg, os.Getenv("GOMEMLIMIT"), memlimit.FromCgroup)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	limit = debug.SetMemoryLimit(-1) // -1 reads the limit without changing it
	if limit == math.MaxInt64 {
		log.Info("no memory limit", zap.String("hint", "set TENANTRY_MEMORY_LIMIT to about 90% of the container's memory"))
		return
	}
	log.Info("memory limit", zap.Int64("bytes", limit), zap.String("from", source))
}

// cgroupMemoryShare is the part of the cgroup's memory limit that becomes the soft
// limit: the rest is for stacks the GC does not bound tightly, and the process's
// memory outside the Go heap.
const cgroupMemoryShare = 0.9

// memoryLimitOf decides the soft memory limit: TENANTRY_MEMORY_LIMIT when set; else
// the runtime's own when GOMEMLIMIT is set (the runtime read it at start; "off" keeps
// it off); else 90% of the memory limit of the process's cgroup (memory.max, or
// memory.limit_in_bytes with cgroup v1), so that a container is not OOM-killed under
// Go's default GC; else none. A limit of 0 leaves the runtime's as it is.
func memoryLimitOf(cfg Config, goMemLimit string, cgroup func() (uint64, error)) (limit int64, source string) {
	if cfg.MemoryLimit > 0 {
		return cfg.MemoryLimit, "TENANTRY_MEMORY_LIMIT"
	}
	if strings.TrimSpace(goMemLimit) != "" {
		return 0, "GOMEMLIMIT"
	}
	max, err := cgroup()
	if err != nil || max == 0 || max > math.MaxInt64 {
		return 0, ""
	}
	return int64(float64(max) * cgroupMemoryShare), "cgroup"
}
