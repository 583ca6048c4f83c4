package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestVectorEpochFollowsTheVectorSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		patches   []domain.TenantPatch
		wantEpoch int
		wantReady bool
		wantMode  string
	}{
		{name: "new tenant", wantEpoch: 0, wantReady: true, wantMode: domain.RetrievalLexical},
		{name: "prompt and keys change no vectors", patches: []domain.TenantPatch{
			{SystemPrompt: p("Be brief."), EmbedderAPIKey: p(domain.Secret("emb-key-123456789")), TopK: p(6)}},
			wantEpoch: 0, wantReady: true, wantMode: domain.RetrievalLexical},
		{name: "lexical to hybrid needs vectors", patches: []domain.TenantPatch{{Mode: p(domain.RetrievalHybrid)}},
			wantEpoch: 1, wantReady: false, wantMode: domain.RetrievalLexical},
		{name: "a neural embedder makes auto hybrid", patches: []domain.TenantPatch{
			{EmbedderName: p(domain.EmbedderOpenAI), EmbedderModel: p("text-embedding-3-small")}},
			wantEpoch: 1, wantReady: false, wantMode: domain.RetrievalLexical},
		{name: "back to lexical needs nothing", patches: []domain.TenantPatch{{Mode: p(domain.RetrievalHybrid)}, {Mode: p(domain.RetrievalLexical)}},
			wantEpoch: 2, wantReady: true, wantMode: domain.RetrievalLexical},
		{name: "hybrid to dense keeps the same vectors", patches: []domain.TenantPatch{{Mode: p(domain.RetrievalHybrid)}, {Mode: p(domain.RetrievalDense)}},
			wantEpoch: 1, wantReady: false, wantMode: domain.RetrievalLexical},
		{name: "there and back is still a new epoch", patches: []domain.TenantPatch{
			{Mode: p(domain.RetrievalHybrid)}, {EmbedderDims: p(256)}, {EmbedderDims: p(domain.DefaultDimensions)}},
			wantEpoch: 3, wantReady: false, wantMode: domain.RetrievalLexical},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn, err := domain.NewTenant("acme", "Acme", time.Unix(0, 0))
			require.NoError(t, err)
			for _, patch := range tc.patches {
				require.NoError(t, patch.Apply(&tn))
			}
			assert.Equal(t, domain.VectorState{Epoch: tc.wantEpoch, Ready: tc.wantReady}, tn.Vectors)
			assert.Equal(t, tc.wantMode, tn.ServingMode())
		})
	}
}

func TestVectorsBuiltOnlyForTheCurrentEpoch(t *testing.T) {
	t.Parallel()
	tn, err := domain.NewTenant("acme", "Acme", time.Unix(0, 0))
	require.NoError(t, err)
	require.NoError(t, domain.TenantPatch{Mode: p(domain.RetrievalHybrid)}.Apply(&tn))
	epoch := tn.Vectors.Epoch
	require.NoError(t, domain.TenantPatch{EmbedderDims: p(256)}.Apply(&tn))

	assert.False(t, tn.VectorsBuilt(epoch), "a job for an older epoch must not make the vectors ready")
	assert.Equal(t, domain.RetrievalLexical, tn.ServingMode())
	assert.True(t, tn.VectorsBuilt(tn.Vectors.Epoch))
	assert.Equal(t, domain.RetrievalHybrid, tn.ServingMode())
}

func TestReindexJobLifecycle(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lease := time.Minute
	tn, err := domain.NewTenant("acme", "Acme", now)
	require.NoError(t, err)

	var j domain.ReindexJob
	require.NoError(t, j.StartReindex("job-1", tn, now))
	assert.Equal(t, domain.ReindexRunning, j.State)
	assert.True(t, j.Claimable(now))
	assert.True(t, errors.Is(j.StartReindex("job-2", tn, now), domain.ErrReindexRunning))

	require.NoError(t, j.Claim("node-a", now, lease))
	assert.False(t, j.Claimable(now.Add(lease-time.Second)))
	assert.ErrorIs(t, j.Claim("node-b", now.Add(lease-time.Second), lease), domain.ErrReindexLost)
	require.NoError(t, j.Advance("node-a", domain.ChunkRef{Document: "d1", Index: 3}, 4, 6, now, lease))
	assert.Equal(t, 4, j.Done)
	assert.Equal(t, 10, j.Total)

	// node-a stops renewing: once its lease ran out node-b takes over from the cursor,
	// and node-a's late writes are refused.
	later := now.Add(2 * lease)
	require.True(t, j.Claimable(later))
	require.NoError(t, j.Claim("node-b", later, lease))
	assert.ErrorIs(t, j.Advance("node-a", domain.ChunkRef{Document: "d2"}, 1, 0, later, lease), domain.ErrReindexLost)
	assert.Equal(t, domain.ChunkRef{Document: "d1", Index: 3}, j.Cursor)

	require.NoError(t, j.Release("node-b", "embedder unavailable"))
	assert.True(t, j.Claimable(later), "a released job is claimable at once")
	require.NoError(t, j.Claim("node-b", later, lease))
	require.NoError(t, j.Rewind("node-b", 2, 12))
	assert.Equal(t, domain.ReindexJob{ID: "job-1", TenantID: "acme", State: domain.ReindexRunning, Epoch: 2, Total: 12,
		Error: "embedder unavailable", Owner: "node-b", LeaseUntil: later.Add(lease), StartedAt: now}, j)

	require.NoError(t, j.Advance("node-b", domain.ChunkRef{Document: "d9", Index: 1}, 12, 0, later, lease))
	require.NoError(t, j.Finish("node-b", later))
	assert.Equal(t, domain.ReindexDone, j.State)
	assert.Equal(t, 12, j.Total)
	assert.Empty(t, j.Owner)
	assert.Equal(t, later, j.FinishedAt)
	assert.False(t, j.Claimable(later))
	assert.ErrorIs(t, j.Fail("node-b", "late", later), domain.ErrReindexLost)

	require.NoError(t, j.StartReindex("job-2", tn, later), "a finished job is replaced")
	assert.Equal(t, "job-2", j.ID)
	assert.Zero(t, j.Done)
}
