package lexical

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "lower-cased and stemmed (Snowball English)", text: "Running STUDIES Connections happiness generously",
			want: []string{"run", "studi", "connect", "happi", "generous"}},
		{name: "possessive dropped, other apostrophes removed", text: "John's book isn't O’Reilly's",
			want: []string{"john", "book", "isnt", "oreilli"}},
		{name: "apostrophe outside a word separates", text: "'quoted' rock'n'roll",
			want: []string{"quot", "rocknrol"}},
		{name: "decimal and thousands kept whole, sentence dot not", text: "2.5 mg for 1,000 people, end. 1.2.3",
			want: []string{"2.5", "mg", "1000", "peopl", "end", "1.2.3"}},
		{name: "Lucene's stop words dropped", text: "The cat and the hat of a man is on it",
			want: []string{"cat", "hat", "man"}},
		{name: "only stop words", text: "to be or not to be", want: []string{}},
		{name: "Unicode letters and combining marks stay in the word", text: "Café naïve Москва e\u0301te\u0301",
			want: []string{"café", "naïv", "москва", "e\u0301te\u0301"}},
		{name: "punctuation and symbols separate", text: "state-of-the-art (CRISPR/Cas9) €5",
			want: []string{"state", "art", "crispr", "cas9", "5"}},
		{name: "CJK runs become overlapping bigrams", text: "東京都 한국어 カタカナ",
			want: []string{"東京", "京都", "한국", "국어", "カタ", "タカ", "カナ"}},
		{name: "a lone CJK character stays a unigram", text: "東", want: []string{"東"}},
		{name: "CJK beside Latin splits the token", text: "abc東京def",
			want: []string{"abc", "東京", "def"}},
		{name: "empty", text: "", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Terms(tc.text)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestQueryTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "question words dropped", query: "How do I reset my password?", want: []string{"reset", "password"}},
		{name: "inflected question words dropped too", query: "Who has been asking what does it cost?",
			want: []string{"ask", "cost"}},
		{name: "kept when nothing else is left", query: "how do I", want: []string{"how", "do", "i"}},
		{name: "stop words still dropped when question words are kept", query: "What is it?", want: []string{"what"}},
		{name: "only stop words finds no term", query: "is it the", want: []string{}},
		{name: "topic words only are unchanged", query: "refund policy 30 days", want: []string{"refund", "polici", "30", "day"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := QueryTerms(tc.query)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestIsStopWord(t *testing.T) {
	t.Parallel()
	assert.True(t, IsStopWord("the"))
	assert.True(t, IsStopWord("with"))
	assert.False(t, IsStopWord("how"), "question words are not stop words: Terms keeps them")
	assert.False(t, IsStopWord("The"), "IsStopWord takes a lower-cased word")
}

func TestTermsStemCacheAgreesWithFreshStems(t *testing.T) {
	t.Parallel()
	text := "connections connected connecting"
	first := Terms(text)
	assert.Equal(t, []string{"connect", "connect", "connect"}, first)
	assert.Equal(t, first, Terms(text), "a cached stem equals the computed one")
}
