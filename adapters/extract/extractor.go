// Package extract reads the text of uploaded document files in process, with pure-Go
// readers only (the binary stays CGO-free): PDF through PDFium compiled to
// WebAssembly and run by wazero, DOCX and CSV with the standard library, HTML with
// golang.org/x/net/html. It imports domain and ports besides those libraries.
package extract

import (
	"bytes"
	"context"
	"strings"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Problem codes of files that cannot be read.
const (
	CodeCorrupt   = "file_corrupt"
	CodeEncrypted = "file_encrypted"
	CodePDFNoText = "pdf_no_text"
)

// Extractor reads every domain.FileFormat.
type Extractor struct {
	pdf *PDFReader
}

var _ ports.TextExtractor = (*Extractor)(nil)

// New returns an Extractor whose PDFs are read by pdf.
func New(pdf *PDFReader) *Extractor { return &Extractor{pdf: pdf} }

// Extract implements ports.TextExtractor.
func (e *Extractor) Extract(ctx context.Context, f domain.FileFormat, data []byte) ([]domain.Section, error) {
	switch f {
	case domain.FormatText, domain.FormatMarkdown:
		return []domain.Section{{Text: string(bytes.TrimPrefix(data, []byte("\ufeff")))}}, nil
	case domain.FormatPDF:
		return e.pdf.Extract(ctx, data)
	case domain.FormatDOCX:
		return extractDOCX(data)
	case domain.FormatHTML:
		return extractHTML(data)
	case domain.FormatCSV:
		return extractCSV(data)
	}
	return nil, domain.E(domain.KindUnsupportedMedia, domain.KindUnsupportedMedia.String(),
		"tenantry cannot read "+string(f)+" files", nil)
}

func corrupt(detail string, err error) error {
	return domain.E(domain.KindUnprocessable, CodeCorrupt, detail, err)
}

// clean makes extracted text storable: valid UTF-8 without NUL characters.
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// sectionBuilder gathers paragraphs under the latest heading.
type sectionBuilder struct {
	out     []domain.Section
	heading string
	text    strings.Builder
}

func (b *sectionBuilder) paragraph(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if b.text.Len() > 0 {
		b.text.WriteString("\n\n")
	}
	b.text.WriteString(s)
}

// startSection closes the current section and opens one under heading; the heading's
// own text stays in the new section so a search for it finds the section.
func (b *sectionBuilder) startSection(heading string) {
	b.flush()
	b.heading = strings.Join(strings.Fields(heading), " ")
	b.paragraph(heading)
}

func (b *sectionBuilder) flush() {
	if t := clean(b.text.String()); strings.TrimSpace(t) != "" {
		b.out = append(b.out, domain.Section{Heading: clean(b.heading), Text: t})
	}
	b.text.Reset()
}

func (b *sectionBuilder) sections() []domain.Section {
	b.flush()
	return b.out
}
