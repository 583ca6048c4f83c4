package httpapi_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type upload struct {
	fileName, fileType, content string
	fields                      map[string]string
}

func (u upload) body(t *testing.T) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range u.fields {
		require.NoError(t, w.WriteField(k, v))
	}
	if u.fileName != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+u.fileName+`"`)
		if u.fileType != "" {
			h.Set("Content-Type", u.fileType)
		}
		part, err := w.CreatePart(h)
		require.NoError(t, err)
		_, err = part.Write([]byte(u.content))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return &buf, w.FormDataContentType()
}

func TestDocumentsJSONLifecycle(t *testing.T) {
	ev := newEnv(t)
	rec := ev.as("acme-admin", http.MethodPost, "/documents", `{"title":"Handbook","text":"Lunch is served at noon every day.","metadata":{"lang":"en"},"external_id":"hb-1"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	id := doc["id"].(string)
	assert.Equal(t, "/documents/"+id, rec.Header().Get("Location"))
	assert.EqualValues(t, 1, doc["chunks"])
	assert.Equal(t, "Handbook", doc["title"])
	assert.Equal(t, "hb-1", doc["external_id"])
	assert.Equal(t, map[string]any{"lang": "en"}, doc["metadata"])

	rec = ev.as("acme-member", http.MethodGet, "/documents", "")
	require.Equal(t, http.StatusOK, rec.Code)
	var list struct {
		Items  []map[string]any `json:"items"`
		Limit  int              `json:"limit"`
		Offset int              `json:"offset"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Items, 1)
	assert.Equal(t, id, list.Items[0]["id"])
	assert.Equal(t, 20, list.Limit)

	assert.Equal(t, http.StatusOK, ev.as("acme-member", http.MethodGet, "/documents/"+id, "").Code)
	// Another tenant sees nothing: 404 by id, empty list.
	requireProblem(t, ev.as("globex-admin", http.MethodGet, "/documents/"+id, ""), http.StatusNotFound, "not_found")
	requireProblem(t, ev.as("globex-admin", http.MethodDelete, "/documents/"+id, ""), http.StatusNotFound, "not_found")
	rec = ev.as("globex-admin", http.MethodGet, "/documents", "")
	assert.JSONEq(t, `{"items":[],"limit":20,"offset":0}`, rec.Body.String())
	// Members may read but neither add nor delete.
	requireProblem(t, ev.as("acme-member", http.MethodDelete, "/documents/"+id, ""), http.StatusForbidden, "forbidden")
	requireProblem(t, ev.as("acme-member", http.MethodPost, "/documents", `{"title":"x","text":"y"}`), http.StatusForbidden, "forbidden")

	rec = ev.as("acme-admin", http.MethodDelete, "/documents/"+id, "")
	assert.Equal(t, http.StatusNoContent, rec.Code)
	requireProblem(t, ev.as("acme-admin", http.MethodGet, "/documents/"+id, ""), http.StatusNotFound, "not_found")
	ev.vendors.mu.Lock()
	assert.Empty(t, ev.vendors.chunks["acme"], "vectors removed too")
	ev.vendors.mu.Unlock()
}

func TestDocumentsUpload(t *testing.T) {
	ev := newEnv(t) // MaxDocumentBytes is 32 KiB in the harness
	tests := []struct {
		name       string
		up         upload
		wantStatus int
		wantCode   string
		wantTitle  string
	}{
		{name: "markdown file", up: upload{fileName: "guide.md", fileType: "text/markdown", content: "# Guide\n\nParking is behind the building."}, wantStatus: 201, wantTitle: "guide"},
		{name: "text file with title and metadata", up: upload{fileName: "a.txt", fileType: "text/plain; charset=utf-8", content: "Coffee is free.",
			fields: map[string]string{"title": "Perks", "metadata": `{"k":"v"}`, "external_id": "perks"}}, wantStatus: 201, wantTitle: "Perks"},
		{name: "octet-stream .md from a browser", up: upload{fileName: "b.md", fileType: "application/octet-stream", content: "Desks are shared."}, wantStatus: 201, wantTitle: "b"},
		{name: "pdf file", up: upload{fileName: "Report.PDF", fileType: "application/pdf", content: "One.\fTwo."}, wantStatus: 201, wantTitle: "Report"},
		{name: "docx from a browser without a type", up: upload{fileName: "memo.docx", content: "Memo."}, wantStatus: 201, wantTitle: "memo"},
		{name: "csv sent as Excel's type", up: upload{fileName: "rows.csv", fileType: "application/vnd.ms-excel", content: "a: 1"}, wantStatus: 201, wantTitle: "rows"},
		{name: "legacy doc is 415", up: upload{fileName: "a.doc", fileType: "application/msword", content: "x"}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "pdf named but html type is 415", up: upload{fileName: "a.pdf", fileType: "text/html", content: "x"}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "pdf over the PDF limit", up: upload{fileName: "big.pdf", content: strings.Repeat("word ", 10000)}, wantStatus: 413, wantCode: "too_large"},
		{name: "csv over the CSV limit", up: upload{fileName: "big.csv", content: strings.Repeat("a,b\n", 300)}, wantStatus: 413, wantCode: "too_large"},
		{name: "pdf under its limit though over the text limit", up: upload{fileName: "long.pdf", content: strings.Repeat("word ", 7000)}, wantStatus: 201, wantTitle: "long"},
		{name: "password-protected pdf is 422", up: upload{fileName: "locked.pdf", content: "LOCKED"}, wantStatus: 422, wantCode: "file_encrypted"},
		{name: "pdf without text is 422", up: upload{fileName: "blank.pdf", content: " \f "}, wantStatus: 422, wantCode: "file_empty"},
		{name: "txt named but image type is 415", up: upload{fileName: "a.txt", fileType: "image/png", content: "x"}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "missing file", up: upload{fields: map[string]string{"title": "x"}}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "unknown field", up: upload{fileName: "a.txt", content: "x", fields: map[string]string{"color": "red"}}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "bad metadata", up: upload{fileName: "a.txt", content: "x", fields: map[string]string{"metadata": `[1]`}}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "file over the document limit", up: upload{fileName: "big.txt", content: strings.Repeat("word ", 7000)}, wantStatus: 413, wantCode: "too_large"},
		{name: "empty file", up: upload{fileName: "e.txt", content: ""}, wantStatus: 400, wantCode: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := tc.up.body(t)
			rec := ev.as("acme-admin", http.MethodPost, "/documents", body.String(), "Content-Type", ct)
			if tc.wantStatus != 201 {
				requireProblem(t, rec, tc.wantStatus, tc.wantCode)
				return
			}
			require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
			var doc map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
			assert.Equal(t, tc.wantTitle, doc["title"])
		})
	}
}

func TestDocumentsUploadNamesTheAcceptedTypes(t *testing.T) {
	ev := newEnv(t)
	body, ct := upload{fileName: "sheet.xlsx", content: "x"}.body(t)
	p := requireProblem(t, ev.as("acme-admin", http.MethodPost, "/documents", body.String(), "Content-Type", ct),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	assert.Equal(t, "the file's extension must be one of .csv, .docx, .htm, .html, .markdown, .md, .pdf, .text, .txt", p.Detail)

	body, ct = upload{fileName: "big.pdf", content: strings.Repeat("word ", 10000)}.body(t)
	p = requireProblem(t, ev.as("acme-admin", http.MethodPost, "/documents", body.String(), "Content-Type", ct),
		http.StatusRequestEntityTooLarge, "too_large")
	assert.Equal(t, "the pdf file is larger than 49152 bytes", p.Detail)
}

func TestDocumentsUploadedPDFSourcesNameTheirPage(t *testing.T) {
	ev := newEnv(t)
	body, ct := upload{fileName: "handbook.pdf", content: "Travel is booked via the portal.\fThe visitor parking code is amber falcon seventeen."}.body(t)
	rec := ev.as("acme-admin", http.MethodPost, "/documents", body.String(), "Content-Type", ct)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	srv := httptest.NewServer(ev.e)
	defer srv.Close()
	res := chat(t, srv, ev.token("acme-member"), `{"message":"What is the visitor parking code?"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	evs, _ := readEvents(t, res.Body)
	require.NotEmpty(t, evs)
	require.Equal(t, "sources", evs[0].Type)
	var sources struct {
		Sources []map[string]any `json:"sources"`
	}
	require.NoError(t, json.Unmarshal([]byte(evs[0].Data), &sources))
	require.NotEmpty(t, sources.Sources)
	assert.Equal(t, "handbook", sources.Sources[0]["title"])
	assert.EqualValues(t, 2, sources.Sources[0]["page"])
	assert.Equal(t, "Page heading", sources.Sources[0]["heading"])

	rec = ev.completions("acme-member", `{"model":"tenantry-acme","stream":false,
		"messages":[{"role":"user","content":"What is the visitor parking code?"}]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var got oaCompletion
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.NotNil(t, got.Tenantry)
	require.NotEmpty(t, got.Tenantry.Sources)
	assert.EqualValues(t, 2, got.Tenantry.Sources[0]["page"], "/v1 answers carry the page too")
}

func TestDocumentsContentTypesAndLimits(t *testing.T) {
	ev := newEnv(t)
	requireProblem(t, ev.as("acme-admin", http.MethodPost, "/documents", "plain text", "Content-Type", "text/plain"),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	requireProblem(t, ev.as("acme-admin", http.MethodPost, "/documents", `{"title":"t","text":"x","author":"me"}`),
		http.StatusBadRequest, "invalid_request")
	big := `{"title":"t","text":"` + strings.Repeat("a", 40<<10) + `"}`
	requireProblem(t, ev.as("acme-admin", http.MethodPost, "/documents", big), http.StatusRequestEntityTooLarge, "too_large")
	p := requireProblem(t, ev.as("acme-admin", http.MethodPost, "/documents", `{"title":"","text":""}`), http.StatusBadRequest, "invalid_request")
	assert.ElementsMatch(t, []string{"title", "text"}, fieldsOf(p))
}

func TestPaginationIsValidated(t *testing.T) {
	ev := newEnv(t)
	tok := ev.token("acme-member")
	for _, q := range []string{"limit=abc", "limit=0", "limit=101", "limit=-1", "offset=-1", "offset=1.5", "limit=1&limit=2", "limit=", "offset=99999999999"} {
		t.Run(q, func(t *testing.T) {
			rec := ev.do(http.MethodGet, "/documents?"+q, nil, "Authorization", "Bearer "+tok)
			p := requireProblem(t, rec, http.StatusBadRequest, "invalid_request")
			assert.NotEmpty(t, fieldsOf(p))
		})
	}
	rec := ev.do(http.MethodGet, "/documents?limit=5&offset=10", nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"items":[],"limit":5,"offset":10}`, rec.Body.String())
}
