package pineconetest

import (
	"hash/fnv"
	"math"
	"net/http"
	"net/url"
	"strings"
)

// maxEmbedInputs is the hosted models' documented batch limit.
const maxEmbedInputs = 96

func (s *Server) embed(x *exchange) {
	var req struct {
		Model      string         `json:"model"`
		Parameters map[string]any `json:"parameters"`
		Inputs     []struct {
			Text string `json:"text"`
		} `json:"inputs"`
	}
	if !s.decode(x, &req) {
		return
	}
	x.call.Count = len(req.Inputs)
	x.call.InputType, _ = req.Parameters["input_type"].(string)
	if req.Model == "" {
		s.violate(x, http.StatusBadRequest, "embed: model is required")
		return
	}
	if n := len(req.Inputs); n == 0 || n > maxEmbedInputs {
		s.violate(x, http.StatusBadRequest, "embed: %d inputs, must be 1-%d", n, maxEmbedInputs)
		return
	}
	dims := s.dim
	for k, v := range req.Parameters {
		switch k {
		case "input_type":
			if v != "passage" && v != "query" {
				s.violate(x, http.StatusBadRequest, "embed: input_type %v", v)
				return
			}
		case "truncate":
			if v != "END" && v != "NONE" && v != "START" {
				s.violate(x, http.StatusBadRequest, "embed: truncate %v", v)
				return
			}
		case "dimension":
			f, ok := v.(float64)
			if !ok || f < 1 || f != math.Trunc(f) {
				s.violate(x, http.StatusBadRequest, "embed: dimension %v", v)
				return
			}
			dims = int(f)
		default:
			s.violate(x, http.StatusBadRequest, "embed: undocumented parameter %q", k)
			return
		}
	}
	data := make([]map[string]any, len(req.Inputs))
	tokens := 0
	for i, in := range req.Inputs {
		if strings.TrimSpace(in.Text) == "" {
			s.fail(x, http.StatusBadRequest, "embed: empty input text")
			return
		}
		tokens += len(strings.Fields(in.Text))
		data[i] = map[string]any{"values": Vector(in.Text, dims), "vector_type": "dense"}
	}
	s.reply(x, http.StatusOK, map[string]any{"model": req.Model, "vector_type": "dense", "data": data,
		"usage": map[string]int{"total_tokens": tokens}})
}

// Vector is the embedding the fake Inference returns for text: a normalised bag of
// hashed lower-case words, so texts sharing words score high against each other.
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

// Model is a model description as Inference's GET /models/{model} returns it.
type Model struct {
	Model               string `json:"model"`
	Type                string `json:"type"`
	VectorType          string `json:"vector_type"`
	DefaultDimension    int    `json:"default_dimension,omitempty"`
	SupportedDimensions []int  `json:"supported_dimensions,omitempty"`
	MaxBatchSize        int    `json:"max_batch_size"`
}

// Models are the hosted models the server describes, as Pinecone documents them: a
// Matryoshka model, a fixed-size one, a sparse one and a reranker.
var Models = []Model{
	{Model: "llama-text-embed-v2", Type: "embed", VectorType: "dense", DefaultDimension: 1024,
		SupportedDimensions: []int{384, 512, 768, 1024, 2048}, MaxBatchSize: 96},
	{Model: "multilingual-e5-large", Type: "embed", VectorType: "dense", DefaultDimension: 1024,
		SupportedDimensions: []int{1024}, MaxBatchSize: 96},
	{Model: "pinecone-sparse-english-v0", Type: "embed", VectorType: "sparse", MaxBatchSize: 96},
	{Model: "bge-reranker-v2-m3", Type: "rerank", MaxBatchSize: 100},
}

// describeModel serves GET /models/{model}; an unknown model is the control plane's
// 404 ({"error":{"code":"NOT_FOUND",...},"status":404}).
func (s *Server) describeModel(x *exchange) {
	name, err := url.PathUnescape(strings.TrimPrefix(x.r.URL.EscapedPath(), "/models/"))
	if err != nil || name == "" || strings.Contains(name, "/") {
		s.violate(x, http.StatusBadRequest, "describe model: bad path %q", x.r.URL.EscapedPath())
		return
	}
	for _, m := range Models {
		if m.Model == name {
			s.reply(x, http.StatusOK, m)
			return
		}
	}
	s.reply(x, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "NOT_FOUND",
		"message": "Model '" + name + "' not found"}, "status": http.StatusNotFound})
}
