package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
)

const (
	mimeMultipart = "multipart/form-data"
	// multipartOverhead is what boundaries and small fields may add to an upload
	// beyond the document itself.
	multipartOverhead = 64 << 10
	maxFormField      = 32 << 10
)

type documentJSON struct {
	ID         string            `json:"id"`
	ExternalID string            `json:"external_id,omitempty"`
	Title      string            `json:"title"`
	Metadata   map[string]string `json:"metadata"`
	Chunks     int               `json:"chunks"`
	Bytes      int               `json:"bytes"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

func toDocumentJSON(d domain.Document) documentJSON {
	md := d.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return documentJSON{ID: string(d.ID), ExternalID: d.ExternalID, Title: d.Title, Metadata: md, Chunks: d.Chunks,
		Bytes: d.Bytes, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

type documentRequest struct {
	Title      string            `json:"title"`
	Text       string            `json:"text"`
	Metadata   map[string]string `json:"metadata"`
	ExternalID string            `json:"external_id"`
	file       *application.IngestFile
}

type documentHandlers struct {
	ingest *application.IngestDocument
	docs   *application.Documents
	// maxBytes caps a text: a JSON document's, or an uploaded text or Markdown file.
	maxBytes int64
	// maxFileBytes caps an uploaded file of each other format.
	maxFileBytes map[domain.FileFormat]int64
}

// create serves POST /documents: a JSON document or a multipart upload of one file of
// an accepted type (text, Markdown, PDF, DOCX, HTML, CSV); other types are 415, a file
// over its type's limit 413, a file whose text cannot be read 422.
func (h documentHandlers) create(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	var req documentRequest
	switch mediaType(c) {
	case mimeJSON:
		r := c.Request()
		r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, h.maxBytes+multipartOverhead)
		err = decodeJSON(c, &req)
	case mimeMultipart:
		req, err = h.readUpload(c)
	default:
		err = unsupportedMedia(mimeJSON, mimeMultipart)
	}
	if err != nil {
		return err
	}
	if int64(len(req.Text)) > h.maxBytes {
		return errBodyTooLarge.WithDetail("the document is larger than %d bytes", h.maxBytes)
	}
	d, err := h.ingest.Execute(c.Request().Context(), application.IngestInput{
		Tenant: tc, Title: req.Title, Text: req.Text, File: req.file, ExternalID: req.ExternalID, Metadata: req.Metadata,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/documents/"+string(d.ID))
	return sendJSON(c, http.StatusCreated, toDocumentJSON(d))
}

// fileMediaTypes are the part Content-Types accepted for each format, besides none
// and application/octet-stream. Browsers send application/vnd.ms-excel for CSV on
// machines with Excel installed.
var fileMediaTypes = map[domain.FileFormat][]string{
	domain.FormatText:     {"text/plain", "text/markdown", "text/x-markdown"},
	domain.FormatMarkdown: {"text/plain", "text/markdown", "text/x-markdown"},
	domain.FormatPDF:      {"application/pdf", "application/x-pdf"},
	domain.FormatDOCX:     {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	domain.FormatHTML:     {"text/html", "application/xhtml+xml"},
	domain.FormatCSV:      {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"},
}

// readUpload reads the parts file (required), title, external_id and metadata (a JSON
// object of strings). The title defaults to the file name without its extension.
func (h documentHandlers) readUpload(c echo.Context) (documentRequest, error) {
	var req documentRequest
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return req, invalidBody("the multipart body is malformed", err)
	}
	seen := map[string]bool{}
	var fileName string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, uploadError(err)
		}
		name := part.FormName()
		if seen[name] {
			return req, domain.Invalid(domain.FieldError{Field: name, Message: "must be given once"})
		}
		seen[name] = true
		switch name {
		case "file":
			fileName = part.FileName()
			err = h.readFile(part, &req)
		case "title":
			req.Title, err = readField(part, name)
		case "external_id":
			req.ExternalID, err = readField(part, name)
		case "metadata":
			req.Metadata, err = readMetadata(part)
		default:
			err = domain.Invalid(domain.FieldError{Field: name, Message: "unknown field"})
		}
		if err != nil {
			return req, err
		}
	}
	if !seen["file"] {
		return req, domain.Invalid(domain.FieldError{Field: "file", Message: "is required"})
	}
	if req.Title == "" {
		req.Title = strings.TrimSuffix(fileName, path.Ext(fileName))
	}
	return req, nil
}

// readFile reads the file part into req: a text or Markdown file as its text, any
// other accepted type as bytes for the use case to extract.
func (h documentHandlers) readFile(part *multipart.Part, req *documentRequest) error {
	format, ok := domain.FormatOfFile(part.FileName())
	if !ok {
		return domain.E(domain.KindUnsupportedMedia, domain.KindUnsupportedMedia.String(),
			"the file's extension must be one of "+strings.Join(domain.FileExtensions(), ", "), nil)
	}
	ct := part.Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && (err != nil || !acceptsMediaType(format, mt)) {
		return domain.E(domain.KindUnsupportedMedia, domain.KindUnsupportedMedia.String(),
			fmt.Sprintf("a %s file must be sent as %s or application/octet-stream", path.Ext(part.FileName()),
				strings.Join(fileMediaTypes[format], ", ")), nil)
	}
	limit := h.limitOf(format)
	b, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return uploadError(err)
	}
	if int64(len(b)) > limit {
		return errBodyTooLarge.WithDetail("the %s file is larger than %d bytes", format, limit)
	}
	if format == domain.FormatText || format == domain.FormatMarkdown {
		req.Text = string(bytes.TrimPrefix(b, []byte("\ufeff")))
		return nil
	}
	req.file = &application.IngestFile{Format: format, Data: b}
	return nil
}

func acceptsMediaType(f domain.FileFormat, mt string) bool {
	return mt == "application/octet-stream" || slices.Contains(fileMediaTypes[f], mt)
}

// limitOf is the most bytes an uploaded file of format f may have.
func (h documentHandlers) limitOf(f domain.FileFormat) int64 {
	if n, ok := h.maxFileBytes[f]; ok && n > 0 {
		return n
	}
	return h.maxBytes
}

func readField(part *multipart.Part, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
	if err != nil {
		return "", uploadError(err)
	}
	if len(b) > maxFormField {
		return "", domain.Invalid(domain.FieldError{Field: name, Message: "is too long"})
	}
	return string(b), nil
}

func readMetadata(part *multipart.Part) (map[string]string, error) {
	s, err := readField(part, "metadata")
	if err != nil {
		return nil, err
	}
	var md map[string]string
	if err := json.Unmarshal([]byte(s), &md); err != nil {
		return nil, domain.Invalid(domain.FieldError{Field: "metadata", Message: "must be a JSON object of strings"})
	}
	return md, nil
}

// uploadError classifies a failure while reading a multipart body.
func uploadError(err error) error {
	if domain.KindOf(readError(err)) == domain.KindTooLarge {
		return readError(err)
	}
	return invalidBody("the multipart body is malformed", err)
}

// documentIDParam reads {id}; an implausible id names no document, so it is 404.
func documentIDParam(c echo.Context) (domain.DocumentID, error) {
	id := c.Param("id")
	if id == "" || len(id) > 64 {
		return "", domain.ErrNotFound.WithDetail("no such document")
	}
	return domain.DocumentID(id), nil
}

// list serves GET /documents.
func (h documentHandlers) list(c echo.Context) error {
	return sendTenantList(c, h.docs.List, toDocumentJSON)
}

// get serves GET /documents/{id}; another tenant's document is 404.
func (h documentHandlers) get(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	id, err := documentIDParam(c)
	if err != nil {
		return err
	}
	d, err := h.docs.Get(c.Request().Context(), tc, id)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, toDocumentJSON(d))
}

// remove serves DELETE /documents/{id}, removing its vectors too.
func (h documentHandlers) remove(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	id, err := documentIDParam(c)
	if err != nil {
		return err
	}
	if err := h.docs.Delete(c.Request().Context(), tc, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
