package bootstrap

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/application"
)

// vectorSweeper runs application.SweepVectors every interval, from start until stop,
// and counts the vectors it deleted (tenantry_vector_sweeper_removed_total).
type vectorSweeper struct {
	uc      *application.SweepVectors
	log     *zap.Logger
	every   time.Duration
	removed atomic.Int64

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newVectorSweeper(log *zap.Logger, every time.Duration) *vectorSweeper {
	return &vectorSweeper{log: log, every: every}
}

// Removed is how many vectors the sweeps of this process deleted.
func (s *vectorSweeper) Removed() float64 { return float64(s.removed.Load()) }

// sweep runs one sweep and counts what it removed.
func (s *vectorSweeper) sweep(ctx context.Context) {
	n, err := s.uc.Execute(ctx)
	s.removed.Add(int64(n))
	if n > 0 {
		s.log.Info("deleted vectors whose document is gone", zap.Int("vectors", n))
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("sweep vectors", zap.Error(err))
	}
}

// start runs a sweep every interval until stop.
func (s *vectorSweeper) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(s.every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.sweep(ctx)
			}
		}
	}()
}

// stop ends the loop and waits for a sweep under way. Safe to call without start.
func (s *vectorSweeper) stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		s.wg.Wait()
	}
}
