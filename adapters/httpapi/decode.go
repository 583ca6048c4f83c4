package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/domain"
)

const mimeMergePatch = "application/merge-patch+json"

// unsupportedMedia builds the 415 error naming the accepted types.
func unsupportedMedia(accepted ...string) error {
	return domain.E(domain.KindUnsupportedMedia, domain.KindUnsupportedMedia.String(),
		"the request content type must be "+strings.Join(accepted, " or "), nil)
}

// mediaType returns the lower-cased media type of the request, without parameters.
func mediaType(c echo.Context) string {
	return parseMediaType(c.Request().Header.Get(echo.HeaderContentType))
}

// parseMediaType returns the lower-cased media type of a Content-Type value, or "" when
// it is malformed or names a charset other than UTF-8.
func parseMediaType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ""
	}
	return mt
}

// readJSONBody checks the content type against accepted (application/json when none is
// given) and reads the whole body, which the body-limit middleware caps.
func readJSONBody(c echo.Context, accepted ...string) ([]byte, error) {
	if len(accepted) == 0 {
		accepted = []string{mimeJSON}
	}
	mt := mediaType(c)
	ok := false
	for _, a := range accepted {
		ok = ok || mt == a
	}
	if !ok {
		return nil, unsupportedMedia(accepted...)
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, readError(err)
	}
	return body, nil
}

// decodeJSON reads the request body into dst strictly: the content type must be
// application/json (415), the body valid UTF-8 holding exactly one JSON object with no
// fields dst does not declare (400 naming the field).
func decodeJSON(c echo.Context, dst any) error {
	body, err := readJSONBody(c)
	if err != nil {
		return err
	}
	return decodeStrict(body, dst)
}

// decodeStrict decodes body into dst with the rules of decodeJSON.
func decodeStrict(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalidBody("the request body must be a JSON object", nil)
	}
	if !utf8.Valid(body) {
		return invalidBody("the request body must be valid UTF-8", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidBody("the request body must hold a single JSON value", err)
	}
	return nil
}

func invalidBody(detail string, cause error) error {
	return domain.E(domain.KindInvalid, "invalid_request", detail, cause)
}

// jsonError turns a decoding error into a 400 naming the field when one is known.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalidBody(fmt.Sprintf("the request body is not valid JSON (at byte %d)", syn.Offset), err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return invalidBody("the request body must be a JSON object", err)
		}
		return withCause(domain.Invalid(domain.FieldError{Field: field, Message: "must be a JSON " + jsonTypeName(typ.Type.Kind().String())}), err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return invalidBody("the request body is truncated JSON", err)
	}
	if name, ok := unknownField(err); ok {
		return withCause(domain.Invalid(domain.FieldError{Field: name, Message: "unknown field"}), err)
	}
	return invalidBody("the request body could not be decoded", err)
}

func withCause(e *domain.Error, cause error) *domain.Error { return e.With(cause) }

// unknownField extracts the name from encoding/json's `json: unknown field "x"` error,
// which has no typed form.
func unknownField(err error) (string, bool) {
	const prefix = `json: unknown field "`
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, `"`) {
		return "", false
	}
	return msg[len(prefix) : len(msg)-1], true
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}
