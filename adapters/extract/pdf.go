package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

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
// is kept there too, so a later process loads it instead of compiling again. The
// module sees no file system: PDFs reach it as bytes only.
type PDFReader struct {
	cfg PDFConfig

	start sync.Once
	ready chan struct{} // closed once the compile has ended, well or not

	mu     sync.Mutex
	pool   pdfium.Pool
	cache  wazero.CompilationCache
	err    error
	closed bool

	// compiling, when set (tests), runs in the compile's goroutine before it compiles;
	// waiting runs before a PDF waits for a compile under way.
	compiling, waiting func()
}

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
	return &PDFReader{cfg: cfg, ready: make(chan struct{})}
}

// Warm starts compiling the PDFium module in the background and returns at once. A
// PDF that arrives meanwhile waits for this compile instead of starting another; once
// the module is compiled (or being compiled), Warm does nothing.
func (r *PDFReader) Warm() {
	r.start.Do(func() { go r.compile() })
}

func (r *PDFReader) compile() {
	defer close(r.ready)
	if r.compiling != nil {
		r.compiling()
	}
	cache := compilationCache(r.cfg.CacheDir)
	pool, err := webassembly.Init(webassembly.Config{
		MinIdle: 0, MaxIdle: 1, MaxTotal: r.cfg.Workers,
		FSConfig: wazero.NewFSConfig(),
		Stdout:   io.Discard, Stderr: io.Discard,
		RuntimeConfig: wazero.NewRuntimeConfig().
			WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithCompilationCache(cache),
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = fmt.Errorf("start PDFium: %w", err)
	}
	if r.closed { // Close came during the compile and left the module to it
		if pool != nil {
			_ = pool.Close()
		}
		_ = cache.Close(context.Background())
		return
	}
	r.pool, r.cache = pool, cache
}

// compilationCache is wazero's cache in dir, or an in-memory one when dir is empty or
// cannot be used.
func compilationCache(dir string) wazero.CompilationCache {
	if dir != "" && os.MkdirAll(dir, 0o700) == nil {
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

// instances waits for the compile (starting it if no one has) or for ctx to end.
func (r *PDFReader) instances(ctx context.Context) (pdfium.Pool, error) {
	r.Warm()
	select {
	case <-r.ready:
	default:
		if r.waiting != nil {
			r.waiting()
		}
		select {
		case <-r.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, domain.E(domain.KindUnavailable, domain.KindUnavailable.String(), "the PDF reader is shut down", nil)
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.pool, nil
}

// Close releases the PDFium module and returns at once, also while it is still being
// compiled (the compile then releases it); later PDFs are KindUnavailable.
func (r *PDFReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var err error
	if r.pool != nil {
		err = r.pool.Close()
	}
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(context.Background()))
	}
	r.pool, r.cache = nil, nil
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
