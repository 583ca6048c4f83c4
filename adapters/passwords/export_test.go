package passwords

import (
	"sync"
	"testing"
)

// HoldSlot occupies one hashing slot, as a long-running hash would, until the returned
// function (or the test's cleanup) releases it.
func HoldSlot(t *testing.T, h *Hasher) (release func()) {
	t.Helper()
	h.slots <- struct{}{}
	release = sync.OnceFunc(func() { <-h.slots })
	t.Cleanup(release)
	return release
}

// InUse reports how many hashing slots are taken.
func InUse(h *Hasher) int { return len(h.slots) }
