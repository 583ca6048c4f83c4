package vecsearch

import (
	"math"
	"sync"

	"github.com/tenantry/tenantry/domain"
)

// blockRows is how many rows a kernel call scores at once: the scores stay in L1 while
// the top-k pass reads them.
const blockRows = 256

// hit is one scored row.
type hit struct {
	score float32
	row   int32
}

// topK keeps the k best hits offered, in a min-heap with the worst at the root.
type topK struct {
	m *matrix
	k int
	h []hit
}

func (t *topK) reset(m *matrix, k int) {
	t.m, t.k = m, k
	if cap(t.h) < k {
		t.h = make([]hit, 0, k)
	}
	t.h = t.h[:0]
}

// worse reports whether a ranks after b: a lower score, or an equal score and a later
// document id and chunk.
func (t *topK) worse(a, b hit) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return t.m.before(b.row, a.row)
}

// floor is the score a hit needs to be considered: the worst kept score once full.
func (t *topK) floor() float32 {
	if len(t.h) < t.k {
		return float32(math.Inf(-1))
	}
	return t.h[0].score
}

func (t *topK) offer(c hit) {
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		t.up(len(t.h) - 1)
		return
	}
	if !t.worse(t.h[0], c) {
		return
	}
	t.h[0] = c
	t.down(0)
}

// pop removes and returns the worst hit.
func (t *topK) pop() hit {
	last := len(t.h) - 1
	worst := t.h[0]
	t.h[0] = t.h[last]
	t.h = t.h[:last]
	if last > 0 {
		t.down(0)
	}
	return worst
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.worse(t.h[i], t.h[p]) {
			return
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

func (t *topK) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(t.h) {
			return
		}
		c := l
		if r := l + 1; r < len(t.h) && t.worse(t.h[r], t.h[l]) {
			c = r
		}
		if !t.worse(t.h[c], t.h[i]) {
			return
		}
		t.h[i], t.h[c] = t.h[c], t.h[i]
		i = c
	}
}

// part is one worker's share of a search: rows [from, to) into its own top-k.
type part struct {
	m        *matrix
	q        []float32
	from, to int
	kern     kernel
	top      topK
	scores   [blockRows]float32
	done     *sync.WaitGroup
}

// scan scores the part's rows block by block and keeps the best k.
func (p *part) scan() {
	d := p.m.dims
	for r0 := p.from; r0 < p.to; r0 += blockRows {
		r1 := min(r0+blockRows, p.to)
		scores := p.scores[:r1-r0]
		p.kern.dotRows(p.q, p.m.vecs[r0*d:r1*d], scores)
		floor := p.top.floor()
		for i, s := range scores {
			if s < floor {
				continue
			}
			p.top.offer(hit{score: s, row: int32(r0 + i)})
			floor = p.top.floor()
		}
	}
}

// scratch is the per-search working memory, pooled so that a search allocates only
// its result.
type scratch struct {
	q      []float32
	parts  []part
	merged topK
	sorted []hit
	wg     sync.WaitGroup
}

func (x *Index) getScratch() *scratch {
	if s, ok := x.scratch.Get().(*scratch); ok {
		return s
	}
	return &scratch{parts: make([]part, x.nWorkers)}
}

// searchMatrix is the exact search over one matrix.
func (x *Index) searchMatrix(m *matrix, q []float32, k int, minScore float64) []domain.Passage {
	rows := m.len()
	k = min(k, rows)
	if k == 0 {
		return []domain.Passage{}
	}
	s := x.getScratch()
	defer x.scratch.Put(s)
	if cap(s.q) < len(q) {
		s.q = make([]float32, len(q))
	}
	qn := s.q[:len(q)]
	normalizeInto(qn, q)

	n := 1
	if rows >= x.minRows {
		n = min(len(s.parts), (rows+blockRows-1)/blockRows)
	}
	per := (rows + n - 1) / n
	for i := range n {
		p := &s.parts[i]
		p.m, p.q, p.kern, p.done = m, qn, x.kern, &s.wg
		p.from, p.to = min(rows, i*per), min(rows, (i+1)*per)
		p.top.reset(m, k)
	}
	s.wg.Add(n - 1)
	for i := 1; i < n; i++ {
		if !x.workers.submit(&s.parts[i]) {
			s.parts[i].scan()
			s.wg.Done()
		}
	}
	s.parts[0].scan()
	s.wg.Wait()
	return s.collect(m, n, k, minScore)
}

// collect merges the parts' hits and returns those scoring at least minScore, best
// first. Cutting at minScore after the top-k gives the same set as before it, because
// every hit cut ranks below every hit kept.
func (s *scratch) collect(m *matrix, n, k int, minScore float64) []domain.Passage {
	s.merged.reset(m, k)
	for i := range n {
		for _, h := range s.parts[i].top.h {
			s.merged.offer(h)
		}
		s.parts[i].m, s.parts[i].q, s.parts[i].top.m = nil, nil, nil
	}
	s.sorted = s.sorted[:0]
	for len(s.merged.h) > 0 {
		s.sorted = append(s.sorted, s.merged.pop())
	}
	s.merged.m = nil
	keep := 0
	for _, h := range s.sorted {
		if score(h) >= minScore {
			keep++
		}
	}
	out := make([]domain.Passage, keep)
	for i := range keep {
		h := s.sorted[len(s.sorted)-1-i]
		meta := m.meta[h.row]
		out[i] = domain.Passage{DocumentID: meta.key.doc, Title: meta.title, Chunk: meta.key.chunk, Score: score(h), Text: meta.text,
			Page: meta.page, Heading: meta.heading}
	}
	return out
}

// score is the cosine similarity of a hit, clamped to [-1, 1] against rounding.
func score(h hit) float64 {
	return max(-1, min(1, float64(h.score)))
}
