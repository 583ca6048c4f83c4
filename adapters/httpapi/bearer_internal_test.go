package httpapi

import (
	"regexp"
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

// b64TokenGrammar is RFC 6750's b64token, the reference for isB64Token.
var b64TokenGrammar = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// TestIsB64TokenMatchesTheGrammar puts every byte value at every position of the
// unrolled loop and of its tail, before and after padding.
func TestIsB64TokenMatchesTheGrammar(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31} {
			for pos := 0; pos <= n; pos++ {
				for _, pad := range []string{"", "=", "=="} {
					s := strings.Repeat("a", pos) + string(rune(0)) + strings.Repeat("b", n-pos) + pad
					s = s[:pos] + string([]byte{byte(c)}) + s[pos+1:]
					if got, want := isB64Token(s), b64TokenGrammar.MatchString(s); got != want {
						t.Fatalf("isB64Token(%q) = %v, want %v", s, got, want)
					}
				}
			}
		}
	}
	for _, s := range []string{"", "=", "==", "a=b", "a==b=", "=a"} {
		assert.Equal(t, b64TokenGrammar.MatchString(s), isB64Token(s), s)
	}
}

func FuzzIsB64Token(f *testing.F) {
	for _, s := range []string{"abc", "a.b.c==", "=", "a=b", "tök", strings.Repeat("x", 40) + " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isB64Token(s), b64TokenGrammar.MatchString(s); got != want {
			t.Fatalf("isB64Token(%q) = %v, want %v", s, got, want)
		}
	})
}
