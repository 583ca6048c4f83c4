package domain

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChunkerSplit(t *testing.T) {
	t.Parallel()
	sentence := "The quick brown fox jumps over the lazy dog. "
	tests := []struct {
		name    string
		chunker Chunker
		text    string
		want    []string // nil: only the invariants are checked
		check   func(t *testing.T, got []string)
	}{
		{name: "empty", text: "", check: wantNone},
		{name: "whitespace only", text: " \t\r\n\r\n \u00a0\u2029 ", check: wantNone},
		{name: "short text is one trimmed chunk", text: "  Hello, world.  \n", want: []string{"Hello, world."}},
		{
			name: "CRLF and CR become LF, blank lines collapse",
			text: "line one\r\nline two\r\n\r\n\r\n\r\nnext paragraph\rlast line",
			want: []string{"line one\nline two\n\nnext paragraph\nlast line"},
		},
		{
			name:    "small paragraphs are packed and split at paragraph breaks",
			chunker: Chunker{Size: 40},
			text:    "Alpha beta gamma.\n\nDelta epsilon zeta.\n\nEta theta iota kappa.",
			want:    []string{"Alpha beta gamma.\n\nDelta epsilon zeta.", "Eta theta iota kappa."},
		},
		{
			name:    "paragraph break beats a later sentence end",
			chunker: Chunker{Size: 60},
			text:    "The first paragraph has some words.\n\nSecond one. It goes on and on. Until the end.",
			want:    []string{"The first paragraph has some words.", "Second one. It goes on and on. Until the end."},
		},
		{
			name:    "one huge paragraph splits at sentence ends",
			chunker: Chunker{Size: 100},
			text:    strings.Repeat(sentence, 200),
			check: func(t *testing.T, got []string) {
				require.Greater(t, len(got), 50)
				for _, c := range got[:len(got)-1] {
					assert.True(t, strings.HasSuffix(c, "dog."), "chunk %q does not end a sentence", c)
					assert.True(t, strings.HasPrefix(c, "The quick"), "chunk %q does not start a sentence", c)
				}
			},
		},
		{
			name:    "abbreviation before lower case is not a sentence end",
			chunker: Chunker{Size: 30},
			text:    "Use e.g. apples here. Then pears go there.",
			want:    []string{"Use e.g. apples here.", "Then pears go there."},
		},
		{
			name:    "a sentence longer than size splits between words",
			chunker: Chunker{Size: 20},
			text:    strings.Repeat("word ", 100),
			check: func(t *testing.T, got []string) {
				for _, c := range got {
					assert.LessOrEqual(t, utf8.RuneCountInString(c), 20)
					for _, w := range strings.Fields(c) {
						assert.Equal(t, "word", w)
					}
				}
			},
		},
		{
			name:    "an over-long word is cut into pieces of at most size runes",
			chunker: Chunker{Size: 10},
			text:    "short " + strings.Repeat("x", 35) + " tail",
			want:    []string{"short", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx tail"},
		},
		{
			name:    "multi-byte runes are never split",
			chunker: Chunker{Size: 7},
			text:    "日本語のテキストはとても長いです",
			want:    []string{"日本語のテキス", "トはとても長い", "です"},
		},
		{
			name:    "combining marks stay with their base",
			chunker: Chunker{Size: 3},
			text:    strings.Repeat("e\u0301", 10),
			check: func(t *testing.T, got []string) {
				for _, c := range got {
					first, _ := utf8.DecodeRuneInString(c)
					assert.Equal(t, 'e', first, "chunk %q starts with a combining mark", c)
					assert.True(t, strings.HasSuffix(c, "\u0301"), "chunk %q ends before its mark", c)
				}
			},
		},
		{
			name:    "emoji ZWJ sequences and flags stay whole",
			chunker: Chunker{Size: 8},
			text:    strings.Repeat("👩\u200d👩\u200d👧🇫🇷", 4),
			check: func(t *testing.T, got []string) {
				require.Greater(t, len(got), 1)
				for _, c := range got {
					rest := strings.ReplaceAll(strings.ReplaceAll(c, "👩\u200d👩\u200d👧", ""), "🇫🇷", "")
					assert.Empty(t, rest, "chunk %q cuts a cluster", c)
				}
			},
		},
		{
			name:    "a cluster longer than size is kept whole",
			chunker: Chunker{Size: 2},
			text:    "a\u0301\u0302\u0303 b",
			want:    []string{"a\u0301\u0302\u0303", "b"},
		},
		{
			name:    "CJK sentences split after their terminator without spaces",
			chunker: Chunker{Size: 8},
			text:    "今日は晴れです。明日は雨です。",
			want:    []string{"今日は晴れです。", "明日は雨です。"},
		},
		{
			name: "invalid UTF-8 becomes U+FFFD",
			text: "ok \xff\xfe end",
			want: []string{"ok \uFFFD end"},
		},
		{
			name:    "zero chunker uses the defaults",
			chunker: Chunker{},
			text:    strings.Repeat("abcd ", 500),
			check: func(t *testing.T, got []string) {
				require.Len(t, got, 3)
				assert.LessOrEqual(t, utf8.RuneCountInString(got[0]), DefaultChunkSize)
				assert.Greater(t, utf8.RuneCountInString(got[0]), DefaultChunkSize-5)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.chunker.Split(tc.text)
			checkChunks(t, tc.chunker, tc.text)
			if tc.want != nil {
				assert.Equal(t, tc.want, got)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func wantNone(t *testing.T, got []string) {
	t.Helper()
	assert.Empty(t, got)
}

func TestChunkerOverlap(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("one two three four five six seven eight nine ten ", 30)
	tests := []struct {
		name    string
		chunker Chunker
		want    int // the exact overlap in runes between neighbours
	}{
		{name: "no overlap", chunker: Chunker{Size: 50, Overlap: 0}, want: 0},
		{name: "overlap of whole words", chunker: Chunker{Size: 50, Overlap: 12}, want: -1},
		{name: "overlap clamped to half the size", chunker: Chunker{Size: 40, Overlap: 1000}, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, overlap := tc.chunker.settings()
			norm, spans := tc.chunker.split(text)
			require.Greater(t, len(spans), 5)
			for i := 1; i < len(spans); i++ {
				prev, cur := spans[i-1], spans[i]
				if tc.want == 0 {
					assert.Greater(t, cur.start, prev.end, "chunks %d and %d share text", i-1, i)
					continue
				}
				require.Less(t, cur.start, prev.end, "chunks %d and %d do not overlap", i-1, i)
				shared := norm[cur.start:prev.end]
				n := utf8.RuneCountInString(shared)
				assert.LessOrEqual(t, n, overlap)
				assert.Greater(t, n, overlap/2-len("seven"), "overlap %q is much shorter than allowed", shared)
				assert.True(t, strings.HasPrefix(norm[cur.start:cur.end], shared))
				assert.True(t, strings.HasSuffix(norm[prev.start:prev.end], shared))
				assert.True(t, unicode.IsSpace(rune(norm[cur.start-1])), "overlap %q starts inside a word", shared)
			}
			checkChunks(t, tc.chunker, text)
		})
	}
}

func TestChunkerOverlapPrefersSentenceStart(t *testing.T) {
	t.Parallel()
	text := "Aaaa bbbb cccc dddd. Eeee ffff. Gggg hhhh iiii jjjj kkkk."
	got := Chunker{Size: 32, Overlap: 16}.Split(text)
	// The 16-rune window holds "dddd. Eeee ffff.", but the overlap starts at
	// the sentence "Eeee ffff." rather than mid-sentence.
	assert.Equal(t, []string{"Aaaa bbbb cccc dddd. Eeee ffff.", "Eeee ffff. Gggg hhhh iiii jjjj", "hhhh iiii jjjj kkkk."}, got)
}

func TestSplitSentences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "empty", text: "  ", want: nil},
		{name: "terminators", text: "One. Two! Three? (Four.) Five…", want: []string{"One.", "Two!", "Three?", "(Four.)", "Five…"}},
		{name: "abbreviation", text: "See e.g. this. Done.", want: []string{"See e.g. this.", "Done."}},
		{name: "lines and paragraphs", text: "- item one\r\n- item two\n\nNext", want: []string{"- item one", "- item two", "Next"}},
		{name: "CJK", text: "你好。再见！", want: []string{"你好。", "再见！"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, SplitSentences(tc.text))
		})
	}
}

// checkChunks asserts the Chunker's invariants for text: chunks are non-empty trimmed
// valid UTF-8 slices of the normalised text, in order, covering every non-space rune,
// none longer than Size unless one grapheme cluster, overlaps at most Overlap runes.
func checkChunks(t *testing.T, c Chunker, text string) {
	t.Helper()
	size, overlap := c.settings()
	norm, spans := c.split(text)
	got := c.Split(text)
	require.Len(t, got, len(spans))
	assert.Equal(t, nonSpace(strings.ToValidUTF8(text, "\uFFFD")), nonSpace(norm), "normalising changed more than whitespace")
	covered := 0
	for i, s := range spans {
		chunk := norm[s.start:s.end]
		require.Equal(t, chunk, got[i])
		require.NotEmpty(t, chunk)
		require.True(t, utf8.ValidString(chunk))
		require.Equal(t, strings.TrimSpace(chunk), chunk, "chunk %d is not trimmed", i)
		if n := utf8.RuneCountInString(chunk); n > size {
			require.Equal(t, 1, clusters(chunk), "chunk %d has %d runes > %d and several clusters", i, n, size)
		}
		require.Empty(t, strings.TrimSpace(norm[min(covered, s.start):s.start]), "text before chunk %d is not covered", i)
		if i > 0 {
			require.Greater(t, s.start, spans[i-1].start, "chunk %d makes no progress", i)
			if s.start < spans[i-1].end {
				require.LessOrEqual(t, utf8.RuneCountInString(norm[s.start:spans[i-1].end]), overlap)
			}
		}
		covered = max(covered, s.end)
	}
	require.Empty(t, strings.TrimSpace(norm[covered:]), "the text's tail is not covered")
}

func nonSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func clusters(s string) int {
	n, regional := 0, 0
	var prev rune
	for i, r := range s {
		if i == 0 || !joined(prev, r, regional) {
			n++
		}
		if isRegional(r) {
			regional++
		} else {
			regional = 0
		}
		prev = r
	}
	return n
}

func FuzzChunker(f *testing.F) {
	f.Add("Hello world. This is a test.\r\n\r\nSecond paragraph!", 20, 5)
	f.Add(strings.Repeat("e\u0301", 40)+" 👩\u200d👩\u200d👧 🇫🇷🇩🇪", 3, 1)
	f.Add("今日は晴れです。明日は雨です。", 4, 2)
	f.Add("\xff\xfe\r\r\n \u2029x", 1, 0)
	f.Add(strings.Repeat("a b. ", 50), 7, 100)
	f.Fuzz(func(t *testing.T, text string, size, overlap int) {
		if len(text) > 1<<14 {
			t.Skip("keep inputs small")
		}
		c := Chunker{Size: size % 300, Overlap: overlap % 300}
		checkChunks(t, c, text)
	})
}

func BenchmarkChunkerSplit(b *testing.B) {
	para := strings.Repeat("Tenantry splits documents into chunks at paragraph and sentence boundaries. ", 12)
	text := strings.Repeat(para+"\r\n\r\n", 1<<20/len(para))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if len(Chunker{}.Split(text)) == 0 {
			b.Fatal("no chunks")
		}
	}
}
