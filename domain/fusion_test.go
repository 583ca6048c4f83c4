package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tenantry/tenantry/domain"
)

func TestFuseRanks(t *testing.T) {
	t.Parallel()
	p := func(doc string, chunk int, score float64) domain.Passage {
		return domain.Passage{DocumentID: domain.DocumentID(doc), Chunk: chunk, Score: score, Text: doc}
	}
	ids := func(ps []domain.Passage) []string {
		out := make([]string, 0, len(ps))
		for _, x := range ps {
			out = append(out, string(x.DocumentID)+"#"+string(rune('0'+x.Chunk)))
		}
		return out
	}
	tests := []struct {
		name  string
		k     int
		lists [][]domain.Passage
		want  []string
	}{
		{"no lists", 3, nil, []string{}},
		{"one list keeps its order", 3, [][]domain.Passage{{p("b", 0, 9), p("a", 0, 5)}}, []string{"b#0", "a#0"}},
		{"a passage in both lists beats one ranked first in one list",
			3, [][]domain.Passage{{p("x", 0, 30), p("both", 0, 20)}, {p("y", 0, .9), p("both", 0, .8)}},
			[]string{"both#0", "x#0", "y#0"}},
		{"scales never meet: a huge BM25 score counts as rank 1 only",
			2, [][]domain.Passage{{p("lex", 0, 1e6), p("shared", 0, 1)}, {p("shared", 0, .5), p("dense", 0, .4)}},
			[]string{"shared#0", "lex#0"}},
		{"chunks of one document are separate passages",
			4, [][]domain.Passage{{p("d", 1, 2), p("d", 0, 1)}, {p("d", 0, .9)}},
			[]string{"d#0", "d#1"}},
		{"ties break by document then chunk",
			3, [][]domain.Passage{{p("b", 0, 1)}, {p("a", 2, 1)}, {p("a", 1, 1)}},
			[]string{"a#1", "a#2", "b#0"}},
		{"k cuts", 1, [][]domain.Passage{{p("a", 0, 1), p("b", 0, 1)}}, []string{"a#0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, ids(domain.FuseRanks(tc.k, tc.lists...)))
		})
	}
}

func TestFuseRanksScoresAreReciprocalRanks(t *testing.T) {
	t.Parallel()
	got := domain.FuseRanks(2, []domain.Passage{{DocumentID: "a"}, {DocumentID: "b"}}, []domain.Passage{{DocumentID: "b"}})
	assert.InDelta(t, 1.0/61+1.0/62, got[0].Score, 1e-12)
	assert.Equal(t, domain.DocumentID("b"), got[0].DocumentID)
	assert.InDelta(t, 1.0/61, got[1].Score, 1e-12)
}

func TestRetrievalModeFollowsTheTenantsVendors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		set, embedder, vec string
		want               string
	}{
		{"offline defaults", "", domain.EmbedderHashing, domain.VectorEmbedded, domain.RetrievalLexical},
		{"neural embedder", "", domain.EmbedderOpenAI, domain.VectorEmbedded, domain.RetrievalHybrid},
		{"Pinecone Inference", "", domain.EmbedderPinecone, domain.VectorPinecone, domain.RetrievalHybrid},
		{"external vector store", "", domain.EmbedderHashing, domain.VectorPinecone, domain.RetrievalHybrid},
		{"set wins", domain.RetrievalDense, domain.EmbedderHashing, domain.VectorEmbedded, domain.RetrievalDense},
		{"lexical set on a neural tenant", domain.RetrievalLexical, domain.EmbedderOpenAI, domain.VectorEmbedded, domain.RetrievalLexical},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn, err := domain.NewTenant("acme", "Acme", now)
			assert.NoError(t, err)
			tn.Retrieval.Mode, tn.Embedder.Provider, tn.VectorStore.Provider = tc.set, tc.embedder, tc.vec
			assert.Equal(t, tc.want, tn.RetrievalMode())
			assert.Equal(t, tc.want != domain.RetrievalLexical, tn.UsesVectors())
		})
	}
}
