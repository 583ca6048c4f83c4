package porttest

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Embedder tests a ports.Embedder: one vector per text, in order, each of Dimensions()
// finite values. Determinism is not part of the contract and is not tested.
func Embedder(t *testing.T, e ports.Embedder) {
	dims := e.Dimensions()

	t.Run("dimensions are positive", func(t *testing.T) {
		assert.Positive(t, dims)
	})

	t.Run("one vector per text, each of Dimensions values", func(t *testing.T) {
		texts := []string{
			"How do I book travel?",
			"Reimbursements are paid monthly.",
			"Ünïcode and emoji ✓ are text too.",
			strings.Repeat("a long passage of words ", 40),
		}
		got, err := e.Embed(t.Context(), texts)
		require.NoError(t, err)
		require.Len(t, got, len(texts))
		for i, v := range got {
			require.Len(t, v, dims, "vector %d", i)
			for j, x := range v {
				require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0), "vector %d value %d is %v", i, j, x)
			}
		}
	})

	t.Run("a single text gives a single vector", func(t *testing.T) {
		got, err := e.Embed(t.Context(), []string{"hello"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Len(t, got[0], dims)
	})

	t.Run("a query gives one vector of Dimensions values", func(t *testing.T) {
		got, err := e.EmbedQuery(t.Context(), "How do I book travel?")
		require.NoError(t, err)
		require.Len(t, got, dims)
		for j, x := range got {
			require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0), "value %d is %v", j, x)
		}
	})

	t.Run("no texts give no vectors", func(t *testing.T) {
		got, err := e.Embed(t.Context(), nil)
		require.NoError(t, err)
		assert.Empty(t, got)
	})

}

// NewChatModel builds a model for the ChatModel suite. For the messages and params the
// suite sends, the model must stream at least one text delta before its final one, so
// that cancellation mid-stream can be observed. The model may be slow (a stub server
// that paces its chunks); the suite waits up to a few seconds for a whole answer.
type NewChatModel func(t *testing.T) ports.ChatModel

// chatRequest is what the ChatModel suite asks: a question with retrieved passages.
func chatRequest() ([]domain.ChatMessage, domain.ChatParams) {
	passages := []domain.Passage{
		{DocumentID: domain.DocumentID(newID()), Title: "Travel policy", Chunk: 0, Score: 0.9, Text: "Book all travel through the company portal. Economy class is the default for flights under six hours. Hotels must be booked at least a week ahead."},
		{DocumentID: domain.DocumentID(newID()), Title: "Expenses", Chunk: 2, Score: 0.7, Text: "Submit receipts within thirty days. Reimbursements are paid with the monthly salary."},
	}
	msgs := []domain.ChatMessage{
		{Role: domain.MessageSystem, Content: "Answer using the reference passages and cite them as [n].\n[1] " + passages[0].Text + "\n[2] " + passages[1].Text},
		{Role: domain.MessageUser, Content: "How do I book travel and when are expenses reimbursed?"},
	}
	return msgs, domain.ChatParams{Model: "test-model", Temperature: ptr(0.2), MaxTokens: 256, Passages: passages}
}

// promptly bounds how long a cancelled or abandoned stream may take to end.
const promptly = 3 * time.Second

// ChatModel tests a ports.ChatModel: text deltas then one final Done delta, a prompt end
// with ctx's error on cancellation, and a safe early break.
func ChatModel(t *testing.T, newModel NewChatModel) {
	t.Run("streams text then one final done delta", func(t *testing.T) {
		m := newModel(t)
		msgs, p := chatRequest()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var deltas []domain.Delta
		for d, err := range m.Stream(ctx, msgs, p) {
			require.NoError(t, err)
			deltas = append(deltas, d)
		}
		require.NotEmpty(t, deltas)
		last := deltas[len(deltas)-1]
		assert.True(t, last.Done, "the last delta is not Done")
		assert.NotEmpty(t, last.FinishReason)
		assert.NotEmpty(t, last.Model)
		assert.GreaterOrEqual(t, last.Usage.PromptTokens, 0)
		assert.GreaterOrEqual(t, last.Usage.CompletionTokens, 0)
		var text strings.Builder
		for i, d := range deltas[:len(deltas)-1] {
			assert.False(t, d.Done, "delta %d is Done before the end", i)
			text.WriteString(d.Text)
		}
		text.WriteString(last.Text)
		assert.NotEmpty(t, strings.TrimSpace(text.String()), "no text streamed")
	})

	t.Run("an already cancelled context ends with its error", func(t *testing.T) {
		m := newModel(t)
		msgs, p := chatRequest()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		final, done, elapsed := drain(m.Stream(ctx, msgs, p), nil)
		assert.ErrorIs(t, final, context.Canceled)
		assert.False(t, done, "a cancelled stream yielded a Done delta")
		assert.Less(t, elapsed, promptly)
	})

	t.Run("cancelling mid-stream ends promptly with ctx's error", func(t *testing.T) {
		m := newModel(t)
		msgs, p := chatRequest()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var cancelledAt time.Time
		final, done, _ := drain(m.Stream(ctx, msgs, p), func(d domain.Delta) {
			if cancelledAt.IsZero() && !d.Done {
				cancelledAt = time.Now()
				cancel()
			}
		})
		require.False(t, cancelledAt.IsZero(), "the model streamed no text delta before Done; the factory must build one that does")
		assert.ErrorIs(t, final, context.Canceled)
		assert.False(t, done, "a Done delta came after cancellation")
		assert.Less(t, time.Since(cancelledAt), promptly)
	})

	t.Run("stopping early is safe and the model stays usable", func(t *testing.T) {
		m := newModel(t)
		msgs, p := chatRequest()
		for range 2 {
			start := time.Now()
			got := 0
			for _, err := range m.Stream(t.Context(), msgs, p) {
				require.NoError(t, err)
				got++
				break
			}
			assert.Equal(t, 1, got)
			assert.Less(t, time.Since(start), promptly+time.Second, "breaking out did not return promptly")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var last domain.Delta
		for d, err := range m.Stream(ctx, msgs, p) {
			require.NoError(t, err)
			last = d
		}
		assert.True(t, last.Done, "a full stream after early breaks did not finish")
	})
}

// drain consumes seq, calling each on every delta, and returns the error that ended it
// (nil if none), whether a Done delta came, and how long it took. A sequence that does
// not end within a generous bound is reported as an error.
func drain(seq func(yield func(domain.Delta, error) bool), each func(domain.Delta)) (final error, done bool, elapsed time.Duration) {
	type outcome struct {
		err  error
		done bool
	}
	start := time.Now()
	result := make(chan outcome, 1)
	go func() {
		var o outcome
		for d, err := range seq {
			if err != nil {
				o.err = err
				break
			}
			o.done = o.done || d.Done
			if each != nil {
				each(d)
			}
		}
		result <- o
	}()
	select {
	case o := <-result:
		return o.err, o.done, time.Since(start)
	case <-time.After(promptly + 10*time.Second):
		return errors.New("the stream did not end"), false, time.Since(start)
	}
}
