// Package openai implements ports.ChatModel and ports.Embedder for any server speaking
// the OpenAI HTTP API: OpenAI itself, Azure OpenAI's v1 endpoint, Ollama, vLLM and the
// llama.cpp server. Each tenant's model gets its own client, built with the tenant's
// base URL and key (sent as "Authorization: Bearer"); the key is used for no other call.
//
// It uses the official SDK, github.com/openai/openai-go/v3: it streams chat completions
// with any base URL, takes a per-request timeout and retry budget, and exposes the
// final usage chunk of stream_options.include_usage. The SDK's services are built
// directly from explicit options, never with openai.NewClient, so that the process's
// OPENAI_* environment variables (a platform key, organisation or custom headers) can
// never reach a tenant's server.
//
// Around the SDK this package adds what a chat service needs from a stream: an idle
// timeout between chunks and an overall deadline, detection of a stream cut before its
// finish reason, prompt cancellation, and errors as *domain.Error (429 KindRateLimited
// with Retry-After, a rejected key KindUnavailable "vendor_key_rejected", 5xx, stalls
// and cut streams KindUnavailable).
//
// It imports domain, ports and the SDK; never another adapter.
package openai
