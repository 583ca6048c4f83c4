package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/tenantry/tenantry/domain"
)

// PDFReader extracts the text of PDFs page by page with PDFium compiled to WebAssembly
// and run by wazero, so no C library is linked. The module is compiled once, by Warm
// or by the first PDF, and kept until Close; with a cache directory the compiled code
// is kept there too, so a later process loads it instead of compiling again. A compile
// that failed is tried again by a PDF that comes RetryCompileAfter or more later (the
// PDFs in between get its error). The module sees no file system: PDFs reach it as
// bytes only.
type PDFReader struct {
	cfg PDFConfig

	mu     sync.Mutex
	run    *compileRun // the latest compile; nil before the first
	closed bool

	// compiling, when set (tests), runs in the compile's goroutine before it compiles;
	// waiting runs before a PDF waits for a compile under way; failCompile, when it
	// returns an error, fails the compile with it before it compiles; now is the clock
	// (nil: time.Now).
	compiling, waiting func()
	failCompile        func() error
	now                func() time.Time
}

// compileRun is one compile of the module.
type compileRun struct {
	done  chan struct{} // closed once the compile has ended, well or not
	pool  pdfium.Pool
	cache wazero.CompilationCache
	err   error
	ended time.Time
}

// RetryCompileAfter is how long a failed compile's error is kept before a PDF starts
// another (a compile takes seconds of CPU).
const RetryCompileAfter = time.Minute

// PDFConfig configures a PDFReader.
type PDFConfig struct {
	// Workers is how many PDFium instances run at once (at least one); each holds its
	// own WebAssembly memory.
	Workers int
	// CacheDir keeps the compiled module across processes (wazero's compilation cache,
	// created 0700 if missing); it must be writable by this process only. Empty
	// compiles in every process. A directory that cannot be used is skipped.
	CacheDir string
}

// NewPDFReader returns a reader; nothing is compiled until Warm or the first PDF.
func NewPDFReader(cfg PDFConfig) *PDFReader {
	cfg.Workers = max(cfg.Workers, 1)
	return &PDFReader{cfg: cfg}
}

// Warm starts compiling the PDFium module in the background and returns at once. A
// PDF that arrives meanwhile waits for this compile instead of starting another; once
// the module is compiled (or being compiled), Warm does nothing.
func (r *PDFReader) Warm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startLocked()
}

// startLocked returns the compile to wait for, starting one unless one is under way,
// has succeeded or failed less than RetryCompileAfter ago, or the reader is closed
// (then it may be nil).
func (r *PDFReader) startLocked() *compileRun {
	if c := r.run; c != nil || r.closed {
		if r.closed {
			return c
		}
		select {
		case <-c.done:
			if c.err == nil || r.clock().Sub(c.ended) < RetryCompileAfter {
				return c
			}
		default:
			return c
		}
	}
	c := &compileRun{done: make(chan struct{})}
	r.run = c
	go r.compile(c)
	return c
}

func (r *PDFReader) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

func (r *PDFReader) compile(c *compileRun) {
	if r.compiling != nil {
		r.compiling()
	}
	cache := compilationCache(r.cfg.CacheDir)
	var pool pdfium.Pool
	var err error
	if r.failCompile != nil {
		err = r.failCompile()
	}
	if err == nil {
		pool, err = webassembly.Init(webassembly.Config{
			MinIdle: 0, MaxIdle: 1, MaxTotal: r.cfg.Workers,
			FSConfig: wazero.NewFSConfig(),
			Stdout:   io.Discard, Stderr: io.Discard,
			RuntimeConfig: wazero.NewRuntimeConfig().
				WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
				WithCompilationCache(cache),
		})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(c.done)
	c.ended = r.clock()
	if err != nil || r.closed { // a failure, or Close came during the compile and left the module to it
		if err != nil {
			c.err = fmt.Errorf("start PDFium: %w", err)
		}
		if pool != nil {
			_ = pool.Close()
		}
		_ = cache.Close(context.Background())
		return
	}
	c.pool, c.cache = pool, cache
}

// compilationCache is wazero's cache in dir (which wazero creates 0700 if missing), or
// an in-memory one when dir is empty or cannot be used.
func compilationCache(dir string) wazero.CompilationCache {
	if dir != "" {
		if c, err := wazero.NewCompilationCacheWithDir(dir); err == nil {
			return c
		}
	}
	return wazero.NewCompilationCache()
}

// Ready starts the compile if no one has, and waits for it to end or for ctx to end.
// Its error is the compile's, or KindUnavailable once the reader is closed.
func (r *PDFReader) Ready(ctx context.Context) error {
	_, err := r.instances(ctx)
	return err
}

var errPDFClosed = domain.E(domain.KindUnavailable, domain.KindUnavailable.String(), "the PDF reader is shut down", nil)

// instances waits for the compile (starting one if needed) or for ctx to end.
func (r *PDFReader) instances(ctx context.Context) (pdfium.Pool, error) {
	r.mu.Lock()
	c := r.startLocked()
	r.mu.Unlock()
	if c == nil {
		return nil, errPDFClosed
	}
	select {
	case <-c.done:
	default:
		if r.waiting != nil {
			r.waiting()
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errPDFClosed
	}
	if c.err != nil {
		return nil, c.err
	}
	return c.pool, nil
}

// Close releases the PDFium module and returns at once, also while it is still being
// compiled (the compile then releases it); later PDFs are KindUnavailable.
func (r *PDFReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	c := r.run
	if c == nil {
		return nil
	}
	select {
	case <-c.done:
	default:
		return nil // the compile releases what it made
	}
	var err error
	if c.pool != nil {
		err = c.pool.Close()
	}
	if c.cache != nil {
		err = errors.Join(err, c.cache.Close(context.Background()))
	}
	c.pool, c.cache = nil, nil
	return err
}

// Extract returns one section per page that has text, with its 1-based page number.
func (r *PDFReader) Extract(ctx context.Context, data []byte) ([]domain.Section, error) {
	pool, err := r.instances(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("get PDFium instance: %w", err)
	}
	defer inst.Close()
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		return nil, pdfError(err)
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document}) //nolint:errcheck // read-only document
	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return nil, pdfError(err)
	}
	var out []domain.Section
	for i := range count.PageCount {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := inst.GetPageText(&requests.GetPageText{Page: requests.Page{
			ByIndex: &requests.PageByIndex{Document: doc.Document, Index: i}}})
		if err != nil {
			return nil, corrupt(fmt.Sprintf("page %d of the PDF cannot be read", i+1), err)
		}
		if text := clean(page.Text); strings.TrimSpace(text) != "" {
			out = append(out, domain.Section{Page: i + 1, Text: text})
		}
	}
	if len(out) == 0 {
		return nil, domain.E(domain.KindUnprocessable, CodePDFNoText,
			"the PDF has no text layer (it looks scanned or made of images); run OCR on it and upload the result", nil)
	}
	return out, nil
}

func pdfError(err error) error {
	switch {
	case errors.Is(err, pdfiumerrors.ErrPassword), errors.Is(err, pdfiumerrors.ErrSecurity):
		return domain.E(domain.KindUnprocessable, CodeEncrypted,
			"the PDF is password-protected; upload a copy without a password", err)
	case errors.Is(err, pdfiumerrors.ErrFormat), errors.Is(err, pdfiumerrors.ErrFile):
		return corrupt("the PDF is damaged or truncated and cannot be read", err)
	}
	return fmt.Errorf("read PDF: %w", err)
}
