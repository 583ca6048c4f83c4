package observe

import (
	"context"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Embedder times and counts the calls of the Embedder it wraps.
type Embedder struct {
	next     ports.Embedder
	provider string
	tenant   domain.TenantID
	o        *Observer
}

var _ ports.Embedder = (*Embedder)(nil)

// NewEmbedder wraps next, an embedder of provider used for tenant (which may be "").
func NewEmbedder(next ports.Embedder, provider string, tenant domain.TenantID, o *Observer) *Embedder {
	return &Embedder{next: next, provider: provider, tenant: tenant, o: o}
}

// Embed calls the wrapped embedder.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c := e.o.begin(ServiceEmbedder, e.provider, "embed", e.tenant)
	vecs, err := e.next.Embed(ctx, texts)
	c.end(ctx, outcomeOf(ctx, err), err, zap.Int("texts", len(texts)), zap.Int("vectors", len(vecs)))
	return vecs, err
}

// EmbedQuery calls the wrapped embedder.
func (e *Embedder) EmbedQuery(ctx context.Context, query string) ([]float32, error) {
	c := e.o.begin(ServiceEmbedder, e.provider, "embed_query", e.tenant)
	vec, err := e.next.EmbedQuery(ctx, query)
	c.end(ctx, outcomeOf(ctx, err), err)
	return vec, err
}

// Dimensions is the wrapped embedder's.
func (e *Embedder) Dimensions() int { return e.next.Dimensions() }
