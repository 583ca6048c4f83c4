// Package hashing is tenantry's offline "hashing" embedder: a lexical embedder built
// from feature hashing, not a neural model. It needs no network, no key and no model
// file, and two texts are close only when they share words, word pairs or parts of
// words; it does not know synonyms or meaning.
//
// It imports domain, ports and the standard library only.
package hashing

import (
	"context"
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Model names the feature set and hash function. Vectors of one model stay comparable
// forever: changing either would need a new name and a re-ingest.
const Model = "hashing-v1"

// Feature weights: a word counts most, a word pair adds phrase order, a character
// trigram lets related word forms ("refund", "refunds") and typos meet.
const (
	wordWeight    = 1.0
	bigramWeight  = 0.7
	trigramWeight = 0.3
)

// Seeds keep the three feature families apart in the hash space.
const (
	seedWord    = 0x9e3779b97f4a7c15
	seedBigram  = 0xc2b2ae3d27d4eb4f
	seedTrigram = 0x165667b19e3779f9
)

// Embedder is the offline hashing embedder. Each text is lower-cased and cut into words
// (runs of Unicode letters, digits and combining marks); its features are the words,
// adjacent word pairs and character trigrams of each word padded with boundary marks.
// Each feature is hashed (64-bit FNV-1a with a final mix) to one of Dimensions() slots
// with a sign taken from the hash, weighted 1+ln(tf) by its count in the text, and the
// vector is L2-normalised. A text without words gets the zero vector. The output is
// deterministic across runs, processes and machines. It is safe for concurrent use.
type Embedder struct {
	dims int
}

var _ ports.Embedder = (*Embedder)(nil)

// New returns a hashing embedder producing vectors of the given dimension; zero or
// less means domain.DefaultDimensions (384).
func New(dimensions int) *Embedder {
	if dimensions <= 0 {
		dimensions = domain.DefaultDimensions
	}
	return &Embedder{dims: dimensions}
}

// Dimensions is the length of every vector Embed returns.
func (e *Embedder) Dimensions() int { return e.dims }

// Embed returns one L2-normalised vector per text, in order. It only fails when ctx is
// done, with ctx's error.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	backing := make([]float32, len(texts)*e.dims)
	b := bag{index: make(map[uint64]int32)}
	acc := make([]float64, e.dims)
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b.reset()
		b.addText(text)
		out[i] = backing[i*e.dims : (i+1)*e.dims : (i+1)*e.dims]
		b.project(acc, out[i])
	}
	return out, nil
}

// EmbedQuery implements ports.Embedder: the hashing model is symmetric, a query is
// embedded like any text.
func (e *Embedder) EmbedQuery(ctx context.Context, query string) ([]float32, error) {
	vecs, err := e.Embed(ctx, []string{query})
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// bag counts a text's hashed features in order of first occurrence, so that the sums
// in project run in the same order on every run and the output is bit-for-bit stable.
type bag struct {
	terms []term
	index map[uint64]int32
}

// term is one hashed feature of a text: how often it occurs and its family's weight.
type term struct {
	hash   uint64
	tf     int32
	weight float32
}

func (b *bag) reset() {
	b.terms = b.terms[:0]
	clear(b.index)
}

func (b *bag) add(h uint64, weight float32) {
	if i, ok := b.index[h]; ok {
		b.terms[i].tf++
		return
	}
	b.index[h] = int32(len(b.terms))
	b.terms = append(b.terms, term{hash: h, tf: 1, weight: weight})
}

// addText counts text's words, word pairs and character trigrams.
func (b *bag) addText(text string) {
	var prev uint64
	first := true
	for word := range lowerWords(text) {
		h := hashString(seedWord, word)
		b.add(h, wordWeight)
		if !first {
			b.add(mix(prev*31^bits.RotateLeft64(h, 29)^seedBigram), bigramWeight)
		}
		prev, first = h, false
		b.addTrigrams(word)
	}
}

// project adds each term, weighted weight*(1+ln tf), to its signed slot of v and
// L2-normalises v. acc is scratch space of len(v).
func (b *bag) project(acc []float64, v []float32) {
	clear(acc)
	for _, t := range b.terms {
		slot, _ := bits.Mul64(t.hash, uint64(len(acc)))
		w := float64(t.weight) * (1 + math.Log(float64(t.tf)))
		if t.hash&1 == 1 {
			w = -w
		}
		acc[slot] += w
	}
	var norm float64
	for _, x := range acc {
		norm += x * x
	}
	if norm == 0 {
		return
	}
	inv := 1 / math.Sqrt(norm)
	for i, x := range acc {
		v[i] = float32(x * inv)
	}
}

// addTrigrams counts the character trigrams of "\x02" + word + "\x03".
func (b *bag) addTrigrams(word string) {
	var window [3]rune
	n := 0
	push := func(r rune) {
		window[0], window[1], window[2] = window[1], window[2], r
		n++
		if n >= 3 {
			b.add(hashRunes(seedTrigram, window), trigramWeight)
		}
	}
	push('\x02')
	for _, r := range word {
		push(r)
	}
	push('\x03')
}

// lowerWords yields the lower-cased words of text: maximal runs of letters, digits and
// combining marks.
func lowerWords(text string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		buf := make([]byte, 0, 64)
		for i := 0; i <= len(text); {
			r, n := utf8.RuneError, 1
			if i < len(text) {
				r, n = utf8.DecodeRuneInString(text[i:])
			}
			if i < len(text) && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)) {
				buf = utf8.AppendRune(buf, unicode.ToLower(r))
			} else if len(buf) > 0 {
				if !yield(string(buf)) {
					return
				}
				buf = buf[:0]
			}
			i += n
		}
	}
}

const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

func hashString(seed uint64, s string) uint64 {
	h := uint64(fnvOffset) ^ seed
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

func hashRunes(seed uint64, rs [3]rune) uint64 {
	h := uint64(fnvOffset) ^ seed
	for _, r := range rs {
		for shift := 0; shift < 32; shift += 8 {
			h ^= uint64(uint32(r) >> shift & 0xff)
			h *= fnvPrime
		}
	}
	return mix(h)
}

// mix is the splitmix64 finaliser: it spreads every input bit over the whole hash, so
// that both the slot (high bits) and the sign (low bit) are well distributed.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
