package hashing_test

import (
	"context"
	"hash/crc32"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/hashing"
	"github.com/tenantry/tenantry/ports/porttest"
)

func TestEmbedderContract(t *testing.T) {
	t.Run("default dimensions", func(t *testing.T) { porttest.Embedder(t, hashing.New(0)) })
	t.Run("small dimensions", func(t *testing.T) { porttest.Embedder(t, hashing.New(8)) })
}

func TestEmbedderDimensions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dims int
		want int
	}{
		{name: "default", dims: 0, want: 384},
		{name: "negative means default", dims: -5, want: 384},
		{name: "configured", dims: 64, want: 64},
		{name: "not a power of two", dims: 1000, want: 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := hashing.New(tc.dims)
			assert.Equal(t, tc.want, e.Dimensions())
			got, err := e.Embed(context.Background(), []string{"one text", "", "another text"})
			require.NoError(t, err)
			require.Len(t, got, 3)
			for _, v := range got {
				assert.Len(t, v, tc.want)
			}
		})
	}
}

func TestEmbedderNormalised(t *testing.T) {
	t.Parallel()
	texts := []string{"a", "Hello, world!", "Ünïcödé ÄÖÜ straße 東京タワー", "repeat repeat repeat repeat", "x1 y2 z3"}
	got, err := hashing.New(0).Embed(context.Background(), texts)
	require.NoError(t, err)
	for i, v := range got {
		assert.InDelta(t, 1.0, norm(v), 1e-5, "text %d", i)
	}
}

func TestEmbedderEmptyTextIsZero(t *testing.T) {
	t.Parallel()
	got, err := hashing.New(32).Embed(context.Background(), []string{"", "  ... !!! ", "\t"})
	require.NoError(t, err)
	for _, v := range got {
		assert.Equal(t, make([]float32, 32), v)
	}
}

func TestEmbedderDeterministicAndStable(t *testing.T) {
	t.Parallel()
	e := hashing.New(0)
	a, err := e.Embed(context.Background(), []string{"The refund policy allows returns within 30 days."})
	require.NoError(t, err)
	b, err := hashing.New(0).Embed(context.Background(), []string{"the REFUND policy allows returns within 30 days"})
	require.NoError(t, err)
	assert.Equal(t, a, b, "case and punctuation must not matter")
	// Stored vectors must stay comparable with new queries: this checksum pins the
	// hashing-v1 feature set and hash function. Changing it needs a new model name.
	sum := crc32.NewIEEE()
	for _, x := range a[0] {
		bits := math.Float32bits(x)
		_, _ = sum.Write([]byte{byte(bits), byte(bits >> 8), byte(bits >> 16), byte(bits >> 24)})
	}
	assert.Equal(t, uint32(0x05db2257), sum.Sum32(), "hashing-v1 output changed")
}

func TestEmbedderSimilarity(t *testing.T) {
	t.Parallel()
	e := hashing.New(0)
	query := "How many days do I have to return a product for a refund?"
	similar := "Products can be returned for a full refund within 30 days of delivery."
	inflected := "Refunds: returning products is possible for thirty days."
	unrelated := "The office coffee machine is cleaned every Tuesday morning by facilities."
	v, err := e.Embed(context.Background(), []string{query, similar, inflected, unrelated})
	require.NoError(t, err)
	simSimilar, simInflected, simUnrelated := dot(v[0], v[1]), dot(v[0], v[2]), dot(v[0], v[3])
	t.Logf("similar %.3f inflected %.3f unrelated %.3f", simSimilar, simInflected, simUnrelated)
	assert.Greater(t, simSimilar, simUnrelated+0.1)
	assert.Greater(t, simInflected, simUnrelated+0.05, "character trigrams should relate word forms")
	assert.InDelta(t, 1.0, dot(v[0], v[0]), 1e-5)
}

func TestEmbedderWordOrderMatters(t *testing.T) {
	t.Parallel()
	v, err := hashing.New(0).Embed(context.Background(), []string{"dog bites man", "dog bites man", "man bites dog"})
	require.NoError(t, err)
	assert.InDelta(t, 1.0, dot(v[0], v[1]), 1e-6)
	assert.Less(t, dot(v[0], v[2]), 0.99, "bigrams should tell word order apart")
	assert.Greater(t, dot(v[0], v[2]), 0.5, "same words should still be close")
}

func TestEmbedderHonoursCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := hashing.New(0).Embed(ctx, []string{"text"})
	require.ErrorIs(t, err, context.Canceled)
}

func norm(v []float32) float64 { return math.Sqrt(dot(v, v)) }

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func BenchmarkEmbed(b *testing.B) {
	e := hashing.New(0)
	text := "Products can be returned for a full refund within 30 days of delivery. " +
		"Shipping is free for orders over fifty euros, and express delivery costs extra. "
	texts := make([]string, 16)
	for i := range texts {
		for j := 0; j < 8; j++ {
			texts[i] += text
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
}
