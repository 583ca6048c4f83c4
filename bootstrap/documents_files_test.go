package bootstrap

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureDir holds the files make.sh builds with pandoc, LibreOffice, Ghostscript and qpdf.
const fixtureDir = "../adapters/extract/testdata"

// upload posts one file (and a title) to POST /documents as a browser form does.
func (e *hEnv) upload(t *testing.T, token, fileName, fileType, title string, data []byte) hResp {
	t.Helper()
	body, contentType := fileForm(t, fileName, fileType, title, data)
	return e.do(t, hReq{method: http.MethodPost, path: "/documents", token: token, body: body, contentType: contentType})
}

// fileForm is a multipart form holding one file (and a title, unless empty), as a
// browser sends it, with its Content-Type.
func fileForm(t *testing.T, fileName, fileType, title string, data []byte) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", fileType)
	part, err := w.CreatePart(h)
	require.NoError(t, err)
	_, err = part.Write(data)
	require.NoError(t, err)
	if title != "" {
		require.NoError(t, w.WriteField("title", title))
	}
	require.NoError(t, w.Close())
	return buf.String(), w.FormDataContentType()
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err)
	return b
}

// sourceTitled returns the first source of a chat answer with the given title.
func sourceTitled(t *testing.T, evs []hEvent, title string) map[string]any {
	t.Helper()
	for _, s := range isoSources(t, evs) {
		if s["title"] == title {
			return s
		}
	}
	require.Failf(t, "no source titled "+title, "%v", evs)
	return nil
}

// TestUploadedFilesAreCitedByPageAndHeading uploads each supported type through
// POST /documents on the production wiring (SQLite, the real extractors), then asks
// /chat/stream: the PDF's source names page 3, the DOCX's and HTML's the heading.
func TestUploadedFilesAreCitedByPageAndHeading(t *testing.T) {
	e := hNewEnv(t, hSQLite, map[string]string{"TENANTRY_MAX_CSV_BYTES": "150"})
	root := e.hSeedPlatformAdmin(t)
	for _, id := range []string{"acme", "globex"} {
		e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/tenants", root, fmt.Sprintf(`{"id":%q,"name":%q}`, id, id)))
	}
	e.createUser(t, root, "admin@acme.test", "tenant_admin", "acme")
	e.createUser(t, root, "member@acme.test", "member", "acme")
	e.createUser(t, root, "member@globex.test", "member", "globex")
	admin, member := e.login(t, "admin@acme.test"), e.login(t, "member@acme.test")

	for _, f := range []struct{ file, fileType, title string }{
		{"handbook.pdf", "application/pdf", "Handbook PDF"},
		{"handbook.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Handbook DOCX"},
		{"handbook.html", "text/html", "Handbook HTML"},
		{"handbook.md", "text/markdown", "Handbook Markdown"},
		{"staff.csv", "text/csv", ""},
	} {
		doc := e.want(t, http.StatusCreated, e.upload(t, admin, f.file, f.fileType, f.title, fixture(t, f.file)))
		assert.Positive(t, doc["chunks"], f.file)
	}

	evs := e.chat(t, member, `{"message":"What is the visitor parking code?"}`)
	pdf := sourceTitled(t, evs, "Handbook PDF")
	assert.EqualValues(t, 3, pdf["page"], "the parking section is on page 3 of the PDF")
	assert.Contains(t, pdf["text"], "amber falcon seventeen")
	docx := sourceTitled(t, evs, "Handbook DOCX")
	assert.Equal(t, "Parking", docx["heading"])
	assert.NotContains(t, docx, "page", "a DOCX has no fixed pages")
	assert.NotContains(t, docx["text"], "economy class", "a chunk stays within its heading's section")
	assert.Equal(t, "Parking", sourceTitled(t, evs, "Handbook HTML")["heading"])

	evs = e.chat(t, member, `{"message":"Which team is Grace Hopper on?"}`)
	assert.Contains(t, sourceTitled(t, evs, "staff")["text"], "name: Grace Hopper\nteam: Compilers")

	// Another tenant's member finds none of it.
	evs = e.chat(t, e.login(t, "member@globex.test"), `{"message":"What is the visitor parking code?"}`)
	assert.Empty(t, isoSources(t, evs))
}

// TestUnreadableUploadsAreRefusedWithReasons checks the 422, 413 and 415 answers of
// POST /documents for files made by the real tools, and that none of them is stored.
func TestUnreadableUploadsAreRefusedWithReasons(t *testing.T) {
	e := hNewEnv(t, hSQLite, map[string]string{"TENANTRY_MAX_CSV_BYTES": "150"})
	root := e.hSeedPlatformAdmin(t)
	e.want(t, http.StatusCreated, e.send(t, http.MethodPost, "/admin/tenants", root, `{"id":"acme","name":"Acme"}`))
	e.createUser(t, root, "admin@acme.test", "tenant_admin", "acme")
	admin := e.login(t, "admin@acme.test")
	pdf, docx := fixture(t, "handbook.pdf"), fixture(t, "handbook.docx")

	tests := []struct {
		name, file string
		data       []byte
		wantStatus int
		wantCode   string
		wantDetail string
	}{
		{name: "scanned PDF", file: "scan.pdf", data: fixture(t, "scanned.pdf"), wantStatus: 422, wantCode: "pdf_no_text", wantDetail: "the PDF has no text layer"},
		{name: "password-protected PDF", file: "locked.pdf", data: fixture(t, "encrypted.pdf"), wantStatus: 422, wantCode: "file_encrypted", wantDetail: "password-protected"},
		{name: "truncated PDF", file: "cut.pdf", data: pdf[:len(pdf)/3], wantStatus: 422, wantCode: "file_corrupt", wantDetail: "damaged or truncated"},
		{name: "truncated DOCX", file: "cut.docx", data: docx[:len(docx)/2], wantStatus: 422, wantCode: "file_corrupt", wantDetail: "not a valid Word document"},
		{name: "CSV over TENANTRY_MAX_CSV_BYTES", file: "big.csv", data: []byte(strings.Repeat("a,b\n", 40)), wantStatus: 413, wantCode: "too_large", wantDetail: "the csv file is larger than 150 bytes"},
		{name: "spreadsheet", file: "book.xlsx", data: []byte("PK"), wantStatus: 415, wantCode: "unsupported_media_type", wantDetail: ".pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.upload(t, admin, tc.file, "application/octet-stream", "", tc.data)
			require.Equalf(t, tc.wantStatus, r.Status, "%s", r.Body)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			assert.Equal(t, tc.wantCode, hProblemCode(t, r))
			assert.Contains(t, string(r.Body), tc.wantDetail)
		})
	}
	assert.Empty(t, hItems(t, e.send(t, http.MethodGet, "/documents", admin, "")))
}
