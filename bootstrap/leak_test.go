package bootstrap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/domain"
)

// The leak test of issue 8: a thousand chat streams through a real listener (serveOn,
// the production server settings), a good share of them abandoned by their clients at
// random points, must leave no goroutine behind and the heap about where it was.

// lkModel streams lkTokens tokens, lkGap apart, and counts its calls: how many began,
// how many returned, how many saw their context end.
type lkModel struct {
	began, returned, cancelled atomic.Int64
}

const (
	lkTokens = 16
	lkGap    = 2 * time.Millisecond
)

func (m *lkModel) stream(ctx context.Context) iter.Seq2[domain.Delta, error] {
	return func(yield func(domain.Delta, error) bool) {
		m.began.Add(1)
		defer m.returned.Add(1)
		for i := range lkTokens {
			if !yield(domain.Delta{Text: fmt.Sprintf("tok%d ", i)}, nil) {
				return
			}
			select {
			case <-ctx.Done():
				m.cancelled.Add(1)
				yield(domain.Delta{}, ctx.Err())
				return
			case <-time.After(lkGap):
			}
		}
		yield(domain.Delta{Done: true, FinishReason: "stop", Model: "lk", Usage: domain.Usage{PromptTokens: 5, CompletionTokens: lkTokens}}, nil)
	}
}

// lkMode is where a client leaves its stream.
type lkMode int

const (
	lkComplete     lkMode = iota // reads to the end
	lkBeforeSource               // cancels within a few milliseconds of sending
	lkAfterSource                // cancels after the sources event
	lkMidTokens                  // cancels after some tokens
	lkAfterDone                  // closes after the done event without reading on
	lkModes
)

var lkModeNames = [...]string{"complete", "before sources", "after sources", "mid tokens", "after done"}

// lkStream runs one chat stream and leaves it as mode says; it returns the events it
// read.
func lkStream(client *http.Client, base, token string, mode lkMode, rng *rand.Rand) ([]string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/stream", strings.NewReader(`{"message":"what is the refund policy?"}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if mode == lkBeforeSource {
		time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, cancel)
	}
	res, err := client.Do(req)
	if err != nil {
		if mode == lkBeforeSource {
			return nil, nil // cancelled before the answer began
		}
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	stopAfter := map[lkMode]int{lkAfterSource: 1, lkMidTokens: 2 + rng.IntN(lkTokens-2)}[mode]
	evs := &shutdownEvents{r: bufio.NewReader(res.Body)}
	var names []string
	for {
		name, _, err := evs.next()
		if err != nil {
			if mode == lkBeforeSource || err == io.EOF && mode == lkComplete {
				return names, nil
			}
			return names, fmt.Errorf("after %v: %w", names, err)
		}
		names = append(names, name)
		if (stopAfter > 0 && len(names) == stopAfter) || (mode == lkAfterDone && name == "done") {
			cancel()
			return names, nil
		}
	}
}

// lkSettle waits until the goroutines started since base are gone, then returns what
// goleak still finds (nil when nothing leaked).
func lkSettle(base goleak.Option, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := goleak.Find(base)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lkHeapInuse() uint64 {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestLeakThousandChatStreamsWithRandomDisconnects(t *testing.T) {
	// Not parallel: goleak compares against every goroutine of the process.
	const streams, workers = 1000, 32
	m := &lkModel{}
	s := startShutdownServer(t, &relVendors{stream: m.stream}, 5*time.Second)
	token := s.token(t)
	transport := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: transport}

	// Warm up (first use of every code path, pools), then take the baseline with no
	// connection open.
	names, err := lkStream(client, s.base, token, lkComplete, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	require.Equal(t, "done", names[len(names)-1])
	transport.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // the login's
	time.Sleep(100 * time.Millisecond)
	base := goleak.IgnoreCurrent()
	goroutinesBefore := goruntime.NumGoroutine()
	heapBefore := lkHeapInuse()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var (
		mu      sync.Mutex
		byMode  [lkModes]int
		failed  []string
		started = time.Now()
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for next.Add(1) <= streams {
				mode := lkMode(rng.IntN(int(lkModes)))
				names, err := lkStream(client, s.base, token, mode, rng)
				mu.Lock()
				byMode[mode]++
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", lkModeNames[mode], err))
				} else if mode == lkComplete && (len(names) != lkTokens+2 || names[len(names)-1] != "done") {
					failed = append(failed, fmt.Sprintf("complete stream read %v", names))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	require.Empty(t, failed, "streams that failed")
	var modes []string
	for i, n := range byMode {
		modes = append(modes, fmt.Sprintf("%s %d", lkModeNames[i], n))
	}
	t.Logf("%d streams in %v: %s", streams, elapsed.Round(time.Millisecond), strings.Join(modes, ", "))

	// Every model call returned: none is left waiting on a client that left.
	require.Eventually(t, func() bool { return m.returned.Load() == m.began.Load() }, 10*time.Second, 20*time.Millisecond,
		"model calls still running: began %d, returned %d", m.began.Load(), m.returned.Load())
	assert.Positive(t, m.cancelled.Load(), "disconnects landed mid-stream and cancelled the model")
	t.Logf("model calls: %d began, %d returned, %d cancelled by a departed client", m.began.Load(), m.returned.Load(), m.cancelled.Load())

	transport.CloseIdleConnections()
	if err := lkSettle(base, 10*time.Second); err != nil {
		t.Errorf("goroutines left behind after %d streams (%d before, %d now):\n%v", streams, goroutinesBefore, goruntime.NumGoroutine(), err)
	}
	heapAfter := lkHeapInuse()
	grown := int64(heapAfter) - int64(heapBefore)
	t.Logf("goroutines %d before, %d after; heap in use %.1f MiB before, %.1f MiB after (%+d KiB, %.1f KiB per stream; the memory stores keep every conversation)",
		goroutinesBefore, goruntime.NumGoroutine(), float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20), grown>>10, float64(grown)/1024/streams)
	// Each stream leaves a conversation with two messages in the memory stores, a few
	// KiB; a leaked stream would hold its buffers, contexts and goroutine stacks.
	assert.Less(t, grown, int64(32<<20), "the heap grows by at most 32 MiB over %d streams", streams)
}
