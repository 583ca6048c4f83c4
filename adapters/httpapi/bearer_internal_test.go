package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		ok     bool
	}{
		{name: "plain", values: []string{"Bearer abc.def-ghi_jkl~+/=="}, want: "abc.def-ghi_jkl~+/==", ok: true},
		{name: "scheme is case-insensitive", values: []string{"bEaReR tok"}, want: "tok", ok: true},
		{name: "several spaces", values: []string{"Bearer   tok"}, want: "tok", ok: true},
		{name: "at the size cap", values: []string{"Bearer " + strings.Repeat("a", maxBearerLength)}, want: strings.Repeat("a", maxBearerLength), ok: true},
		{name: "missing header"},
		{name: "two headers", values: []string{"Bearer a", "Bearer b"}},
		{name: "empty", values: []string{""}},
		{name: "scheme only", values: []string{"Bearer"}},
		{name: "scheme and space", values: []string{"Bearer "}},
		{name: "basic scheme", values: []string{"Basic dXNlcjpwYXNz"}},
		{name: "no space", values: []string{"Bearertok"}},
		{name: "tab separator", values: []string{"Bearer\ttok"}},
		{name: "two tokens", values: []string{"Bearer a b"}},
		{name: "trailing space", values: []string{"Bearer tok "}},
		{name: "control character", values: []string{"Bearer to\x00k"}},
		{name: "newline", values: []string{"Bearer tok\nX-Evil: 1"}},
		{name: "padding in the middle", values: []string{"Bearer ab=cd"}},
		{name: "only padding", values: []string{"Bearer =="}},
		{name: "non-ascii", values: []string{"Bearer tök"}},
		{name: "over the size cap", values: []string{"Bearer " + strings.Repeat("a", maxBearerLength+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBearer(tc.values)
			if !tc.ok {
				assert.Error(t, err)
				assert.Empty(t, got)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer  x==", "Basic x", "Bearer a b", "Bearer \x7f", "BEARER " + strings.Repeat("z", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := parseBearer([]string{header})
		if err != nil {
			if tok != "" {
				t.Fatalf("error with a token: %q", tok)
			}
			return
		}
		if tok == "" || len(tok) > maxBearerLength {
			t.Fatalf("accepted token of length %d", len(tok))
		}
		if !strings.EqualFold(header[:6], "bearer") || !strings.HasSuffix(header, tok) {
			t.Fatalf("token %q not taken from the end of %q", tok, header)
		}
		for _, r := range tok {
			if r <= ' ' || r >= 0x7f || r == ',' || r == '"' || r == ';' {
				t.Fatalf("token %q holds %q", tok, r)
			}
		}
		// What is accepted round-trips through a canonical header.
		again, err := parseBearer([]string{"Bearer " + tok})
		if err != nil || again != tok {
			t.Fatalf("canonical form of %q rejected: %v", tok, err)
		}
	})
}
