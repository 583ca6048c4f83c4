// Package openaitest is an in-process OpenAI-compatible server for tests. It streams
// chat completions in the real wire format (a role delta, content deltas, a finish
// chunk, the stream_options.include_usage chunk and "data: [DONE]"), serves
// /embeddings, records every request it receives, and can fail the ways real providers
// do: an error status (500, 429 with Retry-After), a stream cut mid-answer, a stream
// that ends without a finish reason, or a stall.
//
// Requests that break the API as tenantry must use it (wrong path or method, missing
// stream or include_usage, unknown fields, an ambient OpenAI-Organization header) are
// answered 400 and fail the test at cleanup. So are requests OpenAI refuses for the
// model they name: max_tokens, or a temperature other than 1, to a reasoning model (o1,
// o3, o4-mini, the GPT-5 family), answered with OpenAI's unsupported_parameter and
// unsupported_value errors.
//
// It imports only the standard library and is meant for tests only.
package openaitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options shape the server's answers.
type Options struct {
	// APIKey is the bearer key the server accepts; empty means it expects no
	// Authorization header at all (a local server).
	APIKey string
	// Model is reported in chunks; empty echoes the requested model.
	Model string
	// Reply is the answer, one content delta per element (default a short sentence).
	Reply []string
	// Delay is waited before each content delta (a slow model).
	Delay time.Duration
	// PromptTokens and CompletionTokens are reported in the usage chunk (defaults:
	// the words of the prompt and the number of deltas).
	PromptTokens, CompletionTokens int
	// NullChoicesInUsage sends the usage chunk with "choices": null, as vLLM does.
	NullChoicesInUsage bool
	// EmbeddingDims is the vector length when a request names no dimensions (default 8).
	EmbeddingDims int
	// NoMatryoshka serves an embedding model without Matryoshka training as vLLM does
	// (bge-m3, for one): a request naming dimensions gets vLLM's 400 and is recorded as
	// a violation.
	NoMatryoshka bool
}

// Fault makes matching requests fail. Exactly one way of failing should be set.
type Fault struct {
	// Path selects "/chat/completions" or "/embeddings"; empty matches both.
	Path string
	// Status answers with an OpenAI error body, before any streaming.
	Status     int
	RetryAfter string
	// Code is the error code in the body, e.g. "rate_limit_exceeded" or "insufficient_quota".
	Code string
	// After is the number of content deltas streamed before Cut, End or Stall.
	After int
	// Cut drops the connection abruptly, with no terminating chunk.
	Cut bool
	// End closes the response cleanly, but with no finish reason, usage or [DONE].
	End bool
	// Stall stops sending and holds the connection until the client leaves.
	Stall bool
	// Times is how many requests the fault hits: 0 means one, negative means all.
	Times int
}

// Message is one chat message as received.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is a chat completion request as received.
type ChatRequest struct {
	Authorization       string
	Model               string
	Messages            []Message
	Stream              bool
	IncludeUsage        bool
	Temperature         *float64
	MaxTokens           *int
	MaxCompletionTokens *int
}

// EmbeddingRequest is an embeddings request as received.
type EmbeddingRequest struct {
	Authorization  string
	Model          string
	Input          []string
	Dimensions     *int
	EncodingFormat string
}

// Server is a fake OpenAI-compatible API. Safe for concurrent use.
type Server struct {
	// URL is the base URL to configure, ending in "/v1".
	URL string

	opts Options

	mu         sync.Mutex
	chats      []ChatRequest
	embeds     []EmbeddingRequest
	faults     []*Fault
	violations []string
	open       int
}

// New starts a server and closes it when the test ends, failing the test on protocol
// violations.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if len(opts.Reply) == 0 {
		opts.Reply = []string{"Hello", " from", " the", " model."}
	}
	if opts.EmbeddingDims == 0 {
		opts.EmbeddingDims = 8
	}
	s := &Server{opts: opts}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = srv.URL + "/v1"
	t.Cleanup(func() {
		srv.Close()
		for _, v := range s.Violations() {
			t.Errorf("openai protocol violation: %s", v)
		}
	})
	return s
}

// Inject adds a fault; faults are matched in the order they were added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ChatRequests returns the chat requests received so far.
func (s *Server) ChatRequests() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.chats)
}

// EmbeddingRequests returns the embeddings requests received so far.
func (s *Server) EmbeddingRequests() []EmbeddingRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.embeds)
}

// OpenStreams returns how many chat responses are being written right now.
func (s *Server) OpenStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// Violations returns the protocol violations recorded so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// TakeViolations returns the violations recorded so far and forgets them, for tests
// that break the protocol on purpose.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	if !strings.HasPrefix(r.URL.Path, "/v1/") || (path != "/chat/completions" && path != "/embeddings") {
		s.violate(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		s.violate(w, http.StatusMethodNotAllowed, "%s %s: want POST", r.Method, r.URL.Path)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		s.violate(w, http.StatusRequestEntityTooLarge, "unreadable body: %v", err)
		return
	}
	if !s.checkHeaders(w, r) {
		return
	}
	if path == "/chat/completions" {
		s.chat(w, r, body)
	} else {
		s.embeddings(w, r, body)
	}
}

// failStatus answers with f's error status, if it has one.
func failStatus(w http.ResponseWriter, f *Fault) bool {
	if f == nil || f.Status == 0 {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	writeError(w, f.Status, f.Code, "injected failure")
	return true
}

func (s *Server) checkHeaders(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.violate(w, http.StatusBadRequest, "Content-Type is %q", r.Header.Get("Content-Type"))
		return false
	}
	for _, h := range []string{"OpenAI-Organization", "OpenAI-Project", "Api-Key"} {
		if r.Header.Get(h) != "" {
			s.violate(w, http.StatusBadRequest, "unexpected %s header: ambient configuration reached a tenant's call", h)
			return false
		}
	}
	if s.opts.APIKey == "" && r.Header.Get("Authorization") != "" {
		s.violate(w, http.StatusBadRequest, "Authorization sent to a server configured without a key")
		return false
	}
	return true
}

// authorized answers 401 unless the request carries the configured bearer key.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided.")
		return false
	}
	return true
}

// fault returns the first matching injected fault, consuming one of its uses.
func (s *Server) fault(path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Times != 0 && (f.Path == "" || f.Path == path) {
			if f.Times > 0 {
				f.Times--
			}
			c := *f
			return &c
		}
	}
	return nil
}

func (s *Server) violate(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	writeError(w, status, "invalid_request_error", msg)
}

// refuse answers a request OpenAI refuses as OpenAI does (400 naming the parameter),
// and records it as a violation: tenantry must not send what the model refuses.
func (s *Server) refuse(w http.ResponseWriter, param, code, msg string) {
	s.mu.Lock()
	s.violations = append(s.violations, "chat: "+msg)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": param, "code": code}})
}

// writeError writes OpenAI's error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
		if code == "insufficient_quota" {
			typ = "insufficient_quota"
		}
	case status >= 500:
		typ = "server_error"
	case status == http.StatusUnauthorized:
		typ = "authentication_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

// decodeStrict decodes body into v, refusing fields v does not declare.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
