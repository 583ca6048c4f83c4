package lexical

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// Terms returns the index terms of text, in order, with repeats: English analysis as
// Lucene's EnglishAnalyzer does it, close enough to rank alike.
//
//   - Tokens are runs of letters, digits and combining marks (Unicode-aware); an
//     apostrophe between letters stays inside a word, a '.' or ',' between digits
//     inside a number ("2.5", "1,000" which becomes "1000").
//   - Tokens are lower-cased; a possessive "'s" is dropped, other apostrophes removed.
//   - Lucene's English stop words are dropped.
//   - Words are reduced to their Snowball English (Porter2) stem; numbers are kept.
//   - Runs of Han, Hiragana, Katakana and Hangul, written without spaces, become
//     overlapping character bigrams (a lone character stays a unigram).
//
// Terms is safe for concurrent use; stems of frequent words are cached.
func Terms(text string) []string {
	out := make([]string, 0, len(text)/6)
	tokenize(text, func(tok string, cjk bool) {
		if cjk {
			out = appendBigrams(out, tok)
			return
		}
		if t, ok := normalizeWord(tok); ok {
			out = append(out, t)
		}
	})
	return out
}

// QueryTerms returns the terms of a query: Terms less the words that only shape a
// question (interrogatives, auxiliaries, pronouns: "how", "do", "I", "my"...). They name
// no topic, yet in a small tenant's index they are rare enough to outweigh the words
// that do. A query made only of such words keeps them.
func QueryTerms(query string) []string {
	terms := Terms(query)
	kept := make([]string, 0, len(terms))
	for _, t := range terms {
		if !questionWords[t] {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		return terms
	}
	return kept
}

// questionWords are the stems of the words QueryTerms drops.
var questionWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`how what when where which who whom whose why whether
		do does did doing done am been being have has had having can could may might must
		shall should would i me my mine myself we us our ours you your yours he him his she
		her its them someone anyone anything something please tell`) {
		m[stem(w)] = true
	}
	return m
}()

// stopWords are Lucene's EnglishAnalyzer stop words.
var stopWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`a an and are as at be but by for if in into is it no not of
		on or such that the their then there these they this to was will with`) {
		m[w] = true
	}
	return m
}()

// IsStopWord reports whether the lower-cased word w is dropped by Terms.
func IsStopWord(w string) bool { return stopWords[w] }

// normalizeWord lower-cases tok, drops a possessive and other apostrophes, and returns
// its stem, or false for a stop word.
func normalizeWord(tok string) (string, bool) {
	w := strings.ToLower(tok)
	if strings.ContainsAny(w, "'’") {
		w = strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")
		w = strings.NewReplacer("'", "", "’", "").Replace(w)
	}
	if strings.Contains(w, ",") {
		w = strings.ReplaceAll(w, ",", "")
	}
	if w == "" || stopWords[w] {
		return "", false
	}
	return stem(w), true
}

// stemCache keeps the stems of words already seen. Vocabularies are Zipfian, so a
// bounded map catches most tokens; when full it is simply cleared.
var stemCache = struct {
	sync.RWMutex
	m map[string]string
}{m: make(map[string]string)}

const stemCacheMax = 1 << 17

func stem(w string) string {
	if !hasLetter(w) {
		return w
	}
	stemCache.RLock()
	s, ok := stemCache.m[w]
	stemCache.RUnlock()
	if ok {
		return s
	}
	s = english.Stem(w, true)
	stemCache.Lock()
	if len(stemCache.m) >= stemCacheMax {
		clear(stemCache.m)
	}
	stemCache.m[strings.Clone(w)] = s
	stemCache.Unlock()
	return s
}

func hasLetter(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// tokenize calls emit with each token of text and whether it is a run of CJK script.
func tokenize(text string, emit func(tok string, cjk bool)) {
	start, kind := -1, tokNone
	flush := func(end int) {
		if start >= 0 {
			emit(text[start:end], kind == tokCJK)
		}
		start, kind = -1, tokNone
	}
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		k := runeKind(r)
		switch {
		case k == tokNone && start >= 0 && kind == tokWord && joins(text, i, r, n):
			// an apostrophe or a number separator inside a token
		case k == tokNone:
			flush(i)
		case start < 0:
			start, kind = i, k
		case k != kind:
			flush(i)
			start, kind = i, k
		}
		i += n
	}
	flush(len(text))
}

type tokKind uint8

const (
	tokNone tokKind = iota
	tokWord
	tokCJK
)

func runeKind(r rune) tokKind {
	switch {
	case r < utf8.RuneSelf:
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return tokWord
		}
		return tokNone
	case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
		return tokCJK
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc):
		return tokWord
	}
	return tokNone
}

// joins reports whether the separator r (n bytes at i) continues the word before it:
// an apostrophe between letters, or '.' or ',' between digits.
func joins(text string, i int, r rune, n int) bool {
	if i+n >= len(text) {
		return false
	}
	prev, _ := utf8.DecodeLastRuneInString(text[:i])
	next, _ := utf8.DecodeRuneInString(text[i+n:])
	switch r {
	case '\'', '’':
		return unicode.IsLetter(prev) && unicode.IsLetter(next)
	case '.', ',':
		return isDigit(prev) && isDigit(next)
	}
	return false
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func appendBigrams(out []string, run string) []string {
	if utf8.RuneCountInString(run) < 2 {
		return append(out, run)
	}
	prev := 0
	_, first := utf8.DecodeRuneInString(run)
	for i := first; i < len(run); {
		_, n := utf8.DecodeRuneInString(run[i:])
		out = append(out, run[prev:i+n])
		prev, i = i, i+n
	}
	return out
}
