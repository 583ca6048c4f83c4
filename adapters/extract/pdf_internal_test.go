package extract

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

// extracted is one Extract's outcome.
type extracted struct {
	sections []domain.Section
	err      error
}

// extractAsync runs Extract on the handbook PDF in a goroutine.
func extractAsync(t *testing.T, r *PDFReader) <-chan extracted {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "handbook.pdf"))
	require.NoError(t, err)
	out := make(chan extracted, 1)
	go func() {
		s, err := r.Extract(context.Background(), data)
		out <- extracted{s, err}
	}()
	return out
}

// hasFiles reports whether any file is under dir.
func hasFiles(t *testing.T, dir string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		found = found || (err == nil && !d.IsDir())
		return err
	})
	require.NoError(t, err)
	return found
}

// compileRecorder records each compile a reader starts and holds it until released.
type compileRecorder struct {
	mu       sync.Mutex
	compiles int
	started  chan struct{} // closed by the first compile
	release  chan struct{}
	waiting  chan struct{} // closed when a PDF waits for the compile
}

func recordCompiles(r *PDFReader) *compileRecorder {
	c := &compileRecorder{started: make(chan struct{}), release: make(chan struct{}), waiting: make(chan struct{})}
	r.compiling = func() {
		c.mu.Lock()
		c.compiles++
		first := c.compiles == 1
		c.mu.Unlock()
		if first {
			close(c.started)
		}
		<-c.release
	}
	var once sync.Once
	r.waiting = func() { once.Do(func() { close(c.waiting) }) }
	return c
}

func (c *compileRecorder) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.compiles
}

func TestPDFWarmUpIsTheOneCompile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pdfium")

	// A PDF that arrives while Warm's compile runs waits for it and starts none.
	r := NewPDFReader(PDFConfig{Workers: 1, CacheDir: dir})
	rec := recordCompiles(r)
	r.Warm()
	<-rec.started
	r.Warm()
	got := extractAsync(t, r)
	<-rec.waiting
	close(rec.release)
	res := <-got
	require.NoError(t, res.err)
	require.Len(t, res.sections, 3)
	assert.Contains(t, res.sections[2].Text, "amber falcon seventeen")
	assert.Equal(t, 1, rec.count(), "a second compile was started")
	require.NoError(t, r.Close())
	assert.True(t, hasFiles(t, dir), "the compiled module is kept in the cache directory (a restart loading it: TestServeWarmsPDFiumAndKeepsItCompiled)")
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	// Close does not wait for a compile under way (here one loading the cached code);
	// the compile releases the module, and PDFs are then refused as unavailable.
	closing := NewPDFReader(PDFConfig{Workers: 1, CacheDir: dir})
	rec = recordCompiles(closing)
	closing.Warm()
	<-rec.started
	require.NoError(t, closing.Close())
	close(rec.release)
	<-closing.run.done
	res = <-extractAsync(t, closing)
	assert.Equal(t, domain.KindUnavailable, domain.KindOf(res.err), "%v", res.err)
	closing.mu.Lock()
	assert.Nil(t, closing.run.pool, "the compile kept the module of a closed reader")
	closing.mu.Unlock()
}

func TestPDFUnusableCacheDirIsSkipped(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-directory")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	r := NewPDFReader(PDFConfig{Workers: 1, CacheDir: filepath.Join(file, "pdfium")})
	t.Cleanup(func() { _ = r.Close() })
	res := <-extractAsync(t, r)
	require.NoError(t, res.err)
	assert.Len(t, res.sections, 3)
}

func TestPDFFailedCompileIsTriedAgainLater(t *testing.T) {
	t.Parallel()
	r := NewPDFReader(PDFConfig{Workers: 1})
	t.Cleanup(func() { _ = r.Close() })
	var clock atomic.Int64 // nanoseconds since an arbitrary start
	start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return start.Add(time.Duration(clock.Load())) }
	var compiles atomic.Int32
	r.failCompile = func() error {
		compiles.Add(1)
		return errors.New("out of memory")
	}

	res := <-extractAsync(t, r)
	require.ErrorContains(t, res.err, "start PDFium: out of memory")

	clock.Store(int64(RetryCompileAfter - time.Second))
	res = <-extractAsync(t, r)
	require.ErrorContains(t, res.err, "out of memory", "the failure is kept for a while")
	assert.Equal(t, int32(1), compiles.Load(), "no second compile before RetryCompileAfter")

	clock.Store(int64(RetryCompileAfter))
	res = <-extractAsync(t, r)
	require.ErrorContains(t, res.err, "out of memory")
	assert.Equal(t, int32(2), compiles.Load(), "a PDF RetryCompileAfter later compiles again")
}
