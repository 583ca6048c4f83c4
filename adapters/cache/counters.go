package cache

import "sync/atomic"

type counters struct {
	hits, misses atomic.Uint64
}

func (c *counters) hit()  { c.hits.Add(1) }
func (c *counters) miss() { c.misses.Add(1) }
func (c *counters) get() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}
