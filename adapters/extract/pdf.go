package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klippa-app/go-pdfium"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"

	"github.com/tenantry/tenantry/domain"
)

// PDFReader extracts the text of PDFs page by page with PDFium compiled to WebAssembly
// and run by wazero, so no C library is linked. The module is compiled on first use
// (the first PDF waits for it) and kept until Close. The module sees no file system:
// PDFs reach it as bytes only.
type PDFReader struct {
	workers int

	mu   sync.Mutex
	pool pdfium.Pool
	done bool
}

// NewPDFReader returns a reader running at most workers PDFium instances at once
// (at least one); each instance holds its own WebAssembly memory.
func NewPDFReader(workers int) *PDFReader {
	return &PDFReader{workers: max(workers, 1)}
}

// Warm compiles the PDFium module now rather than on the first PDF.
func (r *PDFReader) Warm() error {
	_, err := r.instances()
	return err
}

func (r *PDFReader) instances() (pdfium.Pool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, domain.E(domain.KindUnavailable, domain.KindUnavailable.String(), "the PDF reader is shut down", nil)
	}
	if r.pool == nil {
		pool, err := webassembly.Init(webassembly.Config{
			MinIdle: 0, MaxIdle: 1, MaxTotal: r.workers,
			FSConfig: wazero.NewFSConfig(),
			Stdout:   io.Discard, Stderr: io.Discard,
		})
		if err != nil {
			return nil, fmt.Errorf("start PDFium: %w", err)
		}
		r.pool = pool
	}
	return r.pool, nil
}

// Close releases the PDFium module; later PDFs are KindUnavailable.
func (r *PDFReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	if r.pool == nil {
		return nil
	}
	err := r.pool.Close()
	r.pool = nil
	return err
}

// Extract returns one section per page that has text, with its 1-based page number.
func (r *PDFReader) Extract(ctx context.Context, data []byte) ([]domain.Section, error) {
	pool, err := r.instances()
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
