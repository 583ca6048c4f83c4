package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// textChunk spells a text delta's chunk by hand; it must mean what encoding/json writes
// for the same chunk.
func TestTextChunkIsTheChunkEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	m := newOpenAIMeta("tenantry-acme\"<>&\u2028")
	for _, text := range []string{
		"Hello", "", ` "quoted" and \back\slashed `, "line\nbreak\ttab\r\u0000\u001f",
		"<script>&amp;</script>", "Café ☕ 🚀 \u2028\u2029", "bad \xff\xfe bytes",
	} {
		got := m.textChunk(text)
		want, err := marshalJSON(m.chunk(openAIDelta{Content: &text}, nil))
		require.NoError(t, err)
		// Decoded values, not bytes: Go 1.27's encoding/json writes invalid UTF-8
		// differently (as json_append_internal_test.go notes).
		var gotV, wantV any
		require.NoError(t, json.Unmarshal([]byte(got), &gotV), "%q is JSON", got)
		require.NoError(t, json.Unmarshal(want, &wantV))
		assert.Equal(t, wantV, gotV, "chunk of %q", text)
		assert.NotContains(t, got, "\n", "one SSE data line")
	}
}

// BenchmarkTextChunk compares a text chunk spelled by textChunk with the same chunk
// through encoding/json, once per streamed token on /v1.
func BenchmarkTextChunk(b *testing.B) {
	m := newOpenAIMeta("tenantry-acme")
	text := " the warranty"
	b.Run("textChunk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = m.textChunk(text)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalJSON(m.chunk(openAIDelta{Content: &text}, nil)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
