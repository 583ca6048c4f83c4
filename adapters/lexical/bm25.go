package lexical

import (
	"cmp"
	"container/heap"
	"math"
	"slices"

	"github.com/tenantry/tenantry/domain"
)

// Params are the Okapi BM25 parameters: K1 saturates term frequency, B normalises by
// length. The zero value means DefaultK1 and DefaultB.
type Params struct {
	K1, B float64
}

// Defaults of Params, the values Pyserini uses for BEIR (Lucene's own are 1.2 and 0.75).
const (
	DefaultK1 = 0.9
	DefaultB  = 0.4
)

// orDefaults returns p with the zero value (both fields zero) and values out of range
// replaced by the defaults; B 0 with a K1 set is a valid choice (no length normalisation).
func (p Params) orDefaults() Params {
	if p.K1 <= 0 && p.B == 0 {
		return Params{K1: DefaultK1, B: DefaultB}
	}
	if p.K1 <= 0 {
		p.K1 = DefaultK1
	}
	if p.B < 0 || p.B > 1 {
		p.B = DefaultB
	}
	return p
}

// rowKey names one chunk.
type rowKey struct {
	doc   domain.DocumentID
	index int
}

// termFreq is one term of a chunk and how often it occurs there.
type termFreq struct {
	term uint32
	tf   uint32
}

// slot is one chunk in the postings: its text for the passages returned, and its terms
// so that removing it needs no analysis.
type slot struct {
	key     rowKey
	title   string
	text    string
	page    int
	heading string
	terms   []termFreq
	len     uint32
	alive   bool
}

type posting struct {
	slot uint32
	tf   uint32
}

// postings is one tenant's inverted index. Removed chunks leave dead slots that
// searches skip; compact rebuilds without them once they are as many as the live ones.
type postings struct {
	dict     map[string]uint32
	lists    [][]posting
	df       []uint32 // live chunks holding each term
	slots    []slot
	byKey    map[rowKey]uint32
	byDoc    map[domain.DocumentID][]uint32
	live     int
	dead     int
	totalLen int64
	textSize int64 // bytes of the slots' titles and texts
}

func newPostings() *postings {
	return &postings{dict: make(map[string]uint32), byKey: make(map[rowKey]uint32), byDoc: make(map[domain.DocumentID][]uint32)}
}

// add indexes c (title and text), replacing the chunk with the same document and index.
func (p *postings) add(c domain.Chunk) {
	key := rowKey{c.DocumentID, c.Index}
	if old, ok := p.byKey[key]; ok {
		p.kill(old)
	}
	counts := make(map[string]uint32)
	var n uint32
	for _, field := range [2]string{c.Title, c.Text} {
		for _, t := range Terms(field) {
			counts[t]++
			n++
		}
	}
	terms := make([]termFreq, 0, len(counts))
	for t, tf := range counts {
		terms = append(terms, termFreq{p.termID(t), tf})
	}
	slices.SortFunc(terms, func(a, b termFreq) int { return cmp.Compare(a.term, b.term) })
	id := uint32(len(p.slots))
	p.slots = append(p.slots, slot{key: key, title: c.Title, text: c.Text, page: c.Page, heading: c.Heading, terms: terms, len: n, alive: true})
	p.link(id)
}

// link adds slot id's terms to the lists and the statistics.
func (p *postings) link(id uint32) {
	s := &p.slots[id]
	for _, tf := range s.terms {
		p.lists[tf.term] = append(p.lists[tf.term], posting{id, tf.tf})
		p.df[tf.term]++
	}
	p.byKey[s.key] = id
	p.byDoc[s.key.doc] = append(p.byDoc[s.key.doc], id)
	p.live++
	p.totalLen += int64(s.len)
	p.textSize += int64(len(s.title) + len(s.text) + len(s.heading))
}

func (p *postings) termID(t string) uint32 {
	if id, ok := p.dict[t]; ok {
		return id
	}
	id := uint32(len(p.lists))
	p.dict[t] = id
	p.lists = append(p.lists, nil)
	p.df = append(p.df, 0)
	return id
}

// kill marks slot id dead and takes it out of the statistics.
func (p *postings) kill(id uint32) {
	s := &p.slots[id]
	if !s.alive {
		return
	}
	s.alive = false
	for _, tf := range s.terms {
		p.df[tf.term]--
	}
	delete(p.byKey, s.key)
	p.live--
	p.dead++
	p.totalLen -= int64(s.len)
	p.textSize -= int64(len(s.title) + len(s.text) + len(s.heading))
}

// deleteDocument removes every chunk of document d.
func (p *postings) deleteDocument(d domain.DocumentID) {
	for _, id := range p.byDoc[d] {
		p.kill(id)
	}
	delete(p.byDoc, d)
	p.maybeCompact()
}

// maybeCompact rebuilds the lists without dead slots once they are as many as the live
// ones, so that removals cost amortised constant work and memory stays proportional to
// the live chunks.
func (p *postings) maybeCompact() {
	if p.dead < 64 || p.dead < p.live {
		return
	}
	old := p.slots
	p.slots = make([]slot, 0, p.live)
	for i := range p.lists {
		p.lists[i], p.df[i] = nil, 0
	}
	clear(p.byKey)
	clear(p.byDoc)
	p.live, p.dead, p.totalLen, p.textSize = 0, 0, 0, 0
	for _, s := range old {
		if s.alive {
			p.slots = append(p.slots, s)
			p.link(uint32(len(p.slots) - 1))
		}
	}
}

// size estimates the bytes p holds.
func (p *postings) size() int64 {
	var n int64
	for _, l := range p.lists {
		n += int64(cap(l))*8 + 24
	}
	for _, s := range p.slots {
		n += int64(cap(s.terms))*8 + 96
	}
	n += int64(len(p.dict)) * 48
	n += int64(len(p.byKey)) * 64
	return n + p.textSize
}

// search scores every live chunk holding a query term with BM25 and returns the best
// k, ties by document id then chunk index.
func (p *postings) search(query []string, k int, prm Params, acc []float32) []domain.Passage {
	if p.live == 0 || k <= 0 {
		return []domain.Passage{}
	}
	// The query's terms in the order they first occur, so that every search adds the
	// same float32 contributions in the same order and equal queries score equally.
	type weight struct {
		term uint32
		qtf  float64
	}
	var weights []weight
	for _, t := range query {
		id, ok := p.dict[t]
		if !ok || p.df[id] == 0 {
			continue
		}
		if i := slices.IndexFunc(weights, func(w weight) bool { return w.term == id }); i >= 0 {
			weights[i].qtf++
		} else {
			weights = append(weights, weight{id, 1})
		}
	}
	if len(weights) == 0 {
		return []domain.Passage{}
	}
	acc = acc[:0]
	acc = slices.Grow(acc, len(p.slots))[:len(p.slots)]
	clear(acc)
	n := float64(p.live)
	avg := float64(p.totalLen) / n
	var touched []uint32
	for _, qw := range weights {
		df := float64(p.df[qw.term])
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		w := float32(qw.qtf * idf * (prm.K1 + 1))
		for _, ps := range p.lists[qw.term] {
			s := &p.slots[ps.slot]
			if !s.alive {
				continue
			}
			tf := float64(ps.tf)
			norm := prm.K1 * (1 - prm.B + prm.B*float64(s.len)/avg)
			if acc[ps.slot] == 0 {
				touched = append(touched, ps.slot)
			}
			acc[ps.slot] += w * float32(tf/(tf+norm))
		}
	}
	return p.top(touched, acc, k)
}

func (p *postings) top(touched []uint32, acc []float32, k int) []domain.Passage {
	h := &hitHeap{p: p, acc: acc}
	for _, id := range touched {
		if len(h.ids) < k {
			heap.Push(h, id)
		} else if h.better(id, h.ids[0]) {
			h.ids[0] = id
			heap.Fix(h, 0)
		}
	}
	out := make([]domain.Passage, len(h.ids))
	for i := len(h.ids) - 1; i >= 0; i-- {
		id := heap.Pop(h).(uint32)
		s := &p.slots[id]
		out[i] = domain.Passage{DocumentID: s.key.doc, Title: s.title, Chunk: s.key.index, Score: float64(acc[id]), Text: s.text,
			Page: s.page, Heading: s.heading}
	}
	return out
}

// hitHeap is a min-heap of slots by score: its root is the worst of the best k.
type hitHeap struct {
	p   *postings
	acc []float32
	ids []uint32
}

// better orders slots best first: higher score, then lower document id, then chunk.
func (h *hitHeap) better(a, b uint32) bool {
	if h.acc[a] != h.acc[b] {
		return h.acc[a] > h.acc[b]
	}
	ka, kb := h.p.slots[a].key, h.p.slots[b].key
	if ka.doc != kb.doc {
		return ka.doc < kb.doc
	}
	return ka.index < kb.index
}

func (h *hitHeap) Len() int           { return len(h.ids) }
func (h *hitHeap) Less(i, j int) bool { return h.better(h.ids[j], h.ids[i]) }
func (h *hitHeap) Swap(i, j int)      { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *hitHeap) Push(x any)         { h.ids = append(h.ids, x.(uint32)) }
func (h *hitHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}
