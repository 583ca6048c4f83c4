package pinecone

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tenantry/tenantry/domain"
)

// Limits Pinecone documents for the data plane.
const (
	maxUpsertVectors = 1000      // vectors per upsert request
	maxUpsertBytes   = 2_000_000 // bytes per upsert request (2 MB)
	maxMetadataBytes = 40_000    // metadata bytes per record (40 KB)
	maxIDLength      = 512
	maxTopK          = 10_000
	maxDeleteIDs     = 1000
	listPageSize     = 100
	maxListPages     = 100_000
	idSeparator      = "#"
)

// Metadata keys stored with every vector.
const (
	metaDocumentID = "document_id"
	metaChunk      = "chunk"
	metaTitle      = "title"
	metaText       = "text"
	// Set only when the chunk has them.
	metaPage    = "page"
	metaHeading = "heading"
)

type vector struct {
	ID       string         `json:"id"`
	Values   []float32      `json:"values"`
	Metadata map[string]any `json:"metadata"`
}

type upsertRequest struct {
	Vectors   []json.RawMessage `json:"vectors"`
	Namespace string            `json:"namespace"`
}

type queryRequest struct {
	Namespace       string    `json:"namespace"`
	Vector          []float32 `json:"vector"`
	TopK            int       `json:"topK"`
	IncludeMetadata bool      `json:"includeMetadata"`
	IncludeValues   bool      `json:"includeValues"`
}

type match struct {
	ID       string         `json:"id"`
	Score    float64        `json:"score"`
	Metadata map[string]any `json:"metadata"`
}

type queryResponse struct {
	Matches   []match `json:"matches"`
	Namespace string  `json:"namespace"`
	Usage     struct {
		ReadUnits int `json:"readUnits"`
	} `json:"usage"`
}

type deleteRequest struct {
	IDs       []string `json:"ids"`
	Namespace string   `json:"namespace"`
}

type listResponse struct {
	Vectors []struct {
		ID string `json:"id"`
	} `json:"vectors"`
	Pagination *struct {
		Next string `json:"next"`
	} `json:"pagination"`
}

type statsResponse struct {
	Dimension        int   `json:"dimension"`
	TotalVectorCount int64 `json:"totalVectorCount"`
	// VectorType is "dense" or "sparse"; an index that states none is judged by its
	// dimension.
	VectorType string `json:"vectorType"`
}

// vectorID is the id of chunk index i of document d.
func vectorID(d domain.DocumentID, i int) string {
	return string(d) + idSeparator + strconv.Itoa(i)
}

// validDocumentID reports whether d can prefix vector ids unambiguously: not empty, no
// separator (so "a#" never matches another document's ids) and no spaces (which the
// list operation refuses in a prefix).
func validDocumentID(d domain.DocumentID) bool {
	s := string(d)
	return s != "" && len(s) < maxIDLength-12 && !strings.Contains(s, idSeparator) &&
		!strings.ContainsFunc(s, unicode.IsSpace)
}

type batch struct {
	vectors []json.RawMessage
}

// upsertBatches encodes every chunk and groups them into requests within Pinecone's
// count and size limits, in order.
func upsertBatches(chunks []domain.Chunk) ([]batch, error) {
	var out []batch
	var cur batch
	size := 0
	for i, c := range chunks {
		raw, err := encodeChunk(c)
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", i, err)
		}
		if len(cur.vectors) > 0 && (len(cur.vectors) == maxUpsertVectors || size+len(raw)+1 > maxUpsertBytes-512) {
			out = append(out, cur)
			cur, size = batch{}, 0
		}
		cur.vectors = append(cur.vectors, raw)
		size += len(raw) + 1
	}
	if len(cur.vectors) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func encodeChunk(c domain.Chunk) (json.RawMessage, error) {
	if !validDocumentID(c.DocumentID) {
		return nil, domain.Invalid(domain.FieldError{Field: "document_id", Message: "must be a non-empty id without '#' or spaces"})
	}
	if c.Index < 0 {
		return nil, domain.Invalid(domain.FieldError{Field: "chunk", Message: "must not be negative"})
	}
	if len(c.Vector) == 0 {
		return nil, domain.Invalid(domain.FieldError{Field: "vector", Message: "must not be empty"})
	}
	md := map[string]any{metaDocumentID: string(c.DocumentID), metaChunk: c.Index, metaTitle: c.Title, metaText: c.Text}
	if c.Page > 0 {
		md[metaPage] = c.Page
	}
	if c.Heading != "" {
		md[metaHeading] = c.Heading
	}
	mdRaw, err := json.Marshal(md)
	if err != nil {
		return nil, domain.E(domain.KindInvalid, "invalid_request", "the chunk cannot be encoded", err)
	}
	if len(mdRaw) > maxMetadataBytes {
		return nil, domain.Invalid(domain.FieldError{Field: "text",
			Message: fmt.Sprintf("chunk %d is too large for Pinecone metadata (%d bytes, at most %d)", c.Index, len(mdRaw), maxMetadataBytes)})
	}
	raw, err := json.Marshal(vector{ID: vectorID(c.DocumentID, c.Index), Values: c.Vector, Metadata: md})
	if err != nil {
		// NaN and infinities cannot be encoded, nor stored by Pinecone.
		return nil, domain.E(domain.KindInvalid, "invalid_request", "the chunk vector holds a value that is not a finite number", err)
	}
	return raw, nil
}

// passages converts query matches, keeps those scoring at least minScore and orders
// them best first, ties by document id then chunk, at most k.
func passages(matches []match, k int, minScore float64) []domain.Passage {
	out := make([]domain.Passage, 0, len(matches))
	for _, m := range matches {
		if m.Score < minScore {
			continue
		}
		out = append(out, toPassage(m))
	}
	slices.SortStableFunc(out, func(a, b domain.Passage) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.DocumentID, b.DocumentID); c != 0 {
			return c
		}
		return cmp.Compare(a.Chunk, b.Chunk)
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}

func toPassage(m match) domain.Passage {
	p := domain.Passage{Score: m.Score}
	doc, idx, _ := strings.Cut(m.ID, idSeparator)
	p.DocumentID = domain.DocumentID(doc)
	p.Chunk, _ = strconv.Atoi(idx)
	if s, ok := m.Metadata[metaDocumentID].(string); ok && s != "" {
		p.DocumentID = domain.DocumentID(s)
	}
	if n, ok := m.Metadata[metaChunk].(float64); ok {
		p.Chunk = int(n)
	}
	p.Title, _ = m.Metadata[metaTitle].(string)
	p.Text, _ = m.Metadata[metaText].(string)
	if n, ok := m.Metadata[metaPage].(float64); ok {
		p.Page = int(n)
	}
	p.Heading, _ = m.Metadata[metaHeading].(string)
	return p
}
