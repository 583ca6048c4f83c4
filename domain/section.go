package domain

import (
	"path"
	"slices"
	"strings"
)

// FileFormat is a kind of document file tenantry can read text from.
type FileFormat string

// File formats accepted for upload.
const (
	FormatText     FileFormat = "text"
	FormatMarkdown FileFormat = "markdown"
	FormatPDF      FileFormat = "pdf"
	FormatDOCX     FileFormat = "docx"
	FormatHTML     FileFormat = "html"
	FormatCSV      FileFormat = "csv"
)

var formatsByExtension = map[string]FileFormat{
	".txt": FormatText, ".text": FormatText, ".md": FormatMarkdown, ".markdown": FormatMarkdown,
	".pdf": FormatPDF, ".docx": FormatDOCX, ".html": FormatHTML, ".htm": FormatHTML, ".csv": FormatCSV,
}

// FormatOfFile returns the format a file name's extension (case-insensitive) names,
// and false when tenantry cannot read that kind of file.
func FormatOfFile(name string) (FileFormat, bool) {
	f, ok := formatsByExtension[strings.ToLower(path.Ext(name))]
	return f, ok
}

// FileExtensions lists the accepted file name extensions, sorted.
func FileExtensions() []string {
	out := make([]string, 0, len(formatsByExtension))
	for ext := range formatsByExtension {
		out = append(out, ext)
	}
	slices.Sort(out)
	return out
}

// Section is a run of a document's text that lies on one page under one heading.
// Page is 1-based, zero when the source has no pages; Heading is empty when none.
type Section struct {
	Page    int
	Heading string
	Text    string
}

// Piece is one chunk's text with where it lies in its source.
type Piece struct {
	Text    string
	Page    int
	Heading string
}

// SplitSections chunks each section on its own, so a chunk never spans two pages or two
// headings; every piece carries its section's page and heading. Sections without
// indexable text yield nothing.
func (c Chunker) SplitSections(sections []Section) []Piece {
	var out []Piece
	for _, s := range sections {
		for _, text := range c.Split(s.Text) {
			out = append(out, Piece{Text: text, Page: s.Page, Heading: s.Heading})
		}
	}
	return out
}

// SectionsText joins the sections' text with blank lines between them.
func SectionsText(sections []Section) string {
	var b strings.Builder
	for i, s := range sections {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(s.Text)
	}
	return b.String()
}
