// Package observe holds logging, timing and metrics decorators around the vendor
// ports (Embedder, VectorIndex, ChatModel and the per-tenant Vendors factory), which
// bootstrap stacks in front of the real adapters. A decorator logs one Debug line per
// call with ids, counts, latencies and token usage only: never texts, prompts,
// passages or keys. Errors pass through unchanged; they are logged where handled.
//
// It imports domain, ports, zap and the Prometheus client; never another adapter.
package observe
