package pinecone_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/pinecone"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

// perTenant routes each call to the index client built for its tenant, as the
// composition root does: one client per tenant, each with its own key and namespace.
type perTenant map[domain.TenantID]*pinecone.Index

var _ ports.VectorIndex = perTenant(nil)

func (p perTenant) of(t domain.TenantID) (*pinecone.Index, error) {
	x, ok := p[t]
	if !ok {
		return nil, fmt.Errorf("no pinecone index for tenant %s", t)
	}
	return x, nil
}

func (p perTenant) Upsert(ctx context.Context, t domain.TenantID, chunks []domain.Chunk) error {
	x, err := p.of(t)
	if err != nil {
		return err
	}
	return x.Upsert(ctx, t, chunks)
}

func (p perTenant) Search(ctx context.Context, t domain.TenantID, q []float32, k int, minScore float64) (domain.SearchResult, error) {
	x, err := p.of(t)
	if err != nil {
		return domain.SearchResult{}, err
	}
	return x.Search(ctx, t, q, k, minScore)
}

func (p perTenant) DeleteDocument(ctx context.Context, t domain.TenantID, d domain.DocumentID) error {
	x, err := p.of(t)
	if err != nil {
		return err
	}
	return x.DeleteDocument(ctx, t, d)
}

func (p perTenant) DropTenant(ctx context.Context, t domain.TenantID) error {
	x, err := p.of(t)
	if err != nil {
		return err
	}
	return x.DropTenant(ctx, t)
}

func TestVectorIndexContract(t *testing.T) {
	t.Parallel()
	tenants := porttest.IndexTenants()
	t.Run("each tenant its own key and index", func(t *testing.T) {
		t.Parallel()
		porttest.VectorIndex(t, func(t *testing.T) ports.VectorIndex {
			srv := pineconetest.New(t, porttest.IndexDimensions, keyA, keyB)
			return perTenant{
				tenants[0]: newIndex(t, srv, tenants[0], keyA, string(tenants[0])),
				tenants[1]: newIndex(t, srv, tenants[1], keyB, string(tenants[1])),
			}
		})
	})
	t.Run("tenants sharing one index by namespace", func(t *testing.T) {
		t.Parallel()
		porttest.VectorIndex(t, func(t *testing.T) ports.VectorIndex {
			srv := pineconetest.New(t, porttest.IndexDimensions, keyA)
			return perTenant{
				tenants[0]: newIndex(t, srv, tenants[0], keyA, ""),
				tenants[1]: newIndex(t, srv, tenants[1], keyA, ""),
			}
		})
	})
}

func TestEmbedderContract(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t, porttest.IndexDimensions, keyA)
	e, err := pinecone.NewEmbedder(pinecone.EmbedderConfig{Host: srv.URL, APIKey: keyA, Model: "llama-text-embed-v2", Dimensions: 384, Retry: fastRetry})
	require.NoError(t, err)
	porttest.Embedder(t, e)
}
