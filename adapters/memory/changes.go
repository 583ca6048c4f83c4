package memory

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ChangeBus stands in, in tests, for what the processes sharing one database hear of
// each other's changes: every Feed is one process, and what one feed publishes the
// listeners of the others receive.
type ChangeBus struct {
	mu        sync.Mutex
	listeners map[*changeListener]struct{}
}

// NewChangeBus returns a bus without feeds.
func NewChangeBus() *ChangeBus {
	return &ChangeBus{listeners: make(map[*changeListener]struct{})}
}

// Feed returns the feed of one more process on the bus.
func (b *ChangeBus) Feed() ports.ChangeFeed { return &changeFeed{bus: b} }

type changeFeed struct{ bus *ChangeBus }

// changeListener is one Listen call: a bounded queue, and a flag for changes that did
// not fit (the listener then hears ChangeAll).
type changeListener struct {
	feed  *changeFeed
	queue chan domain.Change
	lost  atomic.Bool
	wake  chan struct{}
}

// Publish implements ports.ChangeFeed.
func (f *changeFeed) Publish(ctx context.Context, c domain.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.bus.mu.Lock()
	defer f.bus.mu.Unlock()
	for l := range f.bus.listeners {
		if l.feed == f {
			continue
		}
		select {
		case l.queue <- c:
		default:
			l.lost.Store(true)
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// Listen implements ports.ChangeFeed.
func (f *changeFeed) Listen(ctx context.Context, fn func(domain.Change)) error {
	l := &changeListener{feed: f, queue: make(chan domain.Change, 1024), wake: make(chan struct{}, 1)}
	f.bus.mu.Lock()
	f.bus.listeners[l] = struct{}{}
	f.bus.mu.Unlock()
	defer func() {
		f.bus.mu.Lock()
		delete(f.bus.listeners, l)
		f.bus.mu.Unlock()
	}()
	fn(domain.Change{Kind: domain.ChangeAll})
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-l.queue:
			fn(c)
		case <-l.wake:
		}
		if l.lost.Swap(false) {
			fn(domain.Change{Kind: domain.ChangeAll})
		}
	}
}
