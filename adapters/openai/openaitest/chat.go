package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type chatBody struct {
	Model         string    `json:"model"`
	Messages      []Message `json:"messages"`
	Stream        *bool     `json:"stream"`
	StreamOptions *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature         *float64 `json:"temperature"`
	MaxTokens           *int     `json:"max_tokens"`
	MaxCompletionTokens *int     `json:"max_completion_tokens"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, raw []byte) {
	var b chatBody
	if err := decodeStrict(raw, &b); err != nil {
		s.violate(w, http.StatusBadRequest, "chat body: %v", err)
		return
	}
	req := ChatRequest{Authorization: r.Header.Get("Authorization"), Model: b.Model, Messages: b.Messages,
		Stream: b.Stream != nil && *b.Stream, Temperature: b.Temperature, MaxTokens: b.MaxTokens, MaxCompletionTokens: b.MaxCompletionTokens}
	req.IncludeUsage = b.StreamOptions != nil && b.StreamOptions.IncludeUsage != nil && *b.StreamOptions.IncludeUsage
	s.mu.Lock()
	s.chats = append(s.chats, req)
	s.mu.Unlock()
	if msg := checkChat(req); msg != "" {
		s.violate(w, http.StatusBadRequest, "chat: %s", msg)
		return
	}
	if param, code, msg := refusedByModel(req); msg != "" {
		s.refuse(w, param, code, msg)
		return
	}
	if !s.authorized(w, r) {
		return
	}
	f := s.fault("/chat/completions")
	if failStatus(w, f) {
		return
	}
	s.mu.Lock()
	s.open++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.open--
		s.mu.Unlock()
	}()
	s.stream(w, r, req, f)
}

func checkChat(req ChatRequest) string {
	switch {
	case req.Model == "":
		return "model is required"
	case len(req.Messages) == 0:
		return "messages must not be empty"
	case !req.Stream:
		return "stream must be true"
	case !req.IncludeUsage:
		return "stream_options.include_usage must be true"
	case req.MaxTokens != nil && req.MaxCompletionTokens != nil:
		return "max_tokens and max_completion_tokens are exclusive"
	}
	for i, m := range req.Messages {
		if m.Role != "system" && m.Role != "user" && m.Role != "assistant" {
			return fmt.Sprintf("messages[%d].role %q", i, m.Role)
		}
	}
	return ""
}

// reasoningModel reports whether OpenAI serves model as a reasoning model (the o-series
// and the GPT-5 family), which refuses max_tokens and any temperature but the default.
func reasoningModel(model string) bool {
	for _, prefix := range []string{"o1", "o3", "o4", "gpt-5"} {
		if model == prefix || strings.HasPrefix(model, prefix+"-") || strings.HasPrefix(model, prefix+".") {
			return true
		}
	}
	return false
}

// refusedByModel is OpenAI's 400 for parameters the requested model does not take, with
// the param, code and message OpenAI answers.
func refusedByModel(req ChatRequest) (param, code, msg string) {
	if !reasoningModel(req.Model) {
		return "", "", ""
	}
	switch {
	case req.MaxTokens != nil:
		return "max_tokens", "unsupported_parameter",
			"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
	case req.Temperature != nil && *req.Temperature != 1:
		return "temperature", "unsupported_value",
			fmt.Sprintf("Unsupported value: 'temperature' does not support %v with this model. Only the default (1) value is supported.", *req.Temperature)
	}
	return "", "", ""
}

// stream writes the completion as server-sent events, failing as f says.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req ChatRequest, f *Fault) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	model := s.opts.Model
	if model == "" {
		model = req.Model
	}
	created := time.Now().Unix()
	send := func(choices any, usage any) {
		chunk := map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": "fp_test", "choices": choices, "usage": usage}
		data, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", data)
		if fl != nil {
			fl.Flush()
		}
	}
	choice := func(delta map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	send(choice(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil), nil)
	for i, text := range s.opts.Reply {
		if f != nil && i == f.After && s.fail(w, r, f) {
			return
		}
		if s.opts.Delay > 0 {
			select {
			case <-time.After(s.opts.Delay):
			case <-r.Context().Done():
				return
			}
		}
		send(choice(map[string]any{"content": text}, nil), nil)
	}
	if f != nil && f.After >= len(s.opts.Reply) && s.fail(w, r, f) {
		return
	}
	send(choice(map[string]any{}, "stop"), nil)
	var choices any = []any{}
	if s.opts.NullChoicesInUsage {
		choices = nil
	}
	send(choices, s.usage(req))
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

// fail applies a streaming fault; it reports whether the response is over.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	switch {
	case f.Cut:
		panic(http.ErrAbortHandler) // net/http drops the connection without ending the body
	case f.End:
		return true
	case f.Stall:
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return true
	}
	return false
}

func (s *Server) usage(req ChatRequest) map[string]any {
	prompt, completion := s.opts.PromptTokens, s.opts.CompletionTokens
	if prompt == 0 {
		for _, m := range req.Messages {
			prompt += len(strings.Fields(m.Content))
		}
	}
	if completion == 0 {
		completion = len(s.opts.Reply)
	}
	return map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
		"prompt_tokens_details": map[string]int{"cached_tokens": 0}, "completion_tokens_details": map[string]int{"reasoning_tokens": 0}}
}
