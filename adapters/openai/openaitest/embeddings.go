package openaitest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
)

type embeddingBody struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
	User           string          `json:"user"`
}

// embeddings answers with Vector of each input, listed in reverse order so that a
// client must put them back by index.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, raw []byte) {
	var b embeddingBody
	if err := decodeStrict(raw, &b); err != nil {
		s.violate(w, http.StatusBadRequest, "embeddings body: %v", err)
		return
	}
	var input []string
	if err := json.Unmarshal(b.Input, &input); err != nil {
		s.violate(w, http.StatusBadRequest, "embeddings input must be an array of strings: %v", err)
		return
	}
	req := EmbeddingRequest{Authorization: r.Header.Get("Authorization"), Model: b.Model, Input: input, Dimensions: b.Dimensions, EncodingFormat: b.EncodingFormat}
	s.mu.Lock()
	s.embeds = append(s.embeds, req)
	s.mu.Unlock()
	switch {
	case b.Model == "":
		s.violate(w, http.StatusBadRequest, "embeddings: model is required")
		return
	case len(input) == 0 || len(input) > 2048:
		s.violate(w, http.StatusBadRequest, "embeddings: %d inputs, must be 1-2048", len(input))
		return
	case b.EncodingFormat != "" && b.EncodingFormat != "float":
		s.violate(w, http.StatusBadRequest, "embeddings: encoding_format %q, tenantry reads floats", b.EncodingFormat)
		return
	}
	if !s.authorized(w, r) {
		return
	}
	if failStatus(w, s.fault("/embeddings")) {
		return
	}
	if b.Dimensions != nil && s.opts.NoMatryoshka {
		s.refuseDimensions(w, b.Model)
		return
	}
	dims := s.opts.EmbeddingDims
	if b.Dimensions != nil {
		dims = *b.Dimensions
	}
	data := make([]map[string]any, 0, len(input))
	tokens := 0
	for i := len(input) - 1; i >= 0; i-- {
		tokens += len(strings.Fields(input[i]))
		data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": Vector(input[i], dims)})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": b.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}

// refuseDimensions answers as vLLM does when a request asks a model without Matryoshka
// training for a size of its own: 400, whatever the size asked.
func (s *Server) refuseDimensions(w http.ResponseWriter, model string) {
	msg := fmt.Sprintf("Model %q does not support matryoshka representation, changing output dimensions will lead to poor results.", model)
	s.mu.Lock()
	s.violations = append(s.violations, "embeddings: dimensions sent to "+model)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "BadRequestError", "param": nil, "code": http.StatusBadRequest}})
}

// Vector is the embedding the server returns for text: a normalised bag of hashed
// lower-case words.
func Vector(text string, dims int) []float32 {
	v := make([]float32, dims)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(strings.Trim(w, ".,;:!?\"'()")))
		v[h.Sum32()%uint32(dims)]++
	}
	var n float64
	for _, f := range v {
		n += float64(f) * float64(f)
	}
	if n > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / math.Sqrt(n))
		}
	}
	return v
}
