package bootstrap

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/adapters/pinecone/pineconetest"
	"github.com/tenantry/tenantry/adapters/tokencount"
	"github.com/tenantry/tenantry/domain"
)

// TestUsageOfAClientGoneIsCountedWithTheModelsTokenizer: a client that leaves an
// OpenAI model's stream before the vendor's usage arrives is charged what the model's
// own encoding counts (o200k_base for gpt-4o-mini), for the prompt as sent and the text
// produced, marked estimated.
func TestUsageOfAClientGoneIsCountedWithTheModelsTokenizer(t *testing.T) {
	t.Parallel()
	reply := []string{"Supercalifragilistic", " refunds arrive within thirty days.", " Never seen."}
	produced := reply[0] + reply[1]
	pcKey, aiKey := vtKey("pcsk", "acme"), vtKey("sk", "acme")
	pc := pineconetest.New(t, vtDims, pcKey)
	ai := openaitest.New(t, openaitest.Options{APIKey: aiKey, Reply: reply})
	e := vtNewEnv(t, nil)
	token := e.tenant(t, "acme", vtVendorConfig(pc, pcKey, ai, aiKey, vtAcmePrompt))
	e.ingest(t, token, "Refunds", vtAcmeDoc)
	ai.Inject(openaitest.Fault{Path: "/chat/completions", After: 2, Stall: true})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/chat/stream", strings.NewReader(fmt.Sprintf(`{"message":%q}`, vtQuestion)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	tokens := 0
	for sc := bufio.NewScanner(res.Body); tokens < len(reply)-1 && sc.Scan(); {
		if sc.Text() == "event: token" {
			tokens++
		}
	}
	require.Equal(t, len(reply)-1, tokens, "the stream ended before the produced text arrived")
	cancel() // the client leaves while the model is still answering
	_ = res.Body.Close()

	var usage map[string]any
	require.Eventually(t, func() bool {
		usage = e.want(t, http.StatusOK, e.send(t, http.MethodGet, "/usage", token, ""))
		return usage["requests"] == 1.0
	}, 10*time.Second, 10*time.Millisecond, "the answer the client left was not recorded")

	counter := tokencount.New()
	count := func(s string) int { return counter.Tokens(domain.LLMOpenAI, vtModel, s) }
	wantCompletion := count(produced)
	require.NotEqual(t, domain.EstimateTokens(produced), wantCompletion, "the reply must tell the tokenizer from the 4-byte rule")
	assert.Equal(t, float64(wantCompletion), usage["completion_tokens"], "the text produced, counted with o200k_base")
	reqs := ai.ChatRequests()
	require.Len(t, reqs, 1)
	msgs := make([]domain.ChatMessage, 0, len(reqs[0].Messages))
	for _, m := range reqs[0].Messages {
		msgs = append(msgs, domain.ChatMessage{Role: m.Role, Content: m.Content})
	}
	assert.Equal(t, float64(domain.EstimatePromptTokens(msgs, count)), usage["prompt_tokens"], "the prompt as sent, counted with o200k_base")
	assert.Equal(t, usage["total_tokens"], usage["estimated_tokens"], "all of it is marked estimated")
}
