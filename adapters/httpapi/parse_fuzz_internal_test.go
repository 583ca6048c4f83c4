package httpapi

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestParseTokenForm(t *testing.T) {
	tests := []struct {
		name     string
		ct       string
		body     string
		want     tokenRequest
		wantCode string
	}{
		{name: "password", ct: mimeForm, body: "grant_type=password&username=a%40b.c&password=p+w", want: tokenRequest{grantType: "password", username: "a@b.c", password: "p w"}},
		{name: "password without grant type", ct: mimeForm + "; charset=utf-8", body: "username=a&password=b", want: tokenRequest{grantType: "password", username: "a", password: "b"}},
		{name: "refresh", ct: "Application/X-WWW-Form-Urlencoded", body: "grant_type=refresh_token&refresh_token=r", want: tokenRequest{grantType: "refresh_token", refreshToken: "r"}},
		{name: "extra parameters are ignored", ct: mimeForm, body: "username=a&password=b&scope=x&client_id=y", want: tokenRequest{grantType: "password", username: "a", password: "b"}},
		{name: "json", ct: "application/json", body: `{}`, wantCode: "invalid_request"},
		{name: "other charset", ct: mimeForm + "; charset=latin1", body: "username=a&password=b", wantCode: "invalid_request"},
		{name: "repeated grant type", ct: mimeForm, body: "grant_type=password&grant_type=password&username=a&password=b", wantCode: "invalid_request"},
		{name: "unsupported", ct: mimeForm, body: "grant_type=authorization_code&code=x", wantCode: "unsupported_grant_type"},
		{name: "bad escape", ct: mimeForm, body: "username=%&password=b", wantCode: "invalid_request"},
		{name: "too large", ct: mimeForm, body: "username=" + strings.Repeat("a", tokenBodyBytes) + "&password=b", wantCode: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, oerr := parseTokenForm(tc.ct, strings.NewReader(tc.body))
			if tc.wantCode != "" {
				require.NotNil(t, oerr)
				assert.Equal(t, tc.wantCode, oerr.Code)
				return
			}
			require.Nil(t, oerr)
			assert.Equal(t, tc.want, got)
		})
	}
}

func FuzzTokenForm(f *testing.F) {
	for _, s := range []string{"grant_type=password&username=a&password=b", "grant_type=refresh_token&refresh_token=x", "a=%zz", "username=&password=", "grant_type=x", "username=a&username=b&password=c"} {
		f.Add(mimeForm, s)
	}
	f.Add("multipart/form-data", "x")
	f.Fuzz(func(t *testing.T, ct, body string) {
		tr, oerr := parseTokenForm(ct, strings.NewReader(body))
		if oerr != nil {
			if tr != (tokenRequest{}) {
				t.Fatal("error with a request")
			}
			switch oerr.Code {
			case "invalid_request", "unsupported_grant_type":
			default:
				t.Fatalf("unexpected error code %q", oerr.Code)
			}
			if oerr.status != 400 && oerr.status != 413 {
				t.Fatalf("status %d", oerr.status)
			}
			return
		}
		if parseMediaType(ct) != mimeForm {
			t.Fatalf("accepted content type %q", ct)
		}
		vals, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("accepted malformed body %q", body)
		}
		switch tr.grantType {
		case "password":
			if tr.username == "" || tr.password == "" || tr.username != vals.Get("username") || tr.password != vals.Get("password") {
				t.Fatalf("bad password request %+v from %q", tr, body)
			}
		case "refresh_token":
			if tr.refreshToken == "" || tr.refreshToken != vals.Get("refresh_token") {
				t.Fatalf("bad refresh request %+v from %q", tr, body)
			}
		default:
			t.Fatalf("grant type %q", tr.grantType)
		}
		for _, v := range []string{tr.username, tr.password, tr.refreshToken} {
			if !utf8.ValidString(v) {
				t.Fatalf("invalid UTF-8 accepted: %q", v)
			}
		}
	})
}

type sample struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Tags  []string          `json:"tags"`
	Meta  map[string]string `json:"meta"`
	Inner struct {
		On bool `json:"on"`
	} `json:"inner"`
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantField string
		wantErr   bool
	}{
		{name: "valid", body: `{"name":"a","count":2,"tags":["x"],"meta":{"k":"v"},"inner":{"on":true}}`},
		{name: "whitespace around", body: " \n{\"name\":\"a\"}\n "},
		{name: "unknown field", body: `{"name":"a","extra":1}`, wantErr: true, wantField: "extra"},
		{name: "unknown nested field", body: `{"inner":{"off":true}}`, wantErr: true, wantField: "off"},
		{name: "wrong type", body: `{"count":"two"}`, wantErr: true, wantField: "count"},
		{name: "fraction for int", body: `{"count":1.5}`, wantErr: true, wantField: "count"},
		{name: "nested wrong type", body: `{"inner":{"on":"yes"}}`, wantErr: true, wantField: "inner.on"},
		{name: "trailing object", body: `{"name":"a"}{"name":"b"}`, wantErr: true},
		{name: "trailing garbage", body: `{"name":"a"} x`, wantErr: true},
		{name: "truncated", body: `{"name":"a"`, wantErr: true},
		{name: "empty", body: ``, wantErr: true},
		{name: "array", body: `[]`, wantErr: true},
		{name: "null", body: `null`, wantErr: true},
		{name: "invalid UTF-8 in a string", body: "{\"name\":\"\xff\"}", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s sample
			err := decodeStrict([]byte(tc.body), &s)
			if !tc.wantErr {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			de := domain.AsError(err)
			require.NotNil(t, de)
			assert.Equal(t, domain.KindInvalid, de.Kind)
			if tc.wantField != "" {
				require.Len(t, de.Fields, 1)
				assert.Equal(t, tc.wantField, de.Fields[0].Field)
			}
		})
	}
}

// FuzzDecodeJSON checks that strict decoding only ever accepts one valid UTF-8 JSON
// object with declared fields, and fails only with KindInvalid.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"count":1}{}`, `{"x":1}`, `{"inner":{"on":true}}`, "{\"name\":\"\xff\"}", `[1]`, `null`, `{"tags":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var s sample
		err := decodeStrict(body, &s)
		if err != nil {
			if domain.KindOf(err) != domain.KindInvalid {
				t.Fatalf("kind %v for %q", domain.KindOf(err), body)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted invalid input %q", body)
		}
		var generic any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatal(err)
		}
		if m, ok := generic.(map[string]any); ok {
			for k := range m {
				switch strings.ToLower(k) {
				case "name", "count", "tags", "meta", "inner":
				default:
					t.Fatalf("accepted unknown field %q", k)
				}
			}
		} else {
			t.Fatalf("accepted a non-object %q", body)
		}
	})
}

func TestParseTenantPatchIsPure(t *testing.T) {
	p, err := parseTenantPatch([]byte(`{"name":"N","limits":{"monthly_token_quota":5000000000},"vector_store":{"api_key":"pk-12345678"}}`))
	require.NoError(t, err)
	assert.Equal(t, "N", *p.Name)
	assert.Equal(t, int64(5000000000), *p.MonthlyQuota)
	assert.Equal(t, domain.Secret("pk-12345678"), *p.VectorAPIKey)
	assert.ElementsMatch(t, []string{"name", "limits.monthly_token_quota", "vector_store.api_key"}, p.Fields())

	_, err = parseTenantPatch([]byte(`{"llm":{"api_key":"has space"}}`))
	assert.Equal(t, []domain.FieldError{{Field: "llm.api_key", Message: "must be at most 1024 characters without spaces or control characters"}}, domain.AsError(err).Fields)
	assert.False(t, errors.Is(err, domain.ErrNotFound))
}
