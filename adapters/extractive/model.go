// Package extractive is tenantry's offline "extractive" chat model: no language model
// at all. It answers with the sentences of the retrieved passages that best match the
// user's question, quoted verbatim with citation markers, so that a new tenant gets
// grounded answers with no network and no key.
//
// It imports domain, ports and the standard library only.
package extractive

import (
	"context"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ModelName is the Model of every final delta.
const ModelName = "extractive"

// NotFound is the whole answer when there are no passages to answer from.
const NotFound = "I could not find this in the tenant's documents."

// Config tunes the answers; the zero value is ready to use.
type Config struct {
	// MaxQuotes is the most sentences quoted in one answer; zero or less means 3.
	MaxQuotes int
	// WordsPerDelta is how many words each streamed delta carries; zero or less means 3.
	WordsPerDelta int
}

// Model is the extractive answerer. It reads the question from the last user message
// and the passages from ChatParams.Passages; passage i is cited as [i+1], matching the
// order the passages were given in. It is safe for concurrent use.
//
// Usage counts approximate tokens as whitespace-separated words: PromptTokens over
// every message, CompletionTokens over the answer.
type Model struct {
	maxQuotes     int
	wordsPerDelta int
}

var _ ports.ChatModel = (*Model)(nil)

// New returns an extractive model.
func New(cfg Config) *Model {
	if cfg.MaxQuotes <= 0 {
		cfg.MaxQuotes = 3
	}
	if cfg.WordsPerDelta <= 0 {
		cfg.WordsPerDelta = 3
	}
	return &Model{maxQuotes: cfg.MaxQuotes, wordsPerDelta: cfg.WordsPerDelta}
}

// Stream yields the answer in pieces of a few words, then a final delta with Done,
// Model "extractive", FinishReason "stop" (or "length" when p.MaxTokens cut the answer)
// and Usage. Before each delta it checks ctx; once ctx is done the sequence ends with
// ctx's error and no Done delta. The caller may stop iterating at any point.
func (m *Model) Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	return func(yield func(domain.Delta, error) bool) {
		answer := m.Answer(lastQuestion(msgs), p.Passages)
		finish := "stop"
		if p.MaxTokens > 0 {
			if cut, ok := truncateWords(answer, p.MaxTokens); ok {
				answer, finish = cut, "length"
			}
		}
		for piece := range pieces(answer, m.wordsPerDelta) {
			if err := ctx.Err(); err != nil {
				yield(domain.Delta{}, err)
				return
			}
			if !yield(domain.Delta{Text: piece}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(domain.Delta{}, err)
			return
		}
		yield(domain.Delta{
			Done:         true,
			FinishReason: finish,
			Model:        ModelName,
			Usage:        domain.Usage{PromptTokens: promptWords(msgs), CompletionTokens: countWords(answer)},
		}, nil)
	}
}

// Answer builds the whole answer text: the best-matching sentences as quotes, each
// followed by its passage's citation marker, best first. With no passages it is
// NotFound; when no sentence shares a word with the question it quotes the start of
// the first (best-ranked) passage.
func (m *Model) Answer(question string, passages []domain.Passage) string {
	if len(passages) == 0 {
		return NotFound
	}
	quotes := bestSentences(question, passages, m.maxQuotes)
	var b strings.Builder
	if len(quotes) == 0 {
		b.WriteString("The closest passage in the tenant's documents says:\n\n")
		quotes = leadSentences(passages[0], m.maxQuotes)
	} else {
		b.WriteString("From the tenant's documents:\n\n")
	}
	for i, q := range quotes {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("> ")
		b.WriteString(q.text)
		b.WriteString(" [")
		b.WriteString(strconv.Itoa(q.passage + 1))
		b.WriteString("]")
	}
	return b.String()
}

// quote is a sentence of passage number passage (0-based) with its match score.
type quote struct {
	text    string
	passage int
	order   int
	score   float64
}

// bestSentences returns up to n sentences that share words with the question, ranked
// by the summed inverse sentence frequency of the shared words, normalised by a gentle
// length penalty; ties keep passage order. A sentence repeated in several passages
// (chunk overlap) is quoted once, cited to its first passage.
func bestSentences(question string, passages []domain.Passage, n int) []quote {
	asked := set(words(question))
	var cands []quote
	var cwords [][]string
	seen := make(map[string]bool)
	for i, p := range passages {
		for _, s := range domain.SplitSentences(p.Text) {
			if seen[s] {
				continue
			}
			seen[s] = true
			cands = append(cands, quote{text: s, passage: i, order: len(cands)})
			cwords = append(cwords, words(s))
		}
	}
	df := make(map[string]int)
	for _, ws := range cwords {
		for w := range set(ws) {
			if asked[w] {
				df[w]++
			}
		}
	}
	var out []quote
	for i, q := range cands {
		for w := range set(cwords[i]) {
			if asked[w] {
				q.score += math.Log(1 + float64(len(cands))/float64(df[w]))
			}
		}
		if q.score > 0 {
			q.score /= math.Sqrt(math.Sqrt(float64(len(cwords[i]) + 1)))
			out = append(out, q)
		}
	}
	slices.SortStableFunc(out, func(a, b quote) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		default:
			return a.order - b.order
		}
	})
	return out[:min(n, len(out))]
}

func leadSentences(p domain.Passage, n int) []quote {
	var out []quote
	for _, s := range domain.SplitSentences(p.Text) {
		if len(out) == n {
			break
		}
		out = append(out, quote{text: s})
	}
	if len(out) == 0 {
		out = append(out, quote{text: strings.TrimSpace(p.Text)})
	}
	return out
}

func lastQuestion(msgs []domain.ChatMessage) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == domain.MessageUser {
			return msgs[i].Content
		}
	}
	return ""
}

// words returns the match keys of s: lower-cased words that are not stop words, cut
// to a stem, and character bigrams of runs of CJK script (written without spaces).
func words(s string) []string {
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	var out []string
	for _, f := range fields {
		switch {
		case stopWords[f]:
		case isCJK(f):
			out = append(out, bigrams(f)...)
		default:
			out = append(out, stem(f))
		}
	}
	return out
}

// stem strips a few English inflections and keeps at most seven letters, so that
// "refunds", "refunded" and "refund", or "reimbursed" and "reimbursements", meet.
func stem(w string) string {
	for _, suffix := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suffix)+2 && strings.HasSuffix(w, suffix) {
			w = strings.TrimSuffix(w, suffix)
			break
		}
	}
	if r := []rune(w); len(r) > 7 {
		return string(r[:7])
	}
	return w
}

func isCJK(w string) bool {
	for _, r := range w {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			return true
		}
	}
	return false
}

func bigrams(w string) []string {
	r := []rune(w)
	if len(r) < 2 {
		return []string{w}
	}
	out := make([]string, 0, len(r)-1)
	for i := 0; i+1 < len(r); i++ {
		out = append(out, string(r[i:i+2]))
	}
	return out
}

func set(ws []string) map[string]bool {
	out := make(map[string]bool, len(ws))
	for _, w := range ws {
		out[w] = true
	}
	return out
}

var stopWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`a about all also an and any are as at be by can could
		did do does for from had has have how i if in into is it its me my of on or our
		please shall should so tell than that the their them then there these they this to
		was we were what when where which who whom why will with would you your`) {
		m[w] = true
	}
	return m
}()

// pieces yields text in groups of n words, each group carrying the whitespace before
// its next word, so that the pieces concatenate to text exactly.
func pieces(text string, n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		start, count, inWord := 0, 0, false
		for i, r := range text {
			space := unicode.IsSpace(r)
			if !space && !inWord {
				if count == n {
					if !yield(text[start:i]) {
						return
					}
					start, count = i, 0
				}
				count++
			}
			inWord = !space
		}
		if start < len(text) {
			yield(text[start:])
		}
	}
}

// truncateWords keeps the first max words of text and reports whether it cut any.
func truncateWords(text string, max int) (string, bool) {
	count, inWord := 0, false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if count == max {
				return strings.TrimRightFunc(text[:i], unicode.IsSpace), true
			}
			count++
		}
		inWord = !space
	}
	return text, false
}

func countWords(s string) int { return len(strings.Fields(s)) }

func promptWords(msgs []domain.ChatMessage) int {
	n := 0
	for _, m := range msgs {
		n += countWords(m.Content)
	}
	return n
}
