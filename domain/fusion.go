package domain

import "slices"

// RRFConstant is the k of reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009):
// it damps the weight of the very first ranks so that no single list dominates.
const RRFConstant = 60

// FuseRanks merges rankings of the same passages by reciprocal rank fusion: a passage
// scores the sum of 1/(RRFConstant+rank) over the lists that hold it (rank from 1), and
// the best k are returned, ties by document id then chunk. A passage is identified by
// document and chunk; the copy kept is the first list's that holds it. Scores of the
// result are fused scores; the lists' own scales (BM25, cosine) never meet.
func FuseRanks(k int, lists ...[]Passage) []Passage {
	type key struct {
		doc   DocumentID
		chunk int
	}
	type entry struct {
		p     Passage
		score float64
	}
	fused := make(map[key]*entry)
	for _, l := range lists {
		for rank, p := range l {
			kk := key{p.DocumentID, p.Chunk}
			e := fused[kk]
			if e == nil {
				e = &entry{p: p}
				fused[kk] = e
			}
			e.score += 1 / float64(RRFConstant+rank+1)
		}
	}
	out := make([]Passage, 0, len(fused))
	for _, e := range fused {
		e.p.Score = e.score
		out = append(out, e.p)
	}
	slices.SortFunc(out, func(a, b Passage) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		case a.DocumentID != b.DocumentID:
			if a.DocumentID < b.DocumentID {
				return -1
			}
			return 1
		}
		return a.Chunk - b.Chunk
	})
	if k >= 0 && len(out) > k {
		out = out[:k]
	}
	return out
}
