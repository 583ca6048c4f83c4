// Package vecsearch is tenantry's "embedded" vector index: exact cosine search in
// process over the vectors in a ports.ChunkStore's rows (written with their document
// by ports.DocumentStore, or by ports.ChunkScanner.PutVectors when re-indexing). Each
// tenant's vectors are loaded lazily into one contiguous float32 matrix per dimension
// and kept in step with the writes the index is told of; the index never writes rows.
//
// It imports domain, ports, the standard library and golang.org/x/sys/cpu only.
package vecsearch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/tenantry/tenantry/adapters/internal/membudget"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Config tunes the search; the zero value is ready to use.
type Config struct {
	// Workers is how many goroutines score one large search; zero or less means
	// GOMAXPROCS at construction.
	Workers int
	// ParallelMinRows is the fewest rows a search must scan before it is split across
	// workers; zero or less means 16384.
	ParallelMinRows int
	// MaxBytes bounds the memory of the tenants' in-memory copies (vectors, texts and
	// their bookkeeping, estimated). Past it, the copies searched least recently are
	// dropped and reloaded from the ChunkStore when next searched; the copy in use is
	// kept even when it alone is larger. Zero or less means no bound.
	MaxBytes int64
}

// Index is the embedded vector index. The ChunkStore is the system of record, written
// before the index is told: a tenant's copy is built from ChunkStore.LoadChunks on its
// first use, and Upsert, DeleteDocument and DropTenant bring a loaded copy in step with
// rows already committed. The copy of one process does not see another process's
// writes; Invalidate drops it.
//
// Index is safe for concurrent use: searches of a tenant share a read lock, writes of a
// tenant are serialised, and tenants never wait for each other. Close stops the
// search workers.
type Index struct {
	store    ports.ChunkStore
	kern     kernel
	minRows  int
	workers  *workers
	scratch  sync.Pool
	mu       sync.RWMutex
	tenants  map[domain.TenantID]*tenantIndex
	nWorkers int
	budget   membudget.Budget
}

var _ ports.VectorIndex = (*Index)(nil)

// New returns an index persisting its vectors in store.
func New(store ports.ChunkStore, cfg Config) *Index {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.ParallelMinRows <= 0 {
		cfg.ParallelMinRows = 16384
	}
	return &Index{
		store:    store,
		kern:     bestKernel(),
		minRows:  cfg.ParallelMinRows,
		workers:  newWorkers(cfg.Workers - 1),
		tenants:  make(map[domain.TenantID]*tenantIndex),
		nWorkers: cfg.Workers,
		budget:   membudget.Budget{Max: cfg.MaxBytes},
	}
}

// Close stops the search workers; later searches run on the caller's goroutine only.
// It is safe to call more than once.
func (x *Index) Close() error {
	x.workers.close()
	return nil
}

// tenantIndex is one tenant's in-memory copy. wmu serialises writes and loads so that a
// load never installs data older than a write that finished before it; mu guards the
// matrices for searches.
type tenantIndex struct {
	wmu    sync.Mutex
	mu     sync.RWMutex
	loaded bool
	mats   []*matrix // one per vector dimension, usually one

	budget *membudget.Budget
	// Copy holds the size of mats (set by resized) and when it was last searched.
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
		ti = &tenantIndex{budget: &x.budget}
		x.tenants[t] = ti
	}
	return ti
}

// Upsert normalises the chunks' vectors and puts them in the tenant's loaded in-memory
// copy; the caller has already stored them in the ChunkStore (ports.DocumentStore.Save
// at ingestion, ports.ChunkScanner.PutVectors when re-indexing), which an unloaded copy
// will read. A chunk without a document id, with a negative index, an empty vector or a
// non-finite value is KindInvalid and nothing is indexed.
func (x *Index) Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	if len(chunks) == 0 {
		return nil
	}
	clean, err := normalizedChunks(chunks)
	if err != nil {
		return err
	}
	ti := x.tenant(t)
	err = ti.write(func() error {
		ti.apply(func() {
			for _, c := range clean {
				ti.upsert(c)
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	x.trim(ti)
	return nil
}

// DeleteDocument removes document d's chunks from memory (their rows went with the
// document's record).
func (x *Index) DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	ti := x.tenant(t)
	err := ti.write(func() error {
		ti.apply(func() {
			for _, m := range ti.mats {
				m.deleteDocument(d)
			}
			ti.compact()
		})
		return nil
	})
	if err != nil {
		return err
	}
	return nil
}

// DropTenant removes all of tenant t's chunks from memory (their rows went with the
// tenant's record).
func (x *Index) DropTenant(ctx context.Context, t domain.TenantID) error {
	ti := x.tenant(t)
	err := ti.write(func() error {
		ti.mu.Lock()
		ti.mats, ti.loaded = nil, true
		ti.resized()
		ti.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	return nil
}

// Invalidate drops tenant t's in-memory copy; the next search reloads it from the
// ChunkStore. Use it when another process changed the tenant's chunks.
func (x *Index) Invalidate(t domain.TenantID) {
	x.mu.RLock()
	ti, ok := x.tenants[t]
	x.mu.RUnlock()
	if ok {
		ti.wmu.Lock()
		defer ti.wmu.Unlock()
		ti.invalidate()
	}
}

// InvalidateAll drops every tenant's in-memory copy (after changes may have been
// missed).
func (x *Index) InvalidateAll() {
	x.mu.RLock()
	all := make([]*tenantIndex, 0, len(x.tenants))
	for _, ti := range x.tenants {
		all = append(all, ti)
	}
	x.mu.RUnlock()
	for _, ti := range all {
		ti.wmu.Lock()
		ti.invalidate()
		ti.wmu.Unlock()
	}
}

// Search returns up to k passages with cosine similarity >= minScore to q, best first,
// ties by document id then chunk. Only vectors of q's dimension are compared; a query
// with a non-finite value is KindInvalid. A failing first load is the ChunkStore's
// error (KindUnavailable when it is not a *domain.Error).
func (x *Index) Search(ctx context.Context, t domain.TenantID, q []float32, k int, minScore float64) (domain.SearchResult, error) {
	ps, err := x.search(ctx, t, q, k, minScore)
	return domain.SearchResult{Passages: ps}, err // in process: no read units to report
}

func (x *Index) search(ctx context.Context, t domain.TenantID, q []float32, k int, minScore float64) ([]domain.Passage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k <= 0 || len(q) == 0 {
		return []domain.Passage{}, nil
	}
	if !finite(q) {
		return nil, domain.Invalid(domain.FieldError{Field: "query", Message: "must hold finite numbers"})
	}
	ti := x.tenant(t)
	for {
		if out, ok := x.searchIfLoaded(ti, q, k, minScore); ok {
			return out, nil
		}
		if err := x.load(ctx, t, ti); err != nil {
			return nil, err
		}
		x.trim(ti)
	}
}

// searchIfLoaded searches the tenant's copy under its read lock; it reports false when
// the copy is not loaded.
func (x *Index) searchIfLoaded(ti *tenantIndex, q []float32, k int, minScore float64) ([]domain.Passage, bool) {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	if !ti.loaded {
		return nil, false
	}
	ti.budget.Used(&ti.Copy)
	return x.searchLoaded(ti, q, k, minScore), true
}

func (x *Index) searchLoaded(ti *tenantIndex, q []float32, k int, minScore float64) []domain.Passage {
	for _, m := range ti.mats {
		if m.dims == len(q) {
			return x.searchMatrix(m, q, k, minScore)
		}
	}
	return []domain.Passage{}
}

// load builds tenant t's copy from the ChunkStore unless a concurrent call already did.
func (x *Index) load(ctx context.Context, t domain.TenantID, ti *tenantIndex) error {
	ti.wmu.Lock()
	defer ti.wmu.Unlock()
	if ti.loaded {
		return nil
	}
	chunks, err := x.store.LoadChunks(ctx, t)
	if err != nil {
		return storeError("load chunks", err)
	}
	mats := buildMatrices(chunks)
	ti.mu.Lock()
	ti.mats, ti.loaded = mats, true
	ti.resized()
	ti.mu.Unlock()
	ti.budget.Used(&ti.Copy)
	return nil
}

// write runs a write of the tenant's under wmu. When it fails, the write's effect on
// the ChunkStore is unknown, so the copy is dropped and reloaded on the next search.
func (ti *tenantIndex) write(fn func() error) error {
	ti.wmu.Lock()
	defer ti.wmu.Unlock()
	err := fn()
	if err != nil {
		ti.invalidate()
	}
	return err
}

// apply runs change on a loaded copy under the write lock; an unloaded copy stays
// unloaded and will be read from the ChunkStore, which already has the change.
func (ti *tenantIndex) apply(change func()) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.loaded {
		change()
		ti.resized()
	}
}

func (ti *tenantIndex) invalidate() {
	ti.mu.Lock()
	ti.mats, ti.loaded = nil, false
	ti.resized()
	ti.mu.Unlock()
}

// upsert puts c into the matrix of its dimension and removes the same document and
// index from matrices of other dimensions.
func (ti *tenantIndex) upsert(c domain.Chunk) {
	var target *matrix
	for _, m := range ti.mats {
		if m.dims == len(c.Vector) {
			target = m
		} else {
			m.delete(rowKey{c.DocumentID, c.Index})
		}
	}
	if target == nil {
		target = newMatrix(len(c.Vector), 1)
		ti.mats = append(ti.mats, target)
	}
	target.upsert(c)
	ti.compact()
}

// compact forgets matrices without rows.
func (ti *tenantIndex) compact() {
	kept := ti.mats[:0]
	for _, m := range ti.mats {
		if m.len() > 0 {
			kept = append(kept, m)
		}
	}
	clear(ti.mats[len(kept):])
	ti.mats = kept
}

// normalizedChunks validates chunks and returns copies with unit-length vectors.
func normalizedChunks(chunks []domain.Chunk) ([]domain.Chunk, error) {
	out := make([]domain.Chunk, len(chunks))
	backing := 0
	for _, c := range chunks {
		backing += len(c.Vector)
	}
	vecs := make([]float32, backing)
	for i, c := range chunks {
		field := fmt.Sprintf("chunks[%d]", i)
		switch {
		case c.DocumentID == "":
			return nil, domain.Invalid(domain.FieldError{Field: field + ".document_id", Message: "must not be empty"})
		case c.Index < 0:
			return nil, domain.Invalid(domain.FieldError{Field: field + ".index", Message: "must not be negative"})
		case len(c.Vector) == 0 || !finite(c.Vector):
			return nil, domain.Invalid(domain.FieldError{Field: field + ".vector", Message: "must be a non-empty vector of finite numbers"})
		}
		v := vecs[:len(c.Vector):len(c.Vector)]
		vecs = vecs[len(c.Vector):]
		normalizeInto(v, c.Vector)
		c.Vector = v
		out[i] = c
	}
	return out, nil
}

// normalizeInto writes src scaled to unit length into dst; a zero vector stays zero.
func normalizeInto(dst, src []float32) {
	var sum float64
	for _, x := range src {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		copy(dst, src)
		return
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range src {
		dst[i] = float32(float64(x) * inv)
	}
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// storeError adds context to a ChunkStore failure; an error that is neither a
// *domain.Error nor the context's own is KindUnavailable.
func storeError(what string, err error) error {
	if domain.AsError(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, domain.ErrUnavailable.With(err))
}
