package httpapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tenantry/tenantry/domain"
)

// patchReader walks an RFC 7396 JSON merge patch against a fixed schema, collecting
// every unknown field and every value of the wrong type, so one 400 lists them all.
type patchReader struct {
	errs []domain.FieldError
}

type fieldSetter func(path string, raw json.RawMessage)

func (r *patchReader) fail(path, msg string) {
	r.errs = append(r.errs, domain.FieldError{Field: path, Message: msg})
}

func (r *patchReader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return domain.Invalid(r.errs...)
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// object decodes raw as a JSON object; anything else is reported at path.
func (r *patchReader) object(path string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &m) != nil || m == nil {
		r.fail(pathOr(path, "body"), "must be a JSON object")
		return nil, false
	}
	return m, true
}

func pathOr(path, alt string) string {
	if path == "" {
		return alt
	}
	return path
}

// fields dispatches each member of m to its setter, in key order; members without one
// are unknown, members in readOnly are rejected as read-only.
func (r *patchReader) fields(prefix string, m map[string]json.RawMessage, setters map[string]fieldSetter, readOnly ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if set, ok := setters[k]; ok {
			set(path, m[k])
			continue
		}
		if slices.Contains(readOnly, k) {
			r.fail(path, "is read-only")
			continue
		}
		r.fail(path, "unknown field")
	}
}

// nested returns a setter that walks a nested object.
func (r *patchReader) nested(setters map[string]fieldSetter, readOnly ...string) fieldSetter {
	return func(path string, raw json.RawMessage) {
		if m, ok := r.object(path, raw); ok {
			r.fields(path, m, setters, readOnly...)
		}
	}
}

// str reads a string; null means "remove", which for a string is the empty value.
func (r *patchReader) str(dst **string) fieldSetter {
	return func(path string, raw json.RawMessage) {
		var s string
		if !isNull(raw) && json.Unmarshal(raw, &s) != nil {
			r.fail(path, "must be a string")
			return
		}
		*dst = &s
	}
}

func (r *patchReader) number(path string, raw json.RawMessage) (json.Number, bool) {
	if isNull(raw) {
		r.fail(path, "must not be null")
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var n json.Number
	if dec.Decode(&n) != nil {
		r.fail(path, "must be a number")
		return "", false
	}
	return n, true
}

func (r *patchReader) integer(dst **int) fieldSetter {
	return func(path string, raw json.RawMessage) {
		n, ok := r.number(path, raw)
		if !ok {
			return
		}
		v, err := strconv.ParseInt(n.String(), 10, 32)
		if err != nil {
			r.fail(path, "must be an integer")
			return
		}
		i := int(v)
		*dst = &i
	}
}

func (r *patchReader) integer64(dst **int64) fieldSetter {
	return func(path string, raw json.RawMessage) {
		n, ok := r.number(path, raw)
		if !ok {
			return
		}
		v, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			r.fail(path, "must be an integer")
			return
		}
		*dst = &v
	}
}

func (r *patchReader) float(dst **float64) fieldSetter {
	return func(path string, raw json.RawMessage) {
		n, ok := r.number(path, raw)
		if !ok {
			return
		}
		v, err := n.Float64()
		if err != nil {
			r.fail(path, "must be a number")
			return
		}
		*dst = &v
	}
}

// nullable lets null through set: it removes the value, recorded in unset, or (unset nil)
// stores the setter's zero value through a literal 0.
func (r *patchReader) nullable(set fieldSetter, unset *bool) fieldSetter {
	return func(path string, raw json.RawMessage) {
		switch {
		case !isNull(raw):
			set(path, raw)
		case unset != nil:
			*unset = true
		default:
			set(path, json.RawMessage("0"))
		}
	}
}

func (r *patchReader) boolean(dst **bool) fieldSetter {
	return func(path string, raw json.RawMessage) {
		var b bool
		if isNull(raw) || json.Unmarshal(raw, &b) != nil {
			r.fail(path, "must be true or false")
			return
		}
		*dst = &b
	}
}

// maxAPIKeyLength bounds a vendor API key.
const maxAPIKeyLength = 1024

// secret reads a write-only API key: a string sets it; null or "" clears it.
func (r *patchReader) secret(dst **domain.Secret) fieldSetter {
	return func(path string, raw json.RawMessage) {
		var s string
		if !isNull(raw) && json.Unmarshal(raw, &s) != nil {
			r.fail(path, "must be a string or null")
			return
		}
		if len(s) > maxAPIKeyLength || strings.IndexFunc(s, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0 {
			r.fail(path, "must be at most 1024 characters without spaces or control characters")
			return
		}
		v := domain.Secret(s)
		*dst = &v
	}
}

// parseTenantPatch reads a merge patch of the tenant representation plus the
// write-only api_key fields.
func parseTenantPatch(body []byte) (domain.TenantPatch, error) {
	var p domain.TenantPatch
	var raw json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return p, err
	}
	r := &patchReader{}
	top, ok := r.object("", raw)
	if !ok {
		return p, r.err()
	}
	var status *string
	keyRO := []string{"api_key_set", "api_key_last4"}
	r.fields("", top, map[string]fieldSetter{
		"name":          r.str(&p.Name),
		"status":        r.str(&status),
		"system_prompt": r.str(&p.SystemPrompt),
		"retrieval": r.nested(map[string]fieldSetter{
			"top_k": r.integer(&p.TopK), "min_score": r.float(&p.MinScore), "mode": r.str(&p.Mode),
		}, "mode_auto"),
		"vector_store": r.nested(map[string]fieldSetter{
			"provider": r.str(&p.VectorProvider), "index_host": r.str(&p.IndexHost),
			"namespace": r.str(&p.Namespace), "api_key": r.secret(&p.VectorAPIKey),
		}, keyRO...),
		"embedder": r.nested(map[string]fieldSetter{
			"provider": r.str(&p.EmbedderName), "model": r.str(&p.EmbedderModel),
			"dimensions": r.integer(&p.EmbedderDims), "send_dimensions": r.boolean(&p.EmbedderSendDims),
			"api_key": r.secret(&p.EmbedderAPIKey),
		}, keyRO...),
		"llm": r.nested(map[string]fieldSetter{
			"provider": r.str(&p.LLMProvider), "base_url": r.str(&p.LLMBaseURL), "model": r.str(&p.LLMModel),
			"temperature": r.nullable(r.float(&p.LLMTemperature), &p.LLMTemperatureUnset),
			"max_tokens":  r.nullable(r.integer(&p.LLMMaxTokens), nil), "max_tokens_param": r.str(&p.LLMMaxTokensParam),
			"api_key": r.secret(&p.LLMAPIKey),
		}, keyRO...),
		"limits": r.nested(map[string]fieldSetter{
			"requests_per_minute": r.integer(&p.RequestsPerMin), "max_concurrent_streams": r.integer(&p.MaxStreams),
			"monthly_token_quota": r.integer64(&p.MonthlyQuota),
		}),
	}, "id", "created_at", "updated_at")
	if status != nil {
		s := domain.TenantStatus(*status)
		p.Status = &s
	}
	return p, r.err()
}

// userPatch is a merge patch of a user: the domain patch plus an optional new password.
type userPatch struct {
	domain.UserPatch
	Password *string
}

// parseUserPatch reads {role, tenant_id, disabled, password}; tenant_id null unassigns.
func parseUserPatch(body []byte) (userPatch, error) {
	var p userPatch
	var raw json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return p, err
	}
	r := &patchReader{}
	top, ok := r.object("", raw)
	if !ok {
		return p, r.err()
	}
	var role, tenant *string
	r.fields("", top, map[string]fieldSetter{
		"role": r.str(&role), "tenant_id": r.str(&tenant),
		"disabled": r.boolean(&p.Disabled), "password": r.str(&p.Password),
	}, "id", "email", "created_at", "updated_at")
	if role != nil {
		rl, err := domain.ParseRole(*role)
		if err != nil {
			r.fail("role", "must be member, tenant_admin or platform_admin")
		}
		p.Role = &rl
	}
	if tenant != nil {
		tid := domain.TenantID(*tenant)
		if *tenant != "" {
			if _, err := domain.ParseTenantID(*tenant); err != nil {
				r.fail("tenant_id", "is not a valid tenant id")
			}
		}
		p.TenantID = &tid
	}
	return p, r.err()
}

// parseConversationPatch reads {title}, the one field a conversation's owner may change.
func parseConversationPatch(body []byte) (string, error) {
	var raw json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return "", err
	}
	r := &patchReader{}
	top, ok := r.object("", raw)
	if !ok {
		return "", r.err()
	}
	var title *string
	r.fields("", top, map[string]fieldSetter{"title": r.str(&title)}, "id", "created_at", "updated_at", "messages")
	if title == nil && len(r.errs) == 0 {
		r.fail("title", "is required")
	}
	if err := r.err(); err != nil {
		return "", err
	}
	return *title, nil
}
