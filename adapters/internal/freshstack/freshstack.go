// Package freshstack runs a step on a goroutine of its own, for the long-lived
// goroutines of open streams. A goroutine keeps the largest stack it ever needed until
// the garbage collector finds it mostly unused, which a stream parked deep in its
// handler never is: one step that needs a few KiB once (net/http formatting a response
// header) would double the stack every open stream holds.
package freshstack

// Run calls f on a new goroutine and returns when f has. A panic in f is raised again
// on the caller's goroutine, so the caller's recovery sees it as if f ran there.
func Run(f func()) {
	done := make(chan any, 1)
	go func() {
		var p any
		defer func() { done <- p }()
		defer func() { p = recover() }()
		f()
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}
