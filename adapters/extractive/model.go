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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// ModelName is the Model of every final delta.
const ModelName = "extractive"

// NotFound is the whole answer when no passage has a sentence that shares a word with
// the question: saying so beats quoting noise.
const NotFound = "I could not find this in the tenant's documents."

// Config tunes the answers; the zero value is ready to use.
type Config struct {
	// MaxQuotes is the most sentences quoted in one answer; zero or less means 3.
	MaxQuotes int
	// WordsPerDelta is how many words each streamed delta carries; zero or less means 3.
	WordsPerDelta int
	// Terms turns text into match keys (lower-cased, stemmed, no stop words), the same
	// analysis the lexical index uses; nil means a plain built-in one.
	Terms func(string) []string
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
	terms         func(string) []string
	stop          map[string]bool // question words, as keys of terms
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
	if cfg.Terms == nil {
		cfg.Terms = words
	}
	stop := make(map[string]bool)
	for w := range stopWords {
		for _, k := range cfg.Terms(w) {
			stop[k] = true
		}
	}
	return &Model{maxQuotes: cfg.MaxQuotes, wordsPerDelta: cfg.WordsPerDelta, terms: cfg.Terms, stop: stop}
}

// keys returns the match keys of s: its terms without question words.
func (m *Model) keys(s string) []string {
	ts := m.terms(s)
	out := ts[:0]
	for _, t := range ts {
		if !m.stop[t] {
			out = append(out, t)
		}
	}
	return out
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

// Answer builds the whole answer text: the sentences that best answer the question,
// quoted, each followed by its passage's citation marker, best first. A sentence
// scores the inverse sentence frequency of the question's terms it holds; of equal
// scores the shorter sentence comes first. When the question asks for a duration (how long, how soon, when...), a price
// (how much, what does it cost...) or an amount (how many, what limit...), sentences
// that state one rank before those that do not. Headings are not sentences and list
// markers are dropped.
// With no sentence sharing a word with the question, the answer is NotFound.
func (m *Model) Answer(question string, passages []domain.Passage) string {
	quotes := m.bestSentences(question, passages, m.maxQuotes)
	if len(quotes) == 0 {
		return NotFound
	}
	var b strings.Builder
	b.WriteString("From the tenant's documents:\n\n")
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
	states  bool // the sentence states the kind of fact the question asks for
	score   float64
	size    int // number of terms
}

// bestSentences returns up to n sentences that share words with the question, best
// first; ties go to the shorter sentence, then keep passage order. A sentence repeated in several passages (chunk
// overlap) is quoted once, cited to its first passage.
func (m *Model) bestSentences(question string, passages []domain.Passage, n int) []quote {
	asked := set(m.keys(question))
	wants := asks(question)
	var cands []quote
	var ckeys []map[string]bool
	seen := make(map[string]bool)
	for i, p := range passages {
		for _, s := range domain.SplitSentences(p.Text) {
			s = sentenceText(s)
			if s == "" || seen[s] {
				continue
			}
			seen[s] = true
			cands = append(cands, quote{text: s, passage: i, order: len(cands)})
			ckeys = append(ckeys, set(m.keys(s)))
		}
	}
	df := make(map[string]int)
	for _, ks := range ckeys {
		for w := range ks {
			if asked[w] {
				df[w]++
			}
		}
	}
	var out []quote
	for i, q := range cands {
		for w := range ckeys[i] {
			if asked[w] {
				q.score += math.Log(1 + float64(len(cands))/float64(df[w]))
			}
		}
		if q.score == 0 {
			continue
		}
		q.states = states(q.text, wants)
		q.size = len(ckeys[i])
		out = append(out, q)
	}
	slices.SortStableFunc(out, func(a, b quote) int {
		switch {
		case a.states != b.states:
			if a.states {
				return -1
			}
			return 1
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		case a.size != b.size:
			return a.size - b.size
		default:
			return a.order - b.order
		}
	})
	return out[:min(n, len(out))]
}

// sentenceText returns s without a leading list marker ("1.", "-", "*"), or "" when s
// is a heading: a Markdown heading, or a short line without a sentence end.
func sentenceText(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "#") {
		return ""
	}
	s = strings.TrimSpace(listMarker.ReplaceAllString(s, ""))
	if !strings.ContainsAny(s, ".!?…。！？:;") && len(strings.Fields(s)) <= 4 {
		return ""
	}
	return s
}

var listMarker = regexp.MustCompile(`^(?:[-*+•]|\d{1,3}[.)])\s+`)

// fact is the kind of fact a question asks for, told by its wording.
type fact int

const (
	anyFact  fact = iota
	duration      // how long, how soon, when, deadline, within...
	price         // how much, cost, price, fee...
	amount        // how many, limit, at most...
)

// asks returns the kind of fact question q asks for.
func asks(q string) fact {
	q = strings.ToLower(q)
	switch {
	case priceQuestion.MatchString(q):
		return price
	case durationQuestion.MatchString(q):
		return duration
	case amountQuestion.MatchString(q):
		return amount
	}
	return anyFact
}

// states reports whether sentence s states a fact of kind f; every sentence states
// anyFact.
func states(s string, f fact) bool {
	s = strings.ToLower(s)
	switch f {
	case duration:
		return durationFact.MatchString(s)
	case price:
		return priceFact.MatchString(s)
	case amount:
		return amountFact.MatchString(s)
	}
	return true
}

const number = `(?:\d[\d.,]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|several|few)`

var (
	priceQuestion    = regexp.MustCompile(`\bhow much\b|\bcosts?\b|\bprices?\b|\bpricing\b|\bfees?\b|\bcharged?\b|\bpay\b|\bexpensive\b`)
	durationQuestion = regexp.MustCompile(`\bhow (long|soon|quickly|fast|often|late|early)\b|\bwhen\b|\bdeadline\b|\bwithin\b|\buntil\b|\bwhat time\b`)
	amountQuestion   = regexp.MustCompile(`\bhow (many|big|large|small)\b|\blimits?\b|\bmaximum\b|\bminimum\b|\bat (most|least)\b|\bquota\b|\bsize\b`)

	durationFact = regexp.MustCompile(`\b` + number + `(?:\s*(?:to|-|–|or)\s*` + number + `)?\s*(?:business |working |calendar |full )?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b|\b(?:immediately|instantly|daily|weekly|monthly|annually|yearly|hourly|at any time)\b`)
	priceFact    = regexp.MustCompile(`[$€£¥]|\b\d[\d.,]*\s*(?:euros?|dollars?|pounds?|cents?|eur|usd|gbp)\b|\b(?:euros?|dollars?|pounds?)\b|\bfree\b`)
	amountFact   = regexp.MustCompile(`\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|thousand|dozen|unlimited)\b`)
)

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
