package observe

import (
	"context"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Vendors wraps each tenant's embedder, vector index and chat model, built by the
// factory it wraps, in the decorators of this package, labelled with the tenant's
// configured provider.
type Vendors struct {
	next ports.Vendors
	o    *Observer
}

var _ ports.Vendors = (*Vendors)(nil)

// NewVendors wraps next.
func NewVendors(next ports.Vendors, o *Observer) *Vendors { return &Vendors{next: next, o: o} }

// Embedder returns the tenant's embedder, observed.
func (v *Vendors) Embedder(t domain.Tenant) (ports.Embedder, error) {
	e, err := v.next.Embedder(t)
	if err != nil {
		return nil, err
	}
	return NewEmbedder(e, t.Embedder.Provider, t.ID, v.o), nil
}

// VectorIndex returns the tenant's vector index, observed; an index that lists its
// documents' vectors (ports.VectorLister) still does.
func (v *Vendors) VectorIndex(t domain.Tenant) (ports.VectorIndex, error) {
	idx, err := v.next.VectorIndex(t)
	if err != nil {
		return nil, err
	}
	observed := NewVectorIndex(idx, t.VectorStore.Provider, v.o)
	if l, ok := idx.(ports.VectorLister); ok {
		return &ListingVectorIndex{VectorIndex: observed, lister: l}, nil
	}
	return observed, nil
}

// ChatModel returns the tenant's chat model, observed.
func (v *Vendors) ChatModel(t domain.Tenant) (ports.ChatModel, error) {
	m, err := v.next.ChatModel(t)
	if err != nil {
		return nil, err
	}
	return NewChatModel(m, t.LLM.Provider, t.ID, v.o), nil
}

// Check passes through to the wrapped factory: it runs only when an admin changes a
// tenant's configuration, and its error goes back to that admin.
func (v *Vendors) Check(ctx context.Context, t domain.Tenant) error { return v.next.Check(ctx, t) }
