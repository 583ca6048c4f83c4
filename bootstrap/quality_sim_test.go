package bootstrap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// simDense is a SIMULATED dense retriever of known quality, standing in for the neural
// embedder that cannot run here, so that the fusion of hybrid mode can be judged. It
// reads the answers from the qrels: for each judged query it orders the tenant's chunks
// at random, except that one chunk (at random) of each relevant document is put at
// rank 1+G, G geometric with success probability firstRank, or, with probability
// miss, at a uniformly random rank (the model misses it). A relevant document thus
// comes first with probability (1-miss)·firstRank whatever the corpus size, and its
// mistakes are independent of BM25's, as a different model's would largely be. It is a
// ports.Vendors whose embedder encodes which query was asked and whose vector index
// returns that ranking; it is read-only.
type simDense struct {
	firstRank float64
	miss      float64
	queries   map[string]int // query text -> index in queries
	rels      []map[domain.DocumentID]bool
	all       []domain.Passage // every chunk of the tenant
	counts    map[domain.DocumentID]int
	order     map[domain.DocumentID]string // the collection's id of each document
}

func newSimDense(e *qualityEnv, firstRank, miss float64) *simDense {
	s := &simDense{firstRank: firstRank, miss: miss, queries: make(map[string]int), counts: e.counts}
	for i, q := range e.col.queries {
		s.queries[q.Text] = i
		rel := make(map[domain.DocumentID]bool)
		for d, g := range q.rels {
			if id, ok := e.byID[d]; ok && g > 0 {
				rel[id] = true
			}
		}
		s.rels = append(s.rels, rel)
	}
	for id, n := range e.counts {
		for c := range n {
			s.all = append(s.all, domain.Passage{DocumentID: id, Chunk: c})
		}
	}
	// In the collection's order: tenantry's document ids are random, and the ranking
	// must be the same in every run.
	s.order = e.ids
	slices.SortFunc(s.all, func(a, b domain.Passage) int {
		return cmp.Or(cmp.Compare(e.ids[a.DocumentID], e.ids[b.DocumentID]), cmp.Compare(a.Chunk, b.Chunk))
	})
	return s
}

var errSimReadOnly = errors.New("the simulated dense ranker is read-only")

func (s *simDense) Embedder(domain.Tenant) (ports.Embedder, error)       { return simEmbedder{s}, nil }
func (s *simDense) VectorIndex(domain.Tenant) (ports.VectorIndex, error) { return s, nil }
func (s *simDense) ChatModel(domain.Tenant) (ports.ChatModel, error)     { return nil, errSimReadOnly }
func (s *simDense) Check(context.Context, domain.Tenant) error           { return nil }

func (s *simDense) Upsert(context.Context, domain.TenantID, []domain.Chunk) error {
	return errSimReadOnly
}
func (s *simDense) DeleteDocument(context.Context, domain.TenantID, domain.DocumentID) error {
	return errSimReadOnly
}
func (s *simDense) DropTenant(context.Context, domain.TenantID) error { return errSimReadOnly }

// Search returns the first k chunks of the simulated ranking of the query that q
// encodes; the same query always gets the same ranking.
func (s *simDense) Search(_ context.Context, _ domain.TenantID, q []float32, k int, _ float64) (domain.SearchResult, error) {
	qi := int(q[0])
	rng := rand.New(rand.NewPCG(uint64(qi)+1, 0x5eed))
	type placed struct {
		doc  domain.DocumentID
		rank int
	}
	var rel []placed
	for id := range s.rels[qi] {
		rel = append(rel, placed{doc: id})
	}
	slices.SortFunc(rel, func(a, b placed) int { return cmp.Compare(s.order[a.doc], s.order[b.doc]) })
	for i := range rel {
		if rng.Float64() < s.miss {
			rel[i].rank = rng.IntN(len(s.all))
			continue
		}
		for rng.Float64() >= s.firstRank {
			rel[i].rank++
		}
	}
	out := make([]domain.Passage, 0, k+len(rel))
	for _, i := range rng.Perm(len(s.all)) {
		if len(out) == k {
			break
		}
		if p := s.all[i]; !s.rels[qi][p.DocumentID] {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(rel, func(a, b placed) int { return cmp.Compare(a.rank, b.rank) })
	for _, r := range rel {
		p := domain.Passage{DocumentID: r.doc, Chunk: rng.IntN(max(s.counts[r.doc], 1))}
		out = slices.Insert(out, min(r.rank, len(out)), p)
	}
	out = out[:min(k, len(out))]
	for i := range out {
		out[i].Score = 1 - float64(i)/float64(len(out)+1)
	}
	return domain.SearchResult{Passages: out}, nil
}

// simEmbedder encodes the index of a judged query as its vector.
type simEmbedder struct{ s *simDense }

func (e simEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errSimReadOnly
}

func (e simEmbedder) EmbedQuery(_ context.Context, q string) ([]float32, error) {
	i, ok := e.s.queries[q]
	if !ok {
		return nil, fmt.Errorf("simulated dense ranker: %q is not a judged query", q)
	}
	return []float32{float32(i)}, nil
}

func (e simEmbedder) Dimensions() int { return 1 }
