// Package tokencount counts tokens with OpenAI's byte-pair encodings, embedded in the
// binary (no download at run time, so it works air-gapped), for answers whose vendor
// reported no usage.
package tokencount

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Counter counts OpenAI's chat models exactly: o200k_base for gpt-4o, gpt-4.1, gpt-5,
// chatgpt-4o and the o-series, cl100k_base for gpt-4 and gpt-3.5. Any other model, and
// any provider but domain.LLMOpenAI, is counted by domain.EstimateTokens. A vocabulary
// is loaded on its first use and kept.
type Counter struct {
	o200k, cl100k func() *codec.Codec
}

var _ ports.TokenCounter = (*Counter)(nil)

// New returns a Counter; it loads nothing until a known model is counted.
func New() *Counter {
	return &Counter{o200k: sync.OnceValue(codec.NewO200kBase), cl100k: sync.OnceValue(codec.NewCl100kBase)}
}

// Tokens returns the token count of text for the provider's model.
func (c *Counter) Tokens(provider, model, text string) int {
	if text == "" {
		return 0
	}
	enc := c.encoding(provider, model)
	if enc == nil {
		return domain.EstimateTokens(text)
	}
	n, err := enc().Count(text)
	if err != nil {
		return domain.EstimateTokens(text)
	}
	return n
}

// o200kFamilies and cl100kFamilies are model name prefixes, as OpenAI names its models
// and their dated snapshots ("gpt-4o-2024-08-06") and fine-tunes ("ft:gpt-4o-mini:…").
var (
	o200kFamilies  = []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4"}
	cl100kFamilies = []string{"gpt-4", "gpt-3.5", "gpt-35"}
)

// encoding picks the encoding of an OpenAI model, nil when it is not one.
func (c *Counter) encoding(provider, model string) func() *codec.Codec {
	if provider != domain.LLMOpenAI {
		return nil
	}
	name := strings.ToLower(strings.TrimPrefix(model, "ft:"))
	if i := strings.LastIndexByte(name, '/'); i >= 0 { // "openai/gpt-4o" on a gateway
		name = name[i+1:]
	}
	for _, f := range o200kFamilies {
		if family(name, f) {
			return c.o200k
		}
	}
	for _, f := range cl100kFamilies {
		if family(name, f) {
			return c.cl100k
		}
	}
	return nil
}

// family reports whether name is model f or one of its variants ("gpt-4o-mini",
// "o3-mini", "gpt-4.1-2025-04-14"), not a different model sharing the prefix ("o10").
func family(name, f string) bool {
	return name == f || strings.HasPrefix(name, f+"-") || strings.HasPrefix(name, f+":") || strings.HasPrefix(name, f+".")
}
