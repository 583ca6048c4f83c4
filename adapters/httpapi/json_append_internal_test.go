package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeLikeResponses is what every response body goes through (marshalJSON), less
// its trailing newline.
func encodeLikeResponses(t *testing.T, v any) string {
	t.Helper()
	b, err := marshalJSON(v)
	require.NoError(t, err)
	return strings.TrimSuffix(string(b), "\n")
}

var jsonStringCases = []string{
	"",
	"plain ascii",
	"ivy@acme.test",
	`quote " and backslash \ and slash /`,
	"html <b>&amp;</b> stays readable",
	"controls \b\f\n\r\t\x00\x01\x1f\x7f",
	"äöü ✓ 漢字 🙂",
	"separators \u2028 and \u2029 and \u2027 \u202a",
	"invalid \xff\xfe utf-8 \xc3 and a cut rune \xe2\x82",
	"surrogate half \xed\xa0\x80",
	strings.Repeat("long ", 100),
}

// decodedString is what a JSON client reads from an encoded string. Two encoders may
// spell the same value differently (Go releases disagree on how invalid UTF-8 is
// written), so the tests compare what a client decodes, never the bytes.
func decodedString(t *testing.T, encoded []byte) string {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(encoded, &s), "valid JSON string: %s", encoded)
	return s
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonStringCases {
		t.Run(s, func(t *testing.T) {
			want := decodedString(t, []byte(encodeLikeResponses(t, s)))
			assert.Equal(t, want, decodedString(t, appendJSONString(nil, s)))
			appended := appendJSONString([]byte("x"), s)
			require.Equal(t, byte('x'), appended[0], "appends")
			assert.Equal(t, want, decodedString(t, appended[1:]), "appends")
		})
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		encoded := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(encoded, &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s, not a JSON string: %v", s, encoded, err)
		}
		if want := decodedString(t, []byte(encodeLikeResponses(t, s))); got != want {
			t.Fatalf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
		}
	})
}

func TestAppendJSONTimeMatchesEncodingJSON(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(2026, 11, 29, 23, 2, 0, 0, time.UTC),
		time.Date(2026, 11, 29, 23, 2, 0, 123456789, time.UTC),
		time.Date(2026, 11, 29, 23, 2, 0, 120000000, time.FixedZone("", 5*3600+30*60)),
		time.Now(),
	} {
		got, err := appendJSONTime(nil, tm)
		require.NoError(t, err)
		assert.Equal(t, encodeLikeResponses(t, tm), string(got))
	}
	_, err := appendJSONTime(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.Error(t, err, "a year encoding/json refuses is refused")
}
