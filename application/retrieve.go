package application

import (
	"context"
	"fmt"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// HybridCandidates is the fewest passages each side of a hybrid search contributes to
// the fusion, so that a passage ranked modestly by both sides can still win.
const HybridCandidates = 50

// Retrieve finds a tenant's passages for a question the way the tenant's retrieval
// mode says: BM25 over the chunk text tenantry keeps (lexical), the tenant's embedder
// and vector index (dense), or both fused by reciprocal rank (hybrid). It never returns
// a passage whose document has no record, even from a vector store outside tenantry's
// database that still holds the vectors of a deleted or never-committed document.
type Retrieve struct {
	lexical   ports.LexicalIndex
	vendors   ports.Vendors
	documents ports.DocumentStore
}

// NewRetrieve builds the use case.
func NewRetrieve(lexical ports.LexicalIndex, vendors ports.Vendors, documents ports.DocumentStore) *Retrieve {
	return &Retrieve{lexical: lexical, vendors: vendors, documents: documents}
}

// Execute returns up to k passages of tenant t for question, best first, by the
// tenant's ServingMode (lexical while its vectors are being rebuilt). The tenant's
// min_score filters the dense side only. Nothing found is an empty slice; passages of
// documents that are gone are left out, so fewer than k may come back.
func (r *Retrieve) Execute(ctx context.Context, t *domain.Tenant, question string, k int) (domain.SearchResult, error) {
	switch t.ServingMode() {
	case domain.RetrievalLexical:
		return r.lexicalSearch(ctx, t, question, k)
	case domain.RetrievalDense:
		return r.denseSearch(ctx, t, question, k)
	}
	n := max(k, HybridCandidates)
	lex, err := r.lexicalSearch(ctx, t, question, n)
	if err != nil {
		return domain.SearchResult{}, err
	}
	dense, err := r.denseSearch(ctx, t, question, n)
	if err != nil {
		return domain.SearchResult{}, err
	}
	return domain.SearchResult{Passages: domain.FuseRanks(k, lex.Passages, dense.Passages), ReadUnits: dense.ReadUnits}, nil
}

func (r *Retrieve) lexicalSearch(ctx context.Context, t *domain.Tenant, question string, k int) (domain.SearchResult, error) {
	found, err := r.lexical.Search(ctx, t.ID, question, k)
	if err != nil {
		return domain.SearchResult{}, fmt.Errorf("search passages by words: %w", err)
	}
	return found, nil
}

func (r *Retrieve) denseSearch(ctx context.Context, t *domain.Tenant, question string, k int) (domain.SearchResult, error) {
	emb, err := r.vendors.Embedder(*t)
	if err != nil {
		return domain.SearchResult{}, err
	}
	idx, err := r.vendors.VectorIndex(*t)
	if err != nil {
		return domain.SearchResult{}, err
	}
	vec, err := emb.EmbedQuery(ctx, question)
	if err != nil {
		return domain.SearchResult{}, fmt.Errorf("embed question: %w", err)
	}
	found, err := idx.Search(ctx, t.ID, vec, k, t.Retrieval.MinScore)
	if err != nil {
		return domain.SearchResult{}, fmt.Errorf("search passages: %w", err)
	}
	if !t.VectorsExternal() || len(found.Passages) == 0 {
		return found, nil
	}
	return r.existingOnly(ctx, t.ID, found)
}

// existingOnly drops the passages whose document has no record. An external store
// (Pinecone) cannot join the transaction that saves or deletes a document, so its
// vectors may outlive their document until the sweeper deletes them; the records are
// the truth, the same in every process. The embedded index needs no check: its vectors
// are rows deleted with their document.
func (r *Retrieve) existingOnly(ctx context.Context, t domain.TenantID, found domain.SearchResult) (domain.SearchResult, error) {
	ids := make([]domain.DocumentID, 0, len(found.Passages))
	for _, p := range found.Passages {
		ids = append(ids, p.DocumentID) // repeats are fine (ports.DocumentStore.Existing)
	}
	exist, err := r.documents.Existing(ctx, t, ids)
	if err != nil {
		return domain.SearchResult{}, fmt.Errorf("check passages' documents: %w", err)
	}
	kept := make([]domain.Passage, 0, len(found.Passages))
	for _, p := range found.Passages {
		if exist[p.DocumentID] {
			kept = append(kept, p)
		}
	}
	found.Passages = kept
	return found, nil
}
