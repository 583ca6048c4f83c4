// Package lexical is tenantry's in-process lexical index: Okapi BM25 over each
// tenant's chunks (title and text), with English analysis (see Terms). The chunk text
// of every tenant, whatever its vector store, is in a ports.ChunkStore (written with
// each document by ports.DocumentStore); the index loads each tenant's postings lazily
// from it and never writes it. Ranking happens here, in Go,
// so it is the same on every database engine.
//
// It imports domain, ports, the standard library and the Snowball stemmer only.
package lexical

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tenantry/tenantry/adapters/internal/membudget"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Config tunes the index; the zero value is ready to use.
type Config struct {
	// Params are BM25's k1 and b; the zero value means DefaultK1 and DefaultB.
	Params Params
	// MaxBytes bounds the memory of the tenants' in-memory postings (estimated). Past
	// it, the postings searched least recently are dropped and rebuilt from the
	// ChunkStore when next searched; the copy in use is kept even when it alone is
	// larger. Zero or less means no bound.
	MaxBytes int64
}

// Index is the lexical index. The ChunkStore is the system of record, written by the
// DocumentStore: the in-memory postings are built from ChunkStore.LoadChunks on a
// tenant's first search, and Upsert, DeleteDocument and DropTenant bring a loaded copy
// in step with what was already committed there. Another process's writes are not
// seen until Invalidate drops the copy.
//
// Index is safe for concurrent use: searches of a tenant share a read lock, writes of a
// tenant are serialised, and tenants never wait for each other.
type Index struct {
	store   ports.ChunkStore
	params  Params
	budget  membudget.Budget
	acc     sync.Pool
	mu      sync.RWMutex
	tenants map[domain.TenantID]*tenantIndex
}

var _ ports.LexicalIndex = (*Index)(nil)

// New returns an index keeping its chunks in store.
func New(store ports.ChunkStore, cfg Config) *Index {
	return &Index{store: store, params: cfg.Params.orDefaults(), budget: membudget.Budget{Max: cfg.MaxBytes},
		tenants: make(map[domain.TenantID]*tenantIndex)}
}

// tenantIndex is one tenant's copy. wmu serialises writes and loads, so that a load
// never installs data older than a write that finished before it; mu guards p.
type tenantIndex struct {
	wmu sync.Mutex
	mu  sync.RWMutex
	p   *postings // nil: not loaded
	membudget.Copy
}

func (x *Index) tenant(t domain.TenantID) *tenantIndex {
	x.mu.RLock()
	ti, ok := x.tenants[t]
	x.mu.RUnlock()
	if ok {
		return ti
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if ti, ok = x.tenants[t]; !ok {
		ti = &tenantIndex{}
		x.tenants[t] = ti
	}
	return ti
}

// Upsert indexes the chunks' titles and texts, which the caller has already stored
// (ports.DocumentStore.Save); it changes only the loaded in-memory copy, and an
// unloaded one will read them from the ChunkStore. A chunk without a document id or
// with a negative index is KindInvalid and nothing is indexed.
func (x *Index) Upsert(_ context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	for i, c := range chunks {
		field := fmt.Sprintf("chunks[%d]", i)
		if c.DocumentID == "" {
			return domain.Invalid(domain.FieldError{Field: field + ".document_id", Message: "must not be empty"})
		}
		if c.Index < 0 {
			return domain.Invalid(domain.FieldError{Field: field + ".index", Message: "must not be negative"})
		}
	}
	return x.write(t, func(p *postings) {
		for _, c := range chunks {
			p.add(c)
		}
		p.maybeCompact()
	})
}

// DeleteDocument removes document d's chunks from memory (their rows went with the
// document's record).
func (x *Index) DeleteDocument(_ context.Context, t domain.TenantID, d domain.DocumentID) error {
	return x.write(t, func(p *postings) { p.deleteDocument(d) })
}

// DropTenant removes all of tenant t's chunks from memory (their rows went with the
// tenant's record).
func (x *Index) DropTenant(_ context.Context, t domain.TenantID) error {
	return x.write(t, func(p *postings) { *p = *newPostings() })
}

// write runs change on a loaded copy under the tenant's write lock.
func (x *Index) write(t domain.TenantID, change func(*postings)) error {
	ti := x.tenant(t)
	ti.wmu.Lock()
	ti.mu.Lock()
	if ti.p != nil {
		change(ti.p)
		x.resized(ti)
	}
	ti.mu.Unlock()
	ti.wmu.Unlock()
	x.trim(ti)
	return nil
}

// Search returns up to k passages of tenant t ranked by BM25 against QueryTerms(query),
// best first, ties by document id then chunk. A query with no indexed term (only stop
// words, or words no chunk holds) finds nothing: an empty slice and a nil error. Scores are BM25
// sums, comparable within one search only. A failing first load is the ChunkStore's
// error (KindUnavailable when it is not a *domain.Error).
func (x *Index) Search(ctx context.Context, t domain.TenantID, query string, k int) (domain.SearchResult, error) {
	if err := ctx.Err(); err != nil {
		return domain.SearchResult{}, err
	}
	if k <= 0 {
		return domain.SearchResult{Passages: []domain.Passage{}}, nil
	}
	terms := QueryTerms(query)
	ti := x.tenant(t)
	for {
		if ps, ok := x.searchIfLoaded(ti, terms, k); ok {
			return domain.SearchResult{Passages: ps}, nil
		}
		if err := x.load(ctx, t, ti); err != nil {
			return domain.SearchResult{}, err
		}
		x.trim(ti)
	}
}

func (x *Index) searchIfLoaded(ti *tenantIndex, terms []string, k int) ([]domain.Passage, bool) {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	if ti.p == nil {
		return nil, false
	}
	x.budget.Used(&ti.Copy)
	acc, _ := x.acc.Get().(*[]float32)
	if acc == nil {
		acc = new([]float32)
	}
	out := ti.p.search(terms, k, x.params, *acc)
	x.acc.Put(acc)
	return out, true
}

// load builds tenant t's postings from the ChunkStore unless a concurrent call did.
func (x *Index) load(ctx context.Context, t domain.TenantID, ti *tenantIndex) error {
	ti.wmu.Lock()
	defer ti.wmu.Unlock()
	if ti.loaded() {
		return nil
	}
	chunks, err := x.store.LoadChunks(ctx, t)
	if err != nil {
		return storeError(err)
	}
	p := newPostings()
	for i := range chunks {
		p.add(chunks[i])
		chunks[i] = domain.Chunk{} // let the vectors go as we go
	}
	ti.mu.Lock()
	ti.p = p
	x.resized(ti)
	ti.mu.Unlock()
	x.budget.Used(&ti.Copy)
	return nil
}

func (ti *tenantIndex) loaded() bool {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	return ti.p != nil
}

// Invalidate drops tenant t's in-memory postings; the next search rebuilds them from
// the ChunkStore. Use it when another process changed the tenant's chunks.
func (x *Index) Invalidate(t domain.TenantID) {
	x.mu.RLock()
	ti, ok := x.tenants[t]
	x.mu.RUnlock()
	if ok {
		ti.wmu.Lock()
		x.drop(ti)
		ti.wmu.Unlock()
	}
}

// InvalidateAll drops every tenant's postings (after changes may have been missed).
func (x *Index) InvalidateAll() {
	x.mu.RLock()
	all := make([]*tenantIndex, 0, len(x.tenants))
	for _, ti := range x.tenants {
		all = append(all, ti)
	}
	x.mu.RUnlock()
	for _, ti := range all {
		ti.wmu.Lock()
		x.drop(ti)
		ti.wmu.Unlock()
	}
}

// Bytes reports the estimated bytes of the tenants' in-memory postings.
func (x *Index) Bytes() int64 { return x.budget.Total() }

func (x *Index) drop(ti *tenantIndex) {
	ti.mu.Lock()
	ti.p = nil
	x.resized(ti)
	ti.mu.Unlock()
}

// resized records the size of ti's copy after a change; ti.mu is held for writing.
func (x *Index) resized(ti *tenantIndex) {
	var n int64
	if ti.p != nil {
		n = ti.p.size()
	}
	x.budget.Resized(&ti.Copy, n)
}

// trim drops other tenants' postings, least recently searched first, until the total
// is within MaxBytes. A copy being written or loaded right now stays.
func (x *Index) trim(keep *tenantIndex) {
	if !x.budget.Over() {
		return
	}
	x.mu.RLock()
	all := make([]*tenantIndex, 0, len(x.tenants))
	for _, ti := range x.tenants {
		all = append(all, ti)
	}
	x.mu.RUnlock()
	membudget.Trim(&x.budget, all, keep, func(ti *tenantIndex) {
		if ti.wmu.TryLock() {
			x.drop(ti)
			ti.wmu.Unlock()
		}
	})
}

// storeError adds context to a ChunkStore failure; an error that is neither a
// *domain.Error nor the context's own is KindUnavailable.
func storeError(err error) error {
	if domain.AsError(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("lexical index: %w", err)
	}
	return fmt.Errorf("lexical index: %w", domain.ErrUnavailable.With(err))
}
