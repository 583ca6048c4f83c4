package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
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
}

type documentHandlers struct {
	ingest   *application.IngestDocument
	docs     *application.Documents
	maxBytes int64
}

// create serves POST /documents: a JSON document or a multipart upload of one .txt or
// .md file; other content types are 415, a text over the limit 413.
func (h documentHandlers) create(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	var req documentRequest
	switch mediaType(c) {
	case mimeJSON:
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
		Tenant: tc, Title: req.Title, Text: req.Text, ExternalID: req.ExternalID, Metadata: req.Metadata,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/documents/"+string(d.ID))
	return sendJSON(c, http.StatusCreated, toDocumentJSON(d))
}

var textFileTypes = map[string]bool{
	"": true, "text/plain": true, "text/markdown": true, "text/x-markdown": true, "application/octet-stream": true,
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
			req.Text, err = h.readFile(part)
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

func (h documentHandlers) readFile(part *multipart.Part) (string, error) {
	ext := strings.ToLower(path.Ext(part.FileName()))
	if ext != ".txt" && ext != ".md" && ext != ".markdown" {
		return "", domain.E(domain.KindUnsupportedMedia, domain.KindUnsupportedMedia.String(), "only .txt and .md files can be uploaded", nil)
	}
	ct := part.Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && (err != nil || !textFileTypes[mt]) {
		return "", domain.E(domain.KindUnsupportedMedia, domain.KindUnsupportedMedia.String(), "the file must be plain text or Markdown", nil)
	}
	b, err := io.ReadAll(io.LimitReader(part, h.maxBytes+1))
	if err != nil {
		return "", uploadError(err)
	}
	if int64(len(b)) > h.maxBytes {
		return "", errBodyTooLarge.WithDetail("the document is larger than %d bytes", h.maxBytes)
	}
	return string(bytes.TrimPrefix(b, []byte("\ufeff"))), nil
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
