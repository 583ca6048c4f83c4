package extract_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/extract"
	"github.com/tenantry/tenantry/domain"
)

// pdfReader is shared by the package's tests: compiling PDFium takes seconds.
var pdfReader = extract.NewPDFReader(extract.PDFConfig{Workers: 2})

func TestMain(m *testing.M) {
	code := m.Run()
	_ = pdfReader.Close()
	os.Exit(code)
}

func newExtractor(t *testing.T) *extract.Extractor {
	t.Helper()
	return extract.New(pdfReader)
}

func readFixture(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return b
}

func TestPDFPagesKeepTheirNumbers(t *testing.T) {
	t.Parallel()
	got, err := newExtractor(t).Extract(context.Background(), domain.FormatPDF, readFixture(t, "testdata", "handbook.pdf"))
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, s := range got {
		assert.Equal(t, i+1, s.Page)
	}
	assert.Contains(t, got[0].Text, "economy class")
	assert.Contains(t, got[1].Text, "sixteen gigabytes")
	assert.Contains(t, got[2].Text, "amber falcon seventeen")
	assert.Contains(t, got[2].Text, "courtyard shed")
}

func TestDOCXSectionsFollowHeadingStyles(t *testing.T) {
	t.Parallel()
	got, err := newExtractor(t).Extract(context.Background(), domain.FormatDOCX, readFixture(t, "testdata", "handbook.docx"))
	require.NoError(t, err)
	assert.Equal(t, []string{"Travel Policy", "Equipment", "Parking", "Bicycles"}, headings(got))
	assert.Contains(t, got[2].Text, "amber falcon seventeen")
	assert.Zero(t, got[2].Page, "a DOCX has no fixed pages")
}

func TestHTMLKeepsHeadingsAndDropsScriptsStylesNavigation(t *testing.T) {
	t.Parallel()
	page := `<!doctype html><html><head><title>T</title><style>body{color:red}</style></head><body>
<nav><a href="/">Home menu</a></nav><script>var secret = 1;</script>
<h1>Parking</h1><p>The code is <b>amber</b> falcon.</p><noscript>enable js</noscript>
<h2>Bicycles</h2><ul><li>Shed</li><li>Courtyard</li></ul><table><tr><td>a</td><td>b</td></tr></table></body></html>`
	got, err := newExtractor(t).Extract(context.Background(), domain.FormatHTML, []byte(page))
	require.NoError(t, err)
	assert.Equal(t, []domain.Section{
		{Heading: "Parking", Text: "Parking\n\nThe code is amber falcon."},
		{Heading: "Bicycles", Text: "Bicycles\n\nShed\n\nCourtyard\n\na b"},
	}, got)

	fixture, err := newExtractor(t).Extract(context.Background(), domain.FormatHTML, readFixture(t, "testdata", "handbook.html"))
	require.NoError(t, err)
	assert.Equal(t, []string{"Travel Policy", "Equipment", "Parking", "Bicycles"}, headings(fixture))
}

func TestCSVRowsNameTheirColumns(t *testing.T) {
	t.Parallel()
	got, err := newExtractor(t).Extract(context.Background(), domain.FormatCSV, readFixture(t, "testdata", "staff.csv"))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "name: Ada Lovelace\nteam: Analytics\noffice: Room 12\n\nname: Grace Hopper\nteam: Compilers\noffice: Room 7", got[0].Text)
}

func TestUnreadableFilesAreUnprocessable(t *testing.T) {
	t.Parallel()
	pdf := readFixture(t, "testdata", "handbook.pdf")
	docx := readFixture(t, "testdata", "handbook.docx")
	tests := []struct {
		name     string
		format   domain.FileFormat
		data     []byte
		wantCode string
		wantText string
	}{
		{name: "scanned pdf", format: domain.FormatPDF, data: readFixture(t, "testdata", "scanned.pdf"), wantCode: extract.CodePDFNoText, wantText: "no text layer"},
		{name: "encrypted pdf", format: domain.FormatPDF, data: readFixture(t, "testdata", "encrypted.pdf"), wantCode: extract.CodeEncrypted, wantText: "password-protected"},
		{name: "truncated pdf", format: domain.FormatPDF, data: pdf[:len(pdf)/3], wantCode: extract.CodeCorrupt, wantText: "damaged or truncated"},
		{name: "not a pdf", format: domain.FormatPDF, data: []byte("hello"), wantCode: extract.CodeCorrupt, wantText: "damaged or truncated"},
		{name: "truncated docx", format: domain.FormatDOCX, data: docx[:len(docx)/2], wantCode: extract.CodeCorrupt, wantText: "not a valid Word document"},
		{name: "encrypted docx", format: domain.FormatDOCX, data: append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), wantCode: extract.CodeEncrypted, wantText: "password-protected"},
		{name: "unbalanced csv quote", format: domain.FormatCSV, data: []byte("a,b\n\"x,y\n"), wantCode: extract.CodeCorrupt, wantText: "malformed at line"},
	}
	ex := newExtractor(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ex.Extract(context.Background(), tc.format, tc.data)
			require.Error(t, err)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, domain.KindUnprocessable, de.Kind)
			assert.Equal(t, tc.wantCode, de.Code)
			assert.Contains(t, de.Detail, tc.wantText)
		})
	}
}

func headings(ss []domain.Section) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Heading)
	}
	return out
}

var wordRE = regexp.MustCompile(`[A-Za-z]+`)

// words are the lowercase words of the Markdown's prose, without raw OpenXML blocks.
func markdownWords(t *testing.T, md string) []string {
	t.Helper()
	md = regexp.MustCompile("(?s)```\\{=openxml\\}.*?```").ReplaceAllString(md, "")
	return lowerWords(md)
}

func lowerWords(s string) []string {
	ws := wordRE.FindAllString(s, -1)
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	return ws
}

// TestFixturesRegenerate rebuilds the fixtures with make.sh (pandoc, LibreOffice,
// Ghostscript, qpdf) and checks that the words extracted from each generated file are
// the Markdown source's words, in order. CI installs the tools; elsewhere the test is
// skipped when one is missing.
func TestFixturesRegenerate(t *testing.T) {
	for _, tool := range []string{"pandoc", "soffice", "gs", "qpdf"} {
		if _, err := lookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: .ci/run installs it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := t.TempDir()
	runScript(t, "testdata/make.sh", dir)
	want := markdownWords(t, string(readFixture(t, "testdata", "handbook.md")))
	ex := newExtractor(t)
	for _, tc := range []struct {
		file   string
		format domain.FileFormat
	}{
		{file: "handbook.pdf", format: domain.FormatPDF},
		{file: "handbook.docx", format: domain.FormatDOCX},
		{file: "handbook.html", format: domain.FormatHTML},
	} {
		got, err := ex.Extract(context.Background(), tc.format, readFixture(t, dir, tc.file))
		require.NoError(t, err, tc.file)
		assert.Equal(t, want, lowerWords(domain.SectionsText(got)), tc.file)
	}
	_, err := ex.Extract(context.Background(), domain.FormatPDF, readFixture(t, dir, "scanned.pdf"))
	assert.Equal(t, extract.CodePDFNoText, codeOf(err))
	_, err = ex.Extract(context.Background(), domain.FormatPDF, readFixture(t, dir, "encrypted.pdf"))
	assert.Equal(t, extract.CodeEncrypted, codeOf(err))
}

func codeOf(err error) string {
	if de := domain.AsError(err); de != nil {
		return de.Code
	}
	return ""
}

func lookPath(tool string) (string, error) { return exec.LookPath(tool) }

func runScript(t *testing.T, script string, args ...string) {
	t.Helper()
	out, err := exec.Command(script, args...).CombinedOutput()
	require.NoError(t, err, "%s: %s", script, out)
}
