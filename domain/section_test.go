package domain

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitSectionsNeverSpansTwoSections(t *testing.T) {
	t.Parallel()
	c := Chunker{Size: 40, Overlap: 0}
	got := c.SplitSections([]Section{
		{Page: 1, Heading: "Intro", Text: "Short first page."},
		{Page: 2, Heading: "Intro", Text: "Second page has enough words to need two chunks at forty runes."},
		{Page: 3, Text: "   "},
		{Page: 4, Heading: "End", Text: "Last."},
	})
	want := []Piece{
		{Text: "Short first page.", Page: 1, Heading: "Intro"},
		{Text: "Second page has enough words to need two", Page: 2, Heading: "Intro"},
		{Text: "chunks at forty runes.", Page: 2, Heading: "Intro"},
		{Text: "Last.", Page: 4, Heading: "End"},
	}
	assert.Equal(t, want, got)
}

func TestFormatOfFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want FileFormat
		ok   bool
	}{
		{name: "pdf upper case", file: "Report.PDF", want: FormatPDF, ok: true},
		{name: "docx", file: "a.b.docx", want: FormatDOCX, ok: true},
		{name: "htm", file: "page.htm", want: FormatHTML, ok: true},
		{name: "csv", file: "rows.csv", want: FormatCSV, ok: true},
		{name: "markdown", file: "notes.md", want: FormatMarkdown, ok: true},
		{name: "old word", file: "old.doc", ok: false},
		{name: "no extension", file: "README", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := FormatOfFile(tc.file)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}
