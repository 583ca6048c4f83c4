package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tenantry/tenantry/adapters/internal/freshstack"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/ports"
)

// Defaults of ChatConfig.
const (
	DefaultIdleTimeout = 30 * time.Second
	DefaultChatTimeout = 5 * time.Minute
)

// ChatConfig configures one tenant's OpenAI-compatible chat model.
type ChatConfig struct {
	// BaseURL is the API root, e.g. "https://api.openai.com/v1",
	// "http://localhost:11434/v1" (Ollama) or "http://vllm:8000/v1"; empty means
	// domain.DefaultOpenAIBaseURL. Whether plain http is acceptable is the caller's
	// decision (domain.Tenant.VendorURLsSecure).
	BaseURL string
	// APIKey is sent as "Authorization: Bearer"; local servers may need none.
	APIKey domain.Secret
	// HTTPClient sends the requests; nil means a new http.Client (the timeouts below
	// bound each call).
	HTTPClient *http.Client
	// IdleTimeout bounds the wait for the response and for each following chunk
	// (default 30s); a longer silence ends the stream with KindUnavailable.
	IdleTimeout time.Duration
	// Timeout bounds the whole stream (default 5m).
	Timeout time.Duration
	// MaxRetries is how often a request that failed before streaming began (5xx,
	// connection errors, 429 with a short Retry-After) is retried (default 0: a
	// person is waiting, and the error says when to retry).
	MaxRetries int
	// MaxCompletionTokens sends the token limit as max_completion_tokens, which OpenAI's
	// reasoning and GPT-5 models require (they answer 400 to max_tokens), instead of
	// max_tokens, which every compatible server understands
	// (domain.LLMSettings.SendsMaxCompletionTokens decides it per tenant).
	MaxCompletionTokens bool
}

// ChatModel is a ports.ChatModel streaming POST {base}/chat/completions. Safe for
// concurrent use.
type ChatModel struct {
	opts      []option.RequestOption
	key       domain.Secret
	idle      time.Duration
	timeout   time.Duration
	maxTokens bool
	retries   int
}

var _ ports.ChatModel = (*ChatModel)(nil)

// NewChatModel builds the tenant's chat model. It makes no request.
func NewChatModel(cfg ChatConfig) (*ChatModel, error) {
	opts, err := clientOptions(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient, max(cfg.MaxRetries, 0), "llm.base_url")
	if err != nil {
		return nil, err
	}
	m := &ChatModel{opts: opts, key: cfg.APIKey, idle: cfg.IdleTimeout,
		timeout: cfg.Timeout, maxTokens: cfg.MaxCompletionTokens, retries: max(cfg.MaxRetries, 0)}
	if m.idle <= 0 {
		m.idle = DefaultIdleTimeout
	}
	if m.timeout <= 0 {
		m.timeout = DefaultChatTimeout
	}
	return m, nil
}

// clientOptions are the only options the SDK services get: no environment defaults.
func clientOptions(baseURL string, key domain.Secret, client *http.Client, retries int, field string) ([]option.RequestOption, error) {
	if baseURL == "" {
		baseURL = domain.DefaultOpenAIBaseURL
	}
	if !validBaseURL(baseURL) {
		return nil, domain.Invalid(domain.FieldError{Field: field, Message: "must be an http(s) URL without credentials"})
	}
	if client == nil {
		client = &http.Client{}
	}
	opts := []option.RequestOption{option.WithBaseURL(baseURL), option.WithHTTPClient(client), option.WithMaxRetries(retries)}
	if key.IsSet() {
		opts = append(opts, option.WithAPIKey(key.Reveal()))
	}
	return opts, nil
}

// sdkClient sends the chat requests with each model's options. It is never changed,
// so it is shared: an sdk.Client value holds every service of the API (about 3 KiB),
// which a model per stream need not carry.
var sdkClient sdk.Client

var (
	errStalled = errors.New("model stream stalled")
	errTooLong = errors.New("model stream exceeded its deadline")
)

// Stream implements ports.ChatModel. Text deltas are yielded as they arrive; the final
// delta carries the finish reason, the model that answered and the usage of the
// include_usage chunk. Once the finish reason has arrived the answer is complete: a
// failure after it only loses the usage chunk. The request is encoded and sent when
// the sequence is iterated; from then on it keeps neither msgs nor, once sent, the
// encoded request (the answer can take minutes). It can be iterated once.
//
// The sequence runs on the goroutine of a stream that may stay open for minutes, and a
// goroutine keeps the deepest stack it ever needed: encoding and sending the request
// (several KiB of frames, once) run on a goroutine of their own, and the per-chunk
// loop sits under small frames and decodes each chunk token by token.
func (m *ChatModel) Stream(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) iter.Seq2[domain.Delta, error] {
	requested := p.Model
	used := false
	return func(yield func(domain.Delta, error) bool) {
		if used {
			refuse(yield, errStreamReused)
			return
		}
		used = true
		s, err := m.open(ctx, msgs, p)
		msgs, p = nil, domain.ChatParams{}
		if err != nil {
			refuse(yield, err)
			return
		}
		defer s.close()
		if s.relay(yield) {
			s.end(yield, requested)
		}
	}
}

// refuse yields why a stream could not start. Not inlined, so that its delta is not in
// the frame of Stream's sequence.
//
//go:noinline
func refuse(yield func(domain.Delta, error) bool, err error) {
	yield(domain.Delta{}, err)
}

var errStreamReused = domain.E(domain.KindInternal, "stream_reused", "", errors.New("a chat model stream was iterated twice"))

// modelStream is one streaming call.
type modelStream struct {
	m         *ChatModel
	ctx, sctx context.Context
	stop      context.CancelFunc
	cancel    context.CancelCauseFunc
	idle      *time.Timer
	events    *eventDecoder
	err       error // why the events ended early
	st        streamState
}

// open sends the request, bounding the whole call by the model's timeout and the wait
// for each chunk by its idle timeout. Its error is the request's own (it could not be
// encoded); a failure to send it is the stream's (s.err).
func (m *ChatModel) open(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) (*modelStream, error) {
	s := &modelStream{m: m, ctx: ctx}
	sctx, stop := context.WithTimeoutCause(ctx, m.timeout, errTooLong)
	sctx, cancel := context.WithCancelCause(sctx)
	s.sctx, s.stop, s.cancel = sctx, stop, cancel
	s.idle = time.AfterFunc(m.idle, func() { cancel(errStalled) })
	var err error
	s.events, s.err, err = m.send(sctx, msgs, p)
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *modelStream) close() {
	s.idle.Stop()
	if s.events != nil {
		_ = s.events.Close()
	}
	s.cancel(nil)
	s.stop()
}

// relay yields the text of each chunk until the events end; false when yield asked to
// stop.
func (s *modelStream) relay(yield func(domain.Delta, error) bool) bool {
	if s.err != nil {
		return true
	}
	for s.events.Next() {
		s.idle.Stop() // the caller's pace is not the model's silence
		text, done, err := s.st.read(s.events.Event())
		if err != nil || done {
			s.err = err
			return true
		}
		if text != "" && !emit(yield, text) {
			return false
		}
		s.idle.Reset(s.m.idle)
	}
	s.err = s.events.Err()
	return true
}

// emit yields a text delta. The delta is built here rather than in relay, whose frame
// lies under every read of the response; hence not inlined.
//
//go:noinline
func emit(yield func(domain.Delta, error) bool, text string) bool {
	return yield(domain.Delta{Text: text}, nil)
}

// end yields how the stream ended: the final delta or the error.
func (s *modelStream) end(yield func(domain.Delta, error) bool, requested string) {
	if err := s.m.outcome(s.ctx, s.sctx, s.err, s.st); err != nil {
		yield(domain.Delta{}, err)
		return
	}
	yield(s.st.final(requested), nil)
}

// send encodes the request and posts it on a goroutine of its own: both steps need
// several KiB of stack (the SDK's request types and its request path), which the
// stream's goroutine would keep for the stream's whole life. It returns the
// response's events, or why the request was not sent (postErr) or could not be
// encoded (encErr).
func (m *ChatModel) send(ctx context.Context, msgs []domain.ChatMessage, p domain.ChatParams) (events *eventDecoder, postErr, encErr error) {
	var res *http.Response
	freshstack.Run(func() {
		var body []byte
		if body, encErr = m.body(msgs, p); encErr != nil {
			return
		}
		postErr = sdkClient.Post(ctx, "chat/completions", nil, &res, append(m.sendOnce(body), m.opts...)...)
	})
	if encErr != nil || postErr != nil {
		return nil, postErr, encErr
	}
	if events = newEventDecoder(res); events == nil {
		return nil, errors.New("the model's response has no body"), nil
	}
	return events, nil, nil
}

// body encodes the streaming request.
func (m *ChatModel) body(msgs []domain.ChatMessage, p domain.ChatParams) ([]byte, error) {
	params, err := m.params(msgs, p)
	if err != nil {
		return nil, err
	}
	params.SetExtraFields(map[string]any{"stream": true})
	b, err := json.Marshal(params)
	if err != nil {
		return nil, domain.E(domain.KindInternal, "encode_request", "", fmt.Errorf("encode chat request: %w", err))
	}
	return b, nil
}

// sendOnce sends body as the request. Without retries the body lets go of its bytes
// once the transport has read them; with retries the SDK keeps them to send again.
func (m *ChatModel) sendOnce(body []byte) []option.RequestOption {
	if m.retries > 0 {
		return []option.RequestOption{option.WithRequestBody("application/json", body)}
	}
	n := int64(len(body))
	return []option.RequestOption{
		option.WithRequestBody("application/json", &sentBody{b: body}),
		// The SDK states no length for a reader; vendors get one as with a byte body.
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			r.ContentLength = n
			return next(r)
		}),
	}
}

// sentBody reads b once and drops it at the end, so that the request the transport
// keeps for the response's life no longer holds the encoded prompt. Close leaves b to
// a Read that may still run.
type sentBody struct{ b []byte }

func (r *sentBody) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		r.b = nil
		return 0, io.EOF
	}
	n := copy(p, r.b)
	if r.b = r.b[n:]; len(r.b) == 0 {
		r.b = nil
	}
	return n, nil
}

// outcome decides how a finished stream ends: the caller's cancellation as is, then
// timeouts, vendor errors, and a stream that stopped before its finish reason.
func (m *ChatModel) outcome(ctx, sctx context.Context, err error, st streamState) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if st.finish != "" {
		return nil
	}
	switch cause := context.Cause(sctx); {
	case errors.Is(cause, errStalled):
		return domain.E(domain.KindUnavailable, CodeTimeout, fmt.Sprintf("the model sent nothing for %s", m.idle), cause)
	case errors.Is(cause, errTooLong):
		return domain.E(domain.KindUnavailable, CodeTimeout, fmt.Sprintf("the model did not finish within %s", m.timeout), cause)
	}
	if err != nil {
		return vendorError(err, m.key, st.chunks > 0)
	}
	return domain.E(domain.KindUnavailable, CodeStreamCut, "the model stream ended early",
		fmt.Errorf("stream closed after %d chunks without a finish reason", st.chunks))
}

func (m *ChatModel) params(msgs []domain.ChatMessage, p domain.ChatParams) (sdk.ChatCompletionNewParams, error) {
	if strings.TrimSpace(p.Model) == "" {
		return sdk.ChatCompletionNewParams{}, domain.Invalid(domain.FieldError{Field: "llm.model", Message: "is required"})
	}
	if len(msgs) == 0 {
		return sdk.ChatCompletionNewParams{}, domain.E(domain.KindInternal, "no_messages", "", errors.New("chat model called without messages"))
	}
	out := sdk.ChatCompletionNewParams{
		Model:         p.Model,
		Messages:      make([]sdk.ChatCompletionMessageParamUnion, 0, len(msgs)),
		StreamOptions: sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)},
	}
	if p.Temperature != nil {
		out.Temperature = sdk.Float(*p.Temperature)
	}
	if p.MaxTokens > 0 {
		if m.maxTokens {
			out.MaxCompletionTokens = sdk.Int(int64(p.MaxTokens))
		} else {
			out.MaxTokens = sdk.Int(int64(p.MaxTokens))
		}
	}
	for _, msg := range msgs {
		switch msg.Role {
		case domain.MessageSystem:
			out.Messages = append(out.Messages, sdk.SystemMessage(msg.Content))
		case domain.MessageUser:
			out.Messages = append(out.Messages, sdk.UserMessage(msg.Content))
		case domain.MessageAssistant:
			out.Messages = append(out.Messages, sdk.AssistantMessage(msg.Content))
		default:
			return sdk.ChatCompletionNewParams{}, domain.E(domain.KindInternal, "bad_message_role", "", fmt.Errorf("unknown chat role %q", msg.Role))
		}
	}
	return out, nil
}

// streamState accumulates what the final delta reports.
type streamState struct {
	chunks int
	finish string
	model  string
	usage  domain.Usage
}

func (s streamState) final(requested string) domain.Delta {
	model := s.model
	if model == "" {
		model = requested
	}
	return domain.Delta{Done: true, FinishReason: s.finish, Model: model, Usage: s.usage}
}
