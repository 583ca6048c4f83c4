package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/adapters/internal/freshstack"
	"github.com/tenantry/tenantry/application"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// The OpenAI-compatible endpoint is another presenter of StreamChat: existing OpenAI
// clients send the user's access token as their "API key" and the tenant's assistant id
// as the model. The tenant's system prompt, retrieval, model and limits apply exactly as
// on POST /chat/stream. Errors under /v1/ use OpenAI's error shape, not problem+json.

const (
	openAIPrefix       = "/v1/"
	openAIOwner        = "tenantry"
	codeModelNotFound  = "model_not_found"
	codeInvalidAPIKey  = "invalid_api_key"
	openAIInvalidReq   = "invalid_request_error"
	maxEchoedModelName = 100
	maxFieldErrors     = 20
)

// registerOpenAI adds the /v1 routes behind the same bearer and tenant middleware as
// the tenant-scoped API, and makes errors on /v1/ paths (including unknown routes,
// wrong methods and body limits, which never reach a handler) answer in OpenAI's shape.
func registerOpenAI(e *echo.Echo, d Deps, st *streamer) {
	if d.Authenticate == nil || d.ResolveTenant == nil || d.Chat == nil {
		return
	}
	scoped := routes{e: e}.with(bearerAuth(d.Authenticate), tenantScope(d.ResolveTenant), rateLimitPolicy)
	h := openAIHandlers{streamer: st, chat: d.Chat}
	scoped.add(http.MethodPost, "/v1/chat/completions", h.completions)
	scoped.add(http.MethodGet, "/v1/models", h.models)
	scoped.add(http.MethodGet, "/v1/models/:model", h.model)
	e.HTTPErrorHandler = openAIErrorHandler(st.problems, e.HTTPErrorHandler)
}

type openAIHandlers struct {
	*streamer
	chat *application.StreamChat
}

// openAIChatRequest holds the fields tenantry reads. Unknown fields are tolerated
// because SDKs send extras; sampling fields (temperature, max_tokens, ...) are ignored
// since the tenant's own model settings apply, as on /chat/stream.
type openAIChatRequest struct {
	Model         string                   `json:"model"`
	Messages      []openAIMessage          `json:"messages"`
	Stream        bool                     `json:"stream"`
	StreamOptions *openAIChatStreamOptions `json:"stream_options"`
	N             *int                     `json:"n"`
}

type openAIChatStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type openAIMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type openAIContentPart struct {
	Type string  `json:"type"`
	Text *string `json:"text"`
}

// openAIChat is a validated request: the question, the earlier turns, and how to answer.
type openAIChat struct {
	model        string
	question     string
	questionAt   int
	history      []domain.Message
	stream       bool
	includeUsage bool
}

// completions serves POST /v1/chat/completions. A stream keeps this handler's frame,
// and the middleware's, under every token it writes for as long as it lasts, and its
// goroutine keeps the deepest stack it ever needed: the request is read into a
// completion call on the heap by a function of its own, and the stream's loop takes
// pointers.
func (h openAIHandlers) completions(c echo.Context) error {
	call, err := h.accept(c)
	if err != nil {
		return err
	}
	if call.req.stream {
		return h.serve(c, "chat completion stream", openAIErrorEvent, func(sc *streamScope) error {
			return h.stream(sc, &call.req, &call.meta, h.begin(sc.ctx, call))
		})
	}
	return h.answer(c, call)
}

// answer serves a request without stream: true.
//
//go:noinline
func (h openAIHandlers) answer(c echo.Context, call *completionCall) error {
	return h.complete(c, call.req, call.meta, h.chat.Execute(c.Request().Context(), call.in))
}

// completionCall is one accepted chat completion request.
type completionCall struct {
	req  openAIChat
	meta openAIMeta
	in   application.ChatInput
}

// accept reads and checks a chat completion request.
//
//go:noinline
func (h openAIHandlers) accept(c echo.Context) (*completionCall, error) {
	tc, err := mustTenant(c)
	if err != nil {
		return nil, err
	}
	body, err := readJSONBody(c)
	if err != nil {
		return nil, err
	}
	// Decoding the messages recurses through encoding/json about 3 KiB deep, which a
	// stream's goroutine would keep for its whole life: it runs on a goroutine of its own.
	var req openAIChat
	freshstack.Run(func() { req, err = parseOpenAIChat(body) })
	if err != nil {
		return nil, err
	}
	if req.model != tc.Tenant.AssistantID() {
		return nil, errModelNotFound(req.model)
	}
	header := c.Response().Header()
	return &completionCall{req: req,
		meta: newOpenAIMeta(req.model),
		in: application.ChatInput{Tenant: tc, Message: req.question, History: req.history,
			Budget: func(st ports.RateStatus) { setRateLimitStatus(header, st) }}}, nil
}

// begin starts the use case, which keeps its own copy of the input: call's is dropped,
// as it would stay for the stream's whole life.
//
//go:noinline
func (h openAIHandlers) begin(ctx context.Context, call *completionCall) iter.Seq2[domain.Delta, error] {
	seq := h.chat.Execute(ctx, call.in)
	call.in = application.ChatInput{}
	return seq
}

// parseOpenAIChat decodes and validates a chat completion request like OpenAI does.
func parseOpenAIChat(body []byte) (openAIChat, error) {
	var raw openAIChatRequest
	if err := decodeLenient(body, &raw); err != nil {
		return openAIChat{}, err
	}
	var fs []domain.FieldError
	add := func(field, msg string) {
		if len(fs) < maxFieldErrors { // a huge body of bad messages gets a bounded answer
			fs = append(fs, domain.FieldError{Field: field, Message: msg})
		}
	}
	if strings.TrimSpace(raw.Model) == "" {
		add("model", "is required")
	}
	if len(raw.Messages) == 0 {
		add("messages", "must be a non-empty array")
	}
	if raw.N != nil && *raw.N != 1 {
		add("n", "only 1 is supported")
	}
	if raw.StreamOptions != nil && !raw.Stream {
		add("stream_options", "is only allowed when stream is true")
	}
	req := openAIChat{model: raw.Model, stream: raw.Stream, includeUsage: raw.Stream && raw.StreamOptions != nil && raw.StreamOptions.IncludeUsage}
	turns := make([]domain.Message, 0, len(raw.Messages))
	var system []string
	for i, m := range raw.Messages {
		field := fmt.Sprintf("messages[%d]", i)
		text, ok, msg := messageText(m.Content)
		switch {
		case m.Role == "tool" || m.Role == "function":
			add(field+".role", "tool and function messages are not supported")
		case m.Role != domain.MessageSystem && m.Role != "developer" && m.Role != domain.MessageUser && m.Role != domain.MessageAssistant:
			add(field+".role", "must be system, developer, user or assistant")
		case msg != "":
			add(field+".content", msg)
		case !ok && m.Role != domain.MessageAssistant:
			add(field+".content", "is required")
		case ok && (m.Role == domain.MessageSystem || m.Role == "developer"):
			// The client's own instructions go to the model after the tenant's system
			// prompt, which comes first and so frames them.
			if strings.TrimSpace(text) != "" {
				system = append(system, text)
			}
		case ok && (m.Role == domain.MessageUser || m.Role == domain.MessageAssistant):
			// An assistant turn without content is skipped.
			turns = append(turns, domain.Message{Role: m.Role, Content: text})
			req.questionAt = i
		}
	}
	if len(fs) == 0 && (len(turns) == 0 || turns[len(turns)-1].Role != domain.MessageUser) {
		add("messages", "the last user or assistant message must be from the user")
	}
	if len(fs) > 0 {
		return openAIChat{}, domain.Invalid(fs...)
	}
	req.question, req.history = turns[len(turns)-1].Content, turns[:len(turns)-1]
	if len(system) > 0 {
		req.history = append([]domain.Message{{Role: domain.MessageSystem, Content: strings.Join(system, "\n\n")}}, req.history...)
	}
	return req, nil
}

// messageText reads a message's content: a string, or an array of text parts joined by
// newlines. ok is false for a missing or null content; msg says what is wrong.
func messageText(raw json.RawMessage) (text string, ok bool, msg string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, ""
	}
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", false, "must be a string or an array of text parts"
		}
		return text, true, ""
	case '[':
		var parts []openAIContentPart
		if err := json.Unmarshal(raw, &parts); err != nil || len(parts) == 0 {
			return "", false, "must be a string or a non-empty array of text parts"
		}
		texts := make([]string, 0, len(parts))
		for _, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return "", false, "only text content parts are supported"
			}
			texts = append(texts, *p.Text)
		}
		return strings.Join(texts, "\n"), true, ""
	}
	return "", false, "must be a string or an array of text parts"
}

// decodeLenient decodes one JSON object like decodeStrict but tolerates unknown fields.
func decodeLenient(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalidBody("the request body must be a JSON object", nil)
	}
	if !utf8.Valid(body) {
		return invalidBody("the request body must be valid UTF-8", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidBody("the request body must hold a single JSON value", err)
	}
	return nil
}

// errModelNotFound is the answer for any model other than the caller's own tenant's
// assistant; another tenant's assistant id gets the same answer, so it leaks nothing.
func errModelNotFound(model string) error {
	if len(model) > maxEchoedModelName || !utf8.ValidString(model) {
		model = "(given)"
	}
	return &domain.Error{Kind: domain.KindNotFound, Code: codeModelNotFound,
		Detail: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model),
		Fields: []domain.FieldError{{Field: "model", Message: "unknown model"}}}
}

// models serves GET /v1/models: the caller's tenant offers exactly one assistant.
func (h openAIHandlers) models(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	return sendJSON(c, http.StatusOK, openAIModelList{Object: "list", Data: []openAIModel{toOpenAIModel(tc.Tenant)}})
}

// model serves GET /v1/models/{model}.
func (h openAIHandlers) model(c echo.Context) error {
	tc, err := mustTenant(c)
	if err != nil {
		return err
	}
	if c.Param("model") != tc.Tenant.AssistantID() {
		return errModelNotFound(c.Param("model"))
	}
	return sendJSON(c, http.StatusOK, toOpenAIModel(tc.Tenant))
}

type openAIModelList struct {
	Object string        `json:"object"`
	Data   []openAIModel `json:"data"`
}

type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func toOpenAIModel(t domain.Tenant) openAIModel {
	return openAIModel{ID: t.AssistantID(), Object: "model", Created: t.CreatedAt.Unix(), OwnedBy: openAIOwner}
}

// openAIErrorBody is OpenAI's error response: {"error":{"message","type","param","code"}}.
type openAIErrorBody struct {
	Error openAIError `json:"error"`
}

type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// openAIErrorHandler answers errors on /v1/ paths in OpenAI's shape and hands every
// other error, and the cases that write nothing (client gone, response already
// committed), to next.
func openAIErrorHandler(pr problems, next echo.HTTPErrorHandler) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		p := c.Request().URL.Path
		if !(strings.HasPrefix(p, openAIPrefix) || p == strings.TrimSuffix(openAIPrefix, "/")) ||
			c.Response().Committed || clientGone(c, err) {
			next(err, c)
			return
		}
		prob := pr.build(c, err)
		pr.logError(c, prob, err)
		h := c.Response().Header()
		if prob.Status == http.StatusUnauthorized {
			h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		setRetryHeaders(h, prob)
		setRateLimitReset(h, prob)
		h.Set("Cache-Control", "no-store")
		_ = writeJSON(c, prob.Status, mimeJSON, toOpenAIError(prob))
	}
}

// toOpenAIError restates a problem (already classified, with internal details hidden)
// in OpenAI's shape. The code stays tenantry's problem code except for authentication,
// where OpenAI clients expect invalid_api_key; the type follows OpenAI's categories.
func toOpenAIError(p problem) openAIErrorBody {
	e := openAIError{Message: p.Detail, Code: p.Code, Type: openAIInvalidReq}
	if len(p.Errors) > 0 {
		e.Param = &p.Errors[0].Field
	}
	if len(p.Errors) > 1 {
		msgs := make([]string, 0, len(p.Errors))
		for _, f := range p.Errors {
			msgs = append(msgs, f.Field+": "+f.Message)
		}
		e.Message = strings.Join(msgs, "; ")
	}
	switch {
	case p.Status == http.StatusUnauthorized:
		e.Code = codeInvalidAPIKey
	case p.Status == http.StatusForbidden:
		e.Type = "permission_error"
	case p.Code == domain.ErrQuotaExceeded.Code:
		e.Type = "insufficient_quota"
	case p.Status == http.StatusTooManyRequests:
		e.Type = "rate_limit_error"
	case p.Status >= 500:
		e.Type = "server_error"
	}
	return openAIErrorBody{Error: e}
}

// openAIMeta is what every chunk of one completion repeats.
type openAIMeta struct {
	id      string
	created int64
	model   string
	// textAround is the JSON of a text chunk before and after its text (textChunk),
	// set by newOpenAIMeta.
	textAround [2]string
}

type openAICompletion struct {
	ID       string          `json:"id"`
	Object   string          `json:"object"`
	Created  int64           `json:"created"`
	Model    string          `json:"model"`
	Choices  []openAIChoice  `json:"choices"`
	Usage    openAIUsage     `json:"usage"`
	Tenantry openAIExtension `json:"tenantry"`
}

type openAIChoice struct {
	Index        int         `json:"index"`
	Message      openAIReply `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type openAIReply struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

type openAIChunk struct {
	ID       string              `json:"id"`
	Object   string              `json:"object"`
	Created  int64               `json:"created"`
	Model    string              `json:"model"`
	Choices  []openAIChunkChoice `json:"choices"`
	Usage    *openAIUsage        `json:"usage,omitempty"`
	Tenantry *openAIExtension    `json:"tenantry,omitempty"`
}

type openAIChunkChoice struct {
	Index        int         `json:"index"`
	Delta        openAIDelta `json:"delta"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason *string     `json:"finish_reason"`
}

type openAIDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type openAIUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// openAIExtension carries what OpenAI's format has no place for; clients that do not
// know it ignore it. Sources travel on the first chunk, the stored ids on the last.
type openAIExtension struct {
	Sources        []sourceJSON `json:"sources,omitzero"`
	ConversationID string       `json:"conversation_id,omitempty"`
	MessageID      string       `json:"message_id,omitempty"`
	UpstreamModel  string       `json:"upstream_model,omitempty"`
}

func toOpenAIUsage(u domain.Usage) openAIUsage {
	return openAIUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.Total()}
}

// openAIFinishReason maps a model's finish reason to one OpenAI clients know.
func openAIFinishReason(r string) string {
	switch r {
	case "length", "max_tokens":
		return "length"
	case "content_filter":
		return "content_filter"
	}
	return "stop"
}

func finalExtension(d domain.Delta) openAIExtension {
	return openAIExtension{ConversationID: string(d.ConversationID), MessageID: string(d.MessageID), UpstreamModel: d.Model}
}

// complete answers stream: false with one chat.completion object. Nothing is written
// before the answer is whole, so any failure is an ordinary error response.
func (h openAIHandlers) complete(c echo.Context, req openAIChat, m openAIMeta, seq iter.Seq2[domain.Delta, error]) error {
	var text strings.Builder
	var sources []sourceJSON
	started := false
	for d, err := range seq {
		if err != nil {
			if !started {
				return questionField(err, req.questionAt)
			}
			return err
		}
		if !started {
			started, sources = true, toSources(d.Sources)
		}
		text.WriteString(d.Text)
		if !d.Done {
			continue
		}
		ext := finalExtension(d)
		ext.Sources = sources
		return sendJSON(c, http.StatusOK, openAICompletion{
			ID: m.id, Object: "chat.completion", Created: m.created, Model: m.model,
			Choices: []openAIChoice{{Message: openAIReply{Role: domain.MessageAssistant, Content: text.String()},
				FinishReason: openAIFinishReason(d.FinishReason)}},
			Usage: toOpenAIUsage(d.Usage), Tenantry: ext,
		})
	}
	return errNoAnswer
}

// stream answers stream: true with chat.completion.chunk events and a final [DONE].
// Nothing is written until the use case yields its first delta, so an earlier error is
// an ordinary error response; after that a failure becomes one data line holding the
// error object (openAIErrorEvent), and the stream ends without [DONE].
func (h openAIHandlers) stream(sc *streamScope, req *openAIChat, m *openAIMeta, seq iter.Seq2[domain.Delta, error]) error {
	for d, err := range seq {
		if err != nil {
			if sc.stream == nil {
				return questionField(err, req.questionAt)
			}
			sc.fail(err)
			return nil
		}
		if sc.stream == nil {
			sc.open()
			if err := m.first(sc, d.Sources); err != nil {
				return sc.abandon(err)
			}
		}
		if werr := h.send(sc, req, m, &d); werr != nil {
			return sc.abandon(werr)
		}
		if d.Done {
			return nil
		}
	}
	if sc.stream == nil {
		return errNoAnswer
	}
	if sc.ctx.Err() == nil {
		sc.fail(errNoAnswer)
	}
	return nil
}

// first writes the stream's first chunk: the assistant role, and the sources.
//
//go:noinline
func (m *openAIMeta) first(sc *streamScope, sources []domain.Passage) error {
	empty := ""
	first := m.chunk(openAIDelta{Role: domain.MessageAssistant, Content: &empty}, nil)
	first.Tenantry = &openAIExtension{Sources: toSources(sources)}
	return sc.onceEvent("", first)
}

// send writes the chunks one delta carries: its text, or for the final delta the
// finish reason, the usage chunk when asked for, and [DONE].
func (h openAIHandlers) send(sc *streamScope, req *openAIChat, m *openAIMeta, d *domain.Delta) error {
	if d.Text != "" {
		if err := sc.stream.Event("", m.textChunk(d.Text)); err != nil {
			return err
		}
	}
	if !d.Done {
		return nil
	}
	return h.finish(sc, req, m, d)
}

// finish writes the final delta's chunks.
//
//go:noinline
func (h openAIHandlers) finish(sc *streamScope, req *openAIChat, m *openAIMeta, d *domain.Delta) error {
	reason := openAIFinishReason(d.FinishReason)
	last := m.chunk(openAIDelta{}, &reason)
	ext := finalExtension(*d)
	last.Tenantry = &ext
	if err := sc.event("", last); err != nil {
		return err
	}
	if req.includeUsage {
		u := toOpenAIUsage(d.Usage)
		usage := openAIChunk{ID: m.id, Object: "chat.completion.chunk", Created: m.created, Model: m.model,
			Choices: []openAIChunkChoice{}, Usage: &u}
		if err := sc.event("", usage); err != nil {
			return err
		}
	}
	// OpenAI ends a stream with the non-JSON sentinel "data: [DONE]".
	return sc.stream.Event("", "[DONE]")
}

// newOpenAIMeta names a new completion of model.
func newOpenAIMeta(model string) openAIMeta {
	m := openAIMeta{id: "chatcmpl-" + newRequestID(), created: time.Now().Unix(), model: model}
	b := appendJSONString([]byte(`{"id":`), m.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, m.created, 10)
	b = appendJSONString(append(b, `,"model":`...), m.model)
	m.textAround = [2]string{string(b) + `,"choices":[{"index":0,"delta":{"content":`, `},"logprobs":null,"finish_reason":null}]}`}
	return m
}

// textChunk is the chunk of one text delta: the JSON of m.chunk(openAIDelta{Content:
// &text}, nil), written around the text by hand because encoding/json recurses through
// five nested values for it, under every token of a stream (see completions).
func (m *openAIMeta) textChunk(text string) string {
	b := make([]byte, 0, len(m.textAround[0])+len(text)+len(m.textAround[1])+8)
	b = appendJSONString(append(b, m.textAround[0]...), text)
	return string(append(b, m.textAround[1]...))
}

func (m openAIMeta) chunk(d openAIDelta, finish *string) openAIChunk {
	return openAIChunk{ID: m.id, Object: "chat.completion.chunk", Created: m.created, Model: m.model,
		Choices: []openAIChunkChoice{{Delta: d, FinishReason: finish}}}
}

// openAIErrorEvent is /v1's terminal event: an unnamed event holding the OpenAI error
// object, as OpenAI's own streams end on an error.
func openAIErrorEvent(pr problem) (string, any) { return "", toOpenAIError(pr) }

// questionField renames the use case's "message" field to the request message that
// held the question, so the error's param points into the OpenAI request.
func questionField(err error, at int) error {
	de := domain.AsError(err)
	if de == nil || de.Kind != domain.KindInvalid || at < 0 {
		return err
	}
	out := *de
	out.Fields = make([]domain.FieldError, len(de.Fields))
	for i, f := range de.Fields {
		if f.Field == "message" {
			f.Field = fmt.Sprintf("messages[%d].content", at)
		}
		out.Fields[i] = f
	}
	if len(out.Fields) == 1 {
		out.Detail = out.Fields[0].Field + ": " + out.Fields[0].Message
	}
	return &out
}
