package vecsearch

import (
	"sync"
	"sync/atomic"
)

// workers are long-lived goroutines that scan parts of large searches. They start on
// the first large search, so that an index that only ever sees small tenants starts
// none, and stop on close. Handing a part over a channel allocates nothing, unlike
// starting a goroutine per search.
type workers struct {
	n       int
	started atomic.Bool
	mu      sync.RWMutex
	closed  bool
	parts   chan *part
	wg      sync.WaitGroup
}

func newWorkers(n int) *workers {
	return &workers{n: max(n, 0), parts: make(chan *part, max(n, 0))}
}

// submit hands p to a worker, which scans it and calls p.done.Done. It reports false
// when there are no workers; the caller then scans p itself.
func (w *workers) submit(p *part) bool {
	if w.n == 0 {
		return false
	}
	if !w.started.Load() {
		w.start()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	w.parts <- p
	return true
}

func (w *workers) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.started.Load() {
		return
	}
	w.wg.Add(w.n)
	for range w.n {
		go w.run()
	}
	w.started.Store(true)
}

func (w *workers) run() {
	defer w.wg.Done()
	for p := range w.parts {
		p.scan()
		p.done.Done()
	}
}

func (w *workers) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.parts)
	}
	w.mu.Unlock()
	w.wg.Wait()
}
