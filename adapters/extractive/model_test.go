package extractive_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/extractive"
	"github.com/tenantry/tenantry/adapters/lexical"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

func TestChatModelContract(t *testing.T) {
	porttest.ChatModel(t, func(*testing.T) ports.ChatModel { return extractive.New(extractive.Config{}) })
}

var passages = []domain.Passage{
	{DocumentID: "d-travel", Title: "Travel policy", Text: "Book all travel through the company portal. Economy class is the default for flights under six hours."},
	{DocumentID: "d-refund", Title: "Refunds", Text: "Customers may return products within 30 days. Refunds are paid to the original card within five business days."},
	{DocumentID: "d-office", Title: "Office", Text: "The coffee machine is cleaned every Tuesday."},
}

func ask(question string) []domain.ChatMessage {
	return []domain.ChatMessage{
		{Role: domain.MessageSystem, Content: "Answer from the passages."},
		{Role: domain.MessageUser, Content: "an earlier question about coffee"},
		{Role: domain.MessageAssistant, Content: "an earlier answer"},
		{Role: domain.MessageUser, Content: question},
	}
}

// collect drains a stream and returns the text deltas, the final delta and the error.
func collect(t *testing.T, seq func(func(domain.Delta, error) bool)) ([]string, domain.Delta, error) {
	t.Helper()
	var texts []string
	var final domain.Delta
	for d, err := range seq {
		if err != nil {
			return texts, final, err
		}
		if d.Done {
			final = d
			continue
		}
		require.False(t, final.Done, "a delta after Done")
		texts = append(texts, d.Text)
	}
	return texts, final, nil
}

var citation = regexp.MustCompile(`> (.+) \[(\d+)\]`)

func TestAnswerQuotesBestSentencesWithCitations(t *testing.T) {
	t.Parallel()
	m := extractive.New(extractive.Config{MaxQuotes: 2})
	texts, final, err := collect(t, m.Stream(t.Context(), ask("How long do refunds take to be paid?"), domain.ChatParams{Passages: passages}))
	require.NoError(t, err)
	answer := strings.Join(texts, "")
	t.Logf("answer:\n%s", answer)

	quotes := citation.FindAllStringSubmatch(answer, -1)
	require.NotEmpty(t, quotes)
	assert.Equal(t, "Refunds are paid to the original card within five business days.", quotes[0][1], "the best sentence comes first")
	assert.Equal(t, "2", quotes[0][2])
	for _, q := range quotes {
		n, err := strconv.Atoi(q[2])
		require.NoError(t, err)
		require.True(t, n >= 1 && n <= len(passages), "citation [%d] out of range", n)
		assert.Contains(t, passages[n-1].Text, q[1], "the quote is not in the passage it cites")
	}
	assert.NotContains(t, answer, "coffee", "an earlier question must not steer the answer")

	assert.True(t, final.Done)
	assert.Equal(t, "extractive", final.Model)
	assert.Equal(t, "stop", final.FinishReason)
	assert.Equal(t, len(strings.Fields(answer)), final.Usage.CompletionTokens)
	assert.Equal(t, 4+5+3+len(strings.Fields("How long do refunds take to be paid?")), final.Usage.PromptTokens)
}

func TestAnswerStreamsSmallPieces(t *testing.T) {
	t.Parallel()
	m := extractive.New(extractive.Config{WordsPerDelta: 2})
	q := "Which class is the default for flights?"
	texts, _, err := collect(t, m.Stream(t.Context(), ask(q), domain.ChatParams{Passages: passages}))
	require.NoError(t, err)
	require.Greater(t, len(texts), 5)
	for _, piece := range texts {
		assert.LessOrEqual(t, len(strings.Fields(piece)), 2, "piece %q", piece)
		assert.NotEmpty(t, piece)
	}
	assert.Equal(t, m.Answer(q, passages), strings.Join(texts, ""), "pieces must add up to the answer exactly")
	assert.Contains(t, strings.Join(texts, ""), "> Economy class is the default for flights under six hours. [1]")
}

func TestAnswerWithoutPassages(t *testing.T) {
	t.Parallel()
	texts, final, err := collect(t, extractive.New(extractive.Config{}).Stream(t.Context(), ask("Anything?"), domain.ChatParams{}))
	require.NoError(t, err)
	assert.Equal(t, "I could not find this in the tenant's documents.", strings.Join(texts, ""))
	assert.Equal(t, "stop", final.FinishReason)
	assert.Equal(t, "extractive", final.Model)
}

func TestAnswerWithoutSharedWordsSaysSo(t *testing.T) {
	t.Parallel()
	got := extractive.New(extractive.Config{}).Answer("What is the wifi password?", passages)
	assert.Equal(t, extractive.NotFound, got, "noise is not quoted")
}

func TestAnswerSkipsHeadingsAndListMarkers(t *testing.T) {
	t.Parallel()
	doc := []domain.Passage{{DocumentID: "d", Title: "Refund policy", Text: "# Refund policy\n\n## Refund\n1. Ask for a refund by email.\n- Refunds take a week."}}
	got := extractive.New(extractive.Config{}).Answer("refund", doc)
	assert.NotContains(t, got, "#")
	assert.NotContains(t, got, "> Refund [1]", "a heading is not a sentence")
	assert.Contains(t, got, "> Ask for a refund by email. [1]")
	assert.Contains(t, got, "> Refunds take a week. [1]")
}

func TestAnswerPrefersTheKindOfFactAQuestionAsksFor(t *testing.T) {
	t.Parallel()
	doc := []domain.Passage{{DocumentID: "d", Title: "Plans", Text: "Accounts closed for abuse get no refund. " +
		"A refund can be requested within 30 days of payment. Ask support about a refund or a plan. " +
		"The Team plan costs 8 euros per user. Every plan includes up to 3 notebooks. " +
		"Plans renew automatically and a refund goes to the card you used."}}
	tests := []struct{ question, first string }{
		{"How long do I have to ask for a refund?", "A refund can be requested within 30 days of payment."},
		{"How soon can I ask for a refund?", "A refund can be requested within 30 days of payment."},
		{"What does the Team plan cost?", "The Team plan costs 8 euros per user."},
		{"How many notebooks does a plan include?", "Every plan includes up to 3 notebooks."},
		{"Which card is refunded?", "Plans renew automatically and a refund goes to the card you used."},
	}
	m := extractive.New(extractive.Config{Terms: lexical.Terms})
	for _, tc := range tests {
		t.Run(tc.question, func(t *testing.T) {
			quotes := citation.FindAllStringSubmatch(m.Answer(tc.question, doc), -1)
			require.NotEmpty(t, quotes)
			assert.Equal(t, tc.first, quotes[0][1])
		})
	}
}

func TestAnswerQuotesOverlappingPassagesOnce(t *testing.T) {
	t.Parallel()
	overlap := []domain.Passage{
		{DocumentID: "d", Chunk: 0, Text: "Intro text here. The warranty lasts two years."},
		{DocumentID: "d", Chunk: 1, Text: "The warranty lasts two years. It covers parts."},
	}
	got := extractive.New(extractive.Config{}).Answer("How long is the warranty?", overlap)
	assert.Equal(t, 1, strings.Count(got, "The warranty lasts two years."))
	assert.Contains(t, got, "The warranty lasts two years. [1]")
}

func TestMaxTokensCutsTheAnswer(t *testing.T) {
	t.Parallel()
	texts, final, err := collect(t, extractive.New(extractive.Config{}).Stream(t.Context(), ask("refunds paid"), domain.ChatParams{MaxTokens: 5, Passages: passages}))
	require.NoError(t, err)
	assert.Len(t, strings.Fields(strings.Join(texts, "")), 5)
	assert.Equal(t, "length", final.FinishReason)
	assert.Equal(t, 5, final.Usage.CompletionTokens)
}

func TestCancellationEndsPromptlyWithCtxErr(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := 0
	var final error
	for d, err := range extractive.New(extractive.Config{WordsPerDelta: 1}).Stream(ctx, ask("refunds"), domain.ChatParams{Passages: passages}) {
		if err != nil {
			final = err
			break
		}
		require.False(t, d.Done, "Done after cancellation")
		got++
		if got == 2 {
			cancel()
		}
	}
	assert.Equal(t, 2, got, "no delta may follow the cancellation")
	assert.ErrorIs(t, final, context.Canceled)
}

func TestEarlyBreakIsSafe(t *testing.T) {
	t.Parallel()
	m := extractive.New(extractive.Config{})
	for range 3 {
		for d := range m.Stream(t.Context(), ask("refunds"), domain.ChatParams{Passages: passages}) {
			assert.NotEmpty(t, d.Text)
			break
		}
	}
}

func TestAnswerMatchesWordFormsAndCJK(t *testing.T) {
	t.Parallel()
	m := extractive.New(extractive.Config{MaxQuotes: 1})
	tests := []struct {
		name      string
		question  string
		passages  []domain.Passage
		wantQuote string
	}{
		{
			name:      "inflected English words",
			question:  "When are expenses reimbursed?",
			passages:  []domain.Passage{{Text: "Submit receipts within thirty days. Reimbursements are paid with the monthly salary."}},
			wantQuote: "> Reimbursements are paid with the monthly salary. [1]",
		},
		{
			name:      "Japanese without spaces",
			question:  "返品は何日以内ですか？",
			passages:  []domain.Passage{{Text: "配送は無料です。返品は30日以内に受け付けます。"}},
			wantQuote: "> 返品は30日以内に受け付けます。 [1]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Contains(t, m.Answer(tc.question, tc.passages), tc.wantQuote)
		})
	}
}
