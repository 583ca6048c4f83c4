//go:build !race

package vecsearch

const raceEnabled = false
