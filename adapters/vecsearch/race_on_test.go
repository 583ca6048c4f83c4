//go:build race

package vecsearch

// raceEnabled: the race detector allocates and makes sync.Pool drop items at random,
// so allocation counts mean nothing under it.
const raceEnabled = true
