package ports

import (
	"context"
	"iter"

	"github.com/tenantry/tenantry/domain"
)

// Embedder turns texts into vectors of a fixed dimension.
type Embedder interface {
	// Embed returns one vector per text, in order, each of Dimensions() values. A
	// vendor 429 is KindRateLimited; timeouts and 5xx are KindUnavailable; a rejected
	// key is KindUnavailable with code "vendor_key_rejected".
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// EmbedQuery returns the vector of one search query, with the same errors. Models
	// that embed queries and passages differently (Pinecone's input_type "query" and
	// "passage") are told which; for the others it is Embed of one text.
	EmbedQuery(ctx context.Context, query string) ([]float32, error)
	// Dimensions is the length of every vector Embed and EmbedQuery return.
	Dimensions() int
}

// VectorIndex stores chunk vectors and finds passages close to a query. Every method is
// scoped by tenant: results never include another tenant's passages, and writes never
// touch another tenant's vectors.
type VectorIndex interface {
	// Upsert stores chunks (with their vectors) under tenant t, replacing chunks with
	// the same document and index. An index outside the database (VectorLister) is
	// written before the document's transaction; the embedded one only takes in rows
	// already committed (ChunkStore), which it never writes.
	Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error
	// Search returns up to k passages with score >= minScore, best first (ties by
	// document id then chunk), and the read units the store charged when it reports
	// them. No match is an empty Passages slice and nil error; an unreachable index is
	// KindUnavailable.
	Search(ctx context.Context, t domain.TenantID, q []float32, k int, minScore float64) (domain.SearchResult, error)
	// DeleteDocument removes every chunk of document d. Unknown d is not an error.
	DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error
	// DropTenant removes all of tenant t's vectors and nothing else.
	DropTenant(ctx context.Context, t domain.TenantID) error
}

// VectorLister is implemented by a VectorIndex outside tenantry's database (Pinecone),
// whose vectors cannot be written in the transaction that saves their document, so
// that vectors whose document is gone can be found and deleted.
type VectorLister interface {
	// VectorDocuments returns, for each document of tenant t with vectors in the
	// index, how many it has. An unreachable index is KindUnavailable.
	VectorDocuments(ctx context.Context, t domain.TenantID) (map[domain.DocumentID]int, error)
}

// LexicalIndex finds passages by the words they share with a query (BM25) over
// tenantry's own copy of every tenant's chunk text (the ChunkStore's rows), whatever
// its vector store. Every
// method is scoped by tenant: results never include another tenant's passages, and
// writes never touch another tenant's chunks.
type LexicalIndex interface {
	// Upsert indexes chunks (title and text) of tenant t that ports.DocumentStore has
	// already stored, replacing chunks with the same document and index. Vectors are
	// not its business: a chunk's vector, if any, is left to the VectorIndex.
	Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error
	// Search returns up to k passages ranked by relevance to query, best first (ties by
	// document id then chunk). A query sharing no indexed word with any chunk finds
	// nothing: an empty Passages slice and a nil error. Scores are comparable within
	// one search only. An unreachable store is KindUnavailable.
	Search(ctx context.Context, t domain.TenantID, query string, k int) (domain.SearchResult, error)
	// DeleteDocument removes every chunk of document d. Unknown d is not an error.
	DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error
	// DropTenant removes all of tenant t's chunks and nothing else.
	DropTenant(ctx context.Context, t domain.TenantID) error
}

// ChunkStore holds the chunk rows (title, text and, for the embedded vector index,
// vector) that ports.DocumentStore writes with their document, and deletes with it, for
// the in-process indexes to load. Every chunk belongs to a document record of its
// tenant.
type ChunkStore interface {
	// LoadChunks returns every chunk of tenant t ordered by document id and index.
	LoadChunks(ctx context.Context, t domain.TenantID) ([]domain.Chunk, error)
}

// ChatModel streams a completion.
type ChatModel interface {
	// Stream yields text deltas, then one final delta with Done set carrying
	// FinishReason, Model and Usage. An error ends the sequence (vendor 429 is
	// KindRateLimited, 5xx, stalls and cut streams KindUnavailable). Cancelling ctx
	// stops the call promptly and ends the sequence with ctx's error. The caller may
	// stop iterating early; the call is then abandoned and its resources released.
	Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error]
}

// Vendors builds the tenant's own embedder, vector index and chat model from its
// configuration. The tenant's keys are used only for its own calls.
type Vendors interface {
	// Embedder returns the tenant's embedder. A provider it cannot build is KindInvalid.
	Embedder(t domain.Tenant) (Embedder, error)
	// VectorIndex returns the tenant's vector index.
	VectorIndex(t domain.Tenant) (VectorIndex, error)
	// ChatModel returns the tenant's chat model.
	ChatModel(t domain.Tenant) (ChatModel, error)
	// Check asks the tenant's vendors whether configuration t works, before it is
	// stored: for a Pinecone vector store, that the key is accepted and the index is a
	// dense vector index whose dimension equals t.Embedder.Dimensions; for a Pinecone
	// Inference embedder, that the key is accepted and the model is a dense embedding
	// model producing t.Embedder.Dimensions values. A rejected key or a mismatch is
	// KindInvalid listing the field to fix; a vendor that cannot be reached keeps its
	// kind (KindUnavailable, KindRateLimited). Providers with nothing to check return
	// nil. It only reads, with t's own keys, and is safe for concurrent use.
	Check(ctx context.Context, t domain.Tenant) error
}
