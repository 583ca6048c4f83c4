package openai_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/openai"
	"github.com/tenantry/tenantry/adapters/openai/openaitest"
	"github.com/tenantry/tenantry/ports"
	"github.com/tenantry/tenantry/ports/porttest"
)

func TestChatModelContract(t *testing.T) {
	t.Parallel()
	porttest.ChatModel(t, func(t *testing.T) ports.ChatModel {
		srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey, Reply: []string{"Book", " travel", " in", " the", " portal", " [1]."},
			Delay: 5 * time.Millisecond})
		return newChat(t, srv, tenantKey)
	})
}

func TestEmbedderContract(t *testing.T) {
	t.Parallel()
	srv := openaitest.New(t, openaitest.Options{APIKey: tenantKey})
	e, err := openai.NewEmbedder(openai.EmbedderConfig{BaseURL: srv.URL, APIKey: tenantKey, Model: "text-embedding-3-small",
		Dimensions: 256, HTTPClient: newHTTPClient(t)})
	require.NoError(t, err)
	porttest.Embedder(t, e)
}
