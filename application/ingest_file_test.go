package application_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

// sectionsExtractor returns fixed sections, or err, and records the formats it read.
type sectionsExtractor struct {
	sections []domain.Section
	err      error
	formats  []domain.FileFormat
}

func (s *sectionsExtractor) Extract(_ context.Context, f domain.FileFormat, _ []byte) ([]domain.Section, error) {
	s.formats = append(s.formats, f)
	return s.sections, s.err
}

func (e *env) ingestFiles(x *sectionsExtractor) *application.IngestDocument {
	return application.NewIngestDocument(application.IngestDeps{Documents: e.db.Documents(), Vendors: e.vendors, Lexical: e.lexical,
		Limiter: e.rate, Extractor: x, Chunker: e.chunker, Now: e.clock.Now})
}

func TestIngestFileChunksPageByPageWithHeadings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.admin("acme")
	x := &sectionsExtractor{sections: []domain.Section{
		{Page: 1, Heading: "Travel", Text: "Economy class for short flights."},
		{Page: 2, Heading: "Travel", Text: refundPolicy},
		{Page: 3, Heading: "Parking", Text: "The visitor parking code is amber falcon seventeen."},
	}}

	doc, err := e.ingestFiles(x).Execute(context.Background(), application.IngestInput{Tenant: acme, Title: "Handbook",
		File: &application.IngestFile{Format: domain.FormatPDF, Data: []byte("%PDF")}})

	require.NoError(t, err)
	assert.Equal(t, []domain.FileFormat{domain.FormatPDF}, x.formats)
	chunks := e.storedChunks("acme")
	require.Len(t, chunks, doc.Chunks)
	require.Greater(t, len(chunks), 3, "page 2 needs several chunks")
	pages := map[int]bool{}
	for _, c := range chunks {
		pages[c.Page] = true
		want := x.sections[c.Page-1]
		assert.Contains(t, want.Text, c.Text, "chunk %d lies within its page", c.Index)
		assert.Equal(t, want.Heading, c.Heading)
	}
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true}, pages)

	hits := e.search("acme", "visitor parking code")
	require.NotEmpty(t, hits)
	assert.Equal(t, 3, hits[0].Page)
	assert.Equal(t, "Parking", hits[0].Heading)
}

func TestIngestFileReportsUnreadableAndEmptyFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		x        *sectionsExtractor
		wantCode string
	}{
		{name: "extractor refuses", x: &sectionsExtractor{err: domain.E(domain.KindUnprocessable, "pdf_no_text", "scanned", nil)}, wantCode: "pdf_no_text"},
		{name: "no text at all", x: &sectionsExtractor{sections: []domain.Section{{Page: 1, Text: " \n "}}}, wantCode: "file_empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			_, err := e.ingestFiles(tc.x).Execute(context.Background(), application.IngestInput{Tenant: e.admin("acme"), Title: "Scan",
				File: &application.IngestFile{Format: domain.FormatPDF, Data: []byte("%PDF")}})
			requireKind(t, domain.KindUnprocessable, err)
			assert.Equal(t, tc.wantCode, domain.AsError(err).Code)
			assert.Empty(t, e.storedChunks("acme"))
		})
	}
}

func TestIngestFileRefusesMembersBeforeReadingTheFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.tenant("acme")
	member := tenantCtx(e.user("m@acme.test", domain.RoleMember, acme.ID), acme)
	x := &sectionsExtractor{sections: []domain.Section{{Text: "secret"}}}

	_, err := e.ingestFiles(x).Execute(context.Background(), application.IngestInput{Tenant: member, Title: "Scan",
		File: &application.IngestFile{Format: domain.FormatPDF, Data: []byte("%PDF")}})

	requireKind(t, domain.KindForbidden, err)
	assert.Empty(t, x.formats)
}
