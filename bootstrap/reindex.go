package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// reindexRunner runs this process's share of the re-index jobs: at start, whenever a
// job is started here, and every sweep interval, it claims the jobs nobody holds
// (started on any node, released after a passing failure, or left by a process that
// died once its lease ran out) and runs each in its own goroutine, one per tenant.
type reindexRunner struct {
	uc    *application.Reindex
	log   *zap.Logger
	owner string
	sweep time.Duration
	wake  chan struct{}

	mu      sync.Mutex
	running map[domain.TenantID]bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// newReindexRunner returns a runner whose lease is lease; set uc before start.
func newReindexRunner(log *zap.Logger, lease time.Duration) *reindexRunner {
	return &reindexRunner{log: log, owner: runnerID(), sweep: max(lease/3, 100*time.Millisecond),
		wake: make(chan struct{}, 1), running: map[domain.TenantID]bool{}}
}

// runnerID names this process in the jobs it holds: host, pid and a random suffix.
func runnerID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// poke makes the runner look for jobs now.
func (r *reindexRunner) poke(domain.TenantID) {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// start runs the runner until stop.
func (r *reindexRunner) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.loop(ctx)
}

// stop ends the runner and waits for its jobs to be released (so that the next
// process goes on from their cursors at once). Safe to call without start.
func (r *reindexRunner) stop() {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		r.wg.Wait()
	}
}

func (r *reindexRunner) loop(ctx context.Context) {
	defer r.wg.Done()
	tick := time.NewTicker(r.sweep)
	defer tick.Stop()
	for {
		r.claim(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.wake:
		}
	}
}

func (r *reindexRunner) claim(ctx context.Context) {
	jobs, err := r.uc.Claimable(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("list re-index jobs", zap.Error(err))
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		if r.running[j.TenantID] {
			continue
		}
		r.running[j.TenantID] = true
		r.wg.Add(1)
		go r.run(ctx, j.TenantID)
	}
}

func (r *reindexRunner) run(ctx context.Context, id domain.TenantID) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.running, id)
		r.mu.Unlock()
	}()
	log := r.log.With(zap.String("tenant_id", string(id)))
	start := time.Now()
	err := r.uc.Run(ctx, id, r.owner)
	switch {
	case err == nil:
		log.Info("re-index finished", zap.Duration("took", time.Since(start)))
	case errors.Is(err, domain.ErrReindexLost):
		log.Debug("re-index held elsewhere")
	case ctx.Err() != nil:
		log.Info("re-index interrupted; released for the next start")
	case domain.KindOf(err) == domain.KindUnavailable || domain.KindOf(err) == domain.KindRateLimited:
		log.Warn("re-index paused; retried at the next sweep", zap.Error(err))
	default:
		log.Error("re-index failed", zap.Error(err))
	}
}
