package tokencount_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tenantry/tenantry/adapters/tokencount"
	"github.com/tenantry/tenantry/domain"
)

// The reference counts are OpenAI's tiktoken encodings of these strings, as the
// tokenizer library's own test vectors list their token ids.
const (
	shakespeare = "We know what we are, but know not what we may be." // 14 tokens in both encodings
	supercali   = "supercalifragilistic"                              // o200k_base: 6, cl100k_base: 7
	apostrophe  = "'RE"                                               // o200k_base: 2, cl100k_base: 1
)

func TestCounterCountsOpenAIModelsWithTheirEncoding(t *testing.T) {
	c := tokencount.New()
	for _, tc := range []struct {
		model string
		text  string
		want  int
	}{
		{"gpt-4o", supercali, 6},
		{"gpt-4o-mini", apostrophe, 2},
		{"gpt-4o-2024-08-06", shakespeare, 14},
		{"gpt-4.1-nano", supercali, 6},
		{"gpt-5", supercali, 6},
		{"gpt-5.1", apostrophe, 2},
		{"o3-mini", supercali, 6},
		{"o1", apostrophe, 2},
		{"o4-mini", shakespeare, 14},
		{"chatgpt-4o-latest", supercali, 6},
		{"ft:gpt-4o-mini:acme::abc123", supercali, 6},
		{"openai/gpt-4o", supercali, 6},
		{"gpt-4", supercali, 7},
		{"gpt-4-turbo", apostrophe, 1},
		{"gpt-3.5-turbo", supercali, 7},
		{"gpt-35-turbo", shakespeare, 14},
		{"gpt-4o", "", 0},
	} {
		t.Run(tc.model, func(t *testing.T) {
			assert.Equal(t, tc.want, c.Tokens(domain.LLMOpenAI, tc.model, tc.text))
		})
	}
}

func TestCounterEstimatesOtherModelsAtFourBytesPerToken(t *testing.T) {
	c := tokencount.New()
	for _, tc := range []struct{ provider, model string }{
		{domain.LLMOpenAI, "llama3.1:8b"},
		{domain.LLMOpenAI, "o10-preview"},
		{domain.LLMOpenAI, "mistral-large"},
		{domain.LLMExtractive, "gpt-4o"},
	} {
		assert.Equal(t, domain.EstimateTokens(supercali), c.Tokens(tc.provider, tc.model, supercali), "%s/%s", tc.provider, tc.model)
	}
	assert.Equal(t, 5, domain.EstimateTokens(supercali), "20 bytes at 4 bytes per token")
}

func TestCounterIsSafeForConcurrentUse(t *testing.T) {
	c := tokencount.New()
	done := make(chan int)
	for range 8 {
		go func() { done <- c.Tokens(domain.LLMOpenAI, "gpt-4o", shakespeare) }()
	}
	for range 8 {
		assert.Equal(t, 14, <-done)
	}
}

// BenchmarkCounterPrompt4KB counts a 4 KB prompt of English prose, what a chat with a
// few passages sends, with each encoding and with the estimate used for other models.
func BenchmarkCounterPrompt4KB(b *testing.B) {
	c := tokencount.New()
	text := strings.Repeat(shakespeare+" ", 4096/(len(shakespeare)+1))
	for _, model := range []string{"gpt-4o", "gpt-4", "llama-3.1-8b"} {
		c.Tokens(domain.LLMOpenAI, model, text) // loads the vocabulary outside the timing
		b.Run(model, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				c.Tokens(domain.LLMOpenAI, model, text)
			}
		})
	}
}
