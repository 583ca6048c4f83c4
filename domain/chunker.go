package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Defaults of a Chunker's zero fields, in runes.
const (
	DefaultChunkSize    = 1000
	DefaultChunkOverlap = 150
)

// Chunker splits document text into chunks for embedding. Size and Overlap count runes
// (Unicode code points), never bytes.
//
// Split normalises line endings (CRLF and CR become LF) and blank lines, replaces invalid
// UTF-8 with U+FFFD, then packs whole words into chunks of at most Size runes, ending
// each chunk at the strongest boundary available in its second half: a paragraph break,
// else a sentence end, else a line break, else a space. A word longer than Size is cut
// between grapheme clusters (a base rune with its combining marks, ZWJ sequences, flag
// pairs), so the only chunk longer than Size is a single cluster longer than Size.
// Each chunk after the first starts with at most Overlap runes of the previous chunk's
// tail, cut at a word boundary and preferably at a sentence start.
//
// Every chunk is a non-empty slice of the normalised text, trimmed of surrounding
// space, and every non-space rune of the text lies in at least one chunk.
type Chunker struct {
	// Size is the most runes in a chunk; zero or less means DefaultChunkSize.
	Size int
	// Overlap is the most runes a chunk repeats from the previous one. Zero means none,
	// less than zero means DefaultChunkOverlap; it is clamped to Size/2.
	Overlap int
}

// boundary is the strength of the gap before an atom; a chunk prefers to end before
// the strongest one.
type boundary uint8

const (
	breakNone boundary = iota // inside an over-long word
	breakWord
	breakLine
	breakSentence
	breakParagraph
)

// atom is an unbreakable run of text: a word, or a piece of an over-long word.
type atom struct {
	start, end   int // byte offsets in the normalised text
	rStart, rEnd int // rune offsets in the normalised text
	before       boundary
}

// span is one chunk as byte offsets in the normalised text.
type span struct{ start, end int }

// Split returns the chunks of text in order. Empty or whitespace-only text has none.
func (c Chunker) Split(text string) []string {
	norm, spans := c.split(text)
	if len(spans) == 0 {
		return nil
	}
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = norm[s.start:s.end]
	}
	return out
}

func (c Chunker) settings() (size, overlap int) {
	size, overlap = c.Size, c.Overlap
	if size <= 0 {
		size = DefaultChunkSize
	}
	if overlap < 0 {
		overlap = DefaultChunkOverlap
	}
	return size, min(overlap, size/2)
}

func (c Chunker) split(text string) (string, []span) {
	size, overlap := c.settings()
	norm := normalizeText(text)
	atoms := splitAtoms(norm, size)
	return norm, packAtoms(atoms, size, overlap)
}

// normalizeText makes text valid UTF-8 with LF line endings, trims trailing space of
// every line and keeps at most one blank line between paragraphs.
func normalizeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = lineEndings.Replace(s)
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRightFunc(line, unicode.IsSpace)
		if line == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
			if blank > 0 {
				b.WriteString("\n")
			}
		}
		blank = 0
		b.WriteString(line)
	}
	return b.String()
}

var lineEndings = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u0085", "\n", "\u2029", "\n\n")

// packAtoms groups atoms into spans of at most size runes with the given overlap.
func packAtoms(atoms []atom, size, overlap int) []span {
	var out []span
	for s, firstNew := 0, 0; s < len(atoms); {
		e := s
		for e+1 < len(atoms) && atoms[e+1].rEnd-atoms[s].rStart <= size {
			e++
		}
		if e == len(atoms)-1 {
			out = append(out, span{atoms[s].start, atoms[e].end})
			break
		}
		j := bestBreak(atoms, s, max(s, firstNew), e, size)
		out = append(out, span{atoms[s].start, atoms[j].end})
		s, firstNew = overlapStart(atoms, s, j, size, overlap), j+1
	}
	return out
}

// bestBreak picks the last atom j in [lo, e] of the chunk starting at atom s: the one
// followed by the strongest boundary among those that fill at least half the chunk,
// the latest on ties.
func bestBreak(atoms []atom, s, lo, e, size int) int {
	best := e
	for j := e; j >= lo; j-- {
		if j < e && atoms[j].rEnd-atoms[s].rStart < size/2 {
			break
		}
		if atoms[j+1].before > atoms[best+1].before {
			best = j
		}
	}
	return best
}

// overlapStart returns the first atom of the chunk after the one ending at atom j: the
// earliest atom k > s whose tail k..j fits in overlap runes and leaves room for atom j+1,
// preferring the strongest boundary before k. Without such an atom it is j+1.
func overlapStart(atoms []atom, s, j, size, overlap int) int {
	best := j + 1
	for k := j; k > s && atoms[j].rEnd-atoms[k].rStart <= overlap; k-- {
		if atoms[j+1].rEnd-atoms[k].rStart > size {
			break
		}
		if best == j+1 || atoms[k].before >= atoms[best].before {
			best = k
		}
	}
	return best
}

// splitAtoms cuts the normalised text into atoms, none longer than size runes unless it
// is a single grapheme cluster.
func splitAtoms(norm string, size int) []atom {
	var atoms []atom
	runeAt, prevEnd := 0, 0
	i := 0
	for i < len(norm) {
		r, n := utf8.DecodeRuneInString(norm[i:])
		if unicode.IsSpace(r) {
			i += n
			runeAt++
			continue
		}
		ws, wr := i, runeAt
		for i < len(norm) {
			r, n = utf8.DecodeRuneInString(norm[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += n
			runeAt++
		}
		before := gapBoundary(norm[prevEnd:ws], len(atoms) == 0)
		if len(atoms) > 0 && before < breakSentence && endsSentence(norm[atoms[len(atoms)-1].start:atoms[len(atoms)-1].end]) && !startsLower(norm[ws:i]) {
			before = breakSentence
		}
		atoms = appendWord(atoms, norm, ws, i, wr, before, size)
		prevEnd = i
	}
	return atoms
}

func gapBoundary(gap string, first bool) boundary {
	switch n := strings.Count(gap, "\n"); {
	case first || n >= 2:
		return breakParagraph
	case n == 1:
		return breakLine
	default:
		return breakWord
	}
}

// appendWord adds the word norm[start:end] (starting at rune offset r0) as atoms: it is
// cut after CJK sentence terminators, and pieces longer than size between clusters.
func appendWord(atoms []atom, norm string, start, end, r0 int, before boundary, size int) []atom {
	for start < end {
		cut := cjkSentenceEnd(norm[start:end])
		piece := norm[start : start+cut]
		atoms = appendPieces(atoms, piece, start, r0, before, size)
		start += cut
		r0 += utf8.RuneCountInString(piece)
		before = breakSentence
	}
	return atoms
}

// cjkSentenceEnd returns the byte length of w up to and including its first CJK sentence
// terminator and the closing marks after it, or len(w).
func cjkSentenceEnd(w string) int {
	for i, r := range w {
		if r != '。' && r != '！' && r != '？' {
			continue
		}
		j := i + utf8.RuneLen(r)
		for j < len(w) {
			c, n := utf8.DecodeRuneInString(w[j:])
			if !isCloser(c) {
				break
			}
			j += n
		}
		return j
	}
	return len(w)
}

// appendPieces adds w (at byte offset start, rune offset r0) as one atom, or as pieces of
// at most size runes cut between grapheme clusters when it is longer.
func appendPieces(atoms []atom, w string, start, r0 int, before boundary, size int) []atom {
	total := utf8.RuneCountInString(w)
	if total <= size {
		return append(atoms, atom{start: start, end: start + len(w), rStart: r0, rEnd: r0 + total, before: before})
	}
	pieceStart, pieceRunes, lastCut, lastCutRunes := 0, 0, 0, 0
	var prev rune
	regional := 0
	for i, r := range w {
		if i > 0 && !joined(prev, r, regional) {
			lastCut, lastCutRunes = i, pieceRunes
		}
		if isRegional(r) {
			regional++
		} else {
			regional = 0
		}
		if pieceRunes+1 > size && lastCut > pieceStart {
			atoms = append(atoms, atom{start: start + pieceStart, end: start + lastCut, rStart: r0, rEnd: r0 + lastCutRunes, before: before})
			r0 += lastCutRunes
			pieceRunes -= lastCutRunes
			pieceStart, lastCutRunes, before = lastCut, 0, breakNone
		}
		pieceRunes++
		prev = r
	}
	return append(atoms, atom{start: start + pieceStart, end: start + len(w), rStart: r0, rEnd: r0 + pieceRunes, before: before})
}

// joined reports whether r continues the grapheme cluster of prev (an approximation of
// UAX #29 that covers combining marks, ZWJ sequences, emoji modifiers, tag sequences,
// Hangul jamo and regional-indicator pairs). regional counts the regional indicators
// immediately before r.
func joined(prev, r rune, regional int) bool {
	switch {
	case prev == '\u200d', r == '\u200d':
		return true
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
		return true
	case r >= 0x1F3FB && r <= 0x1F3FF, r >= 0xE0020 && r <= 0xE007F, r >= 0x1160 && r <= 0x11FF:
		return true
	case isRegional(r) && regional%2 == 1:
		return true
	}
	return false
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isCloser(r rune) bool { return strings.ContainsRune("\"')]}»”’」』）", r) }

func isTerminator(r rune) bool { return strings.ContainsRune(".!?…。！？‼⁇⁈⁉", r) }

// endsSentence reports whether word ends with a sentence terminator, ignoring closing
// quotes and brackets after it.
func endsSentence(word string) bool {
	word = strings.TrimRightFunc(word, isCloser)
	r, _ := utf8.DecodeLastRuneInString(word)
	return isTerminator(r)
}

func startsLower(word string) bool {
	for _, r := range word {
		if unicode.IsLetter(r) {
			return unicode.IsLower(r)
		}
		if !unicode.IsPunct(r) {
			return false
		}
	}
	return false
}

// SplitSentences returns the sentences of text in order, trimmed, using the Chunker's
// sentence rules: a terminator (. ! ? … and CJK ones) before a word that does not start
// in lower case, a line break or a paragraph break.
func SplitSentences(text string) []string {
	norm := normalizeText(text)
	atoms := splitAtoms(norm, len(norm)+1)
	var out []string
	start := 0
	for i := 1; i <= len(atoms); i++ {
		if i == len(atoms) || atoms[i].before >= breakLine {
			out = append(out, norm[atoms[start].start:atoms[i-1].end])
			start = i
		}
	}
	return out
}
