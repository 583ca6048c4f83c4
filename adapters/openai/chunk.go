package openai

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/tenantry/tenantry/domain"
)

// chunk is what the adapter reads of a chat.completion.chunk: the first choice's text
// and finish reason, the model and the usage.
type chunk struct {
	model, text, finish string
	usage               *domain.Usage
}

// read takes one event of the stream and returns the text of its chunk; done is true
// at the closing "[DONE]" event.
func (s *streamState) read(evt ssestream.Event) (text string, done bool, err error) {
	if bytes.HasPrefix(evt.Data, []byte("[DONE]")) {
		return "", true, nil
	}
	d := chunkDecoders.Get().(*chunkDecoder)
	defer chunkDecoders.Put(d)
	var c chunk
	if err := d.decode(evt, &c); err != nil {
		return "", false, err
	}
	s.chunks++
	if c.model != "" {
		s.model = c.model
	}
	if c.usage != nil {
		s.usage = *c.usage
	}
	if c.finish != "" {
		s.finish = c.finish
	}
	return c.text, false, nil
}

// chunkDecoder reads a chunk token by token with jsontext (encoding/json/v2's syntax
// layer; this module mirrors it, and Go 1.27 has it as encoding/json/jsontext), in
// loops. encoding/json's decoder recurses per nested object with frames of nearly
// 1 KiB, and decoding runs once per token at the bottom of a stream's deep stack (see
// Stream). Like encoding/json, it accepts duplicate names and replaces invalid UTF-8;
// unlike it, a field of an unexpected type reads as absent instead of failing the
// chunk.
type chunkDecoder struct {
	buf bytes.Buffer
	dec jsontext.Decoder
}

var chunkDecoders = sync.Pool{New: func() any { return new(chunkDecoder) }}

var chunkOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

var errChunkNotObject = errors.New("a model stream chunk is not a JSON object")

// decode reads evt's chunk into c. An "error" member is the vendor's error in the
// middle of the stream, as the SDK reads it, unless it is null (the SDK's would end
// the stream).
func (d *chunkDecoder) decode(evt ssestream.Event, c *chunk) error {
	d.buf.Reset()
	d.buf.Write(evt.Data)
	d.dec.Reset(&d.buf, chunkOptions...)
	dec := &d.dec
	if dec.PeekKind() != '{' {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		return errChunkNotObject
	}
	err := members(dec, func(name jsontext.Token) (err error) {
		switch name.String() {
		case "model":
			c.model, err = readString(dec)
		case "choices":
			err = d.choices(c)
		case "usage":
			err = d.usage(c)
		case "error":
			if dec.PeekKind() == 'n' {
				return dec.SkipValue()
			}
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			return &ssestream.StreamError{Message: "received error while streaming: " + string(v), Event: evt}
		default:
			err = dec.SkipValue()
		}
		return err
	})
	if err != nil {
		return err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return errors.New("a model stream chunk has data after its JSON object")
	}
	return nil
}

// members reads an object, calling member with each name while the decoder is at its
// value; member must read the value. A value that is not an object is skipped.
func members(dec *jsontext.Decoder, member func(name jsontext.Token) error) error {
	if dec.PeekKind() != '{' {
		return dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken() // the closing brace, or the syntax error
	return err
}

// choices reads a chunk's choices array.
func (d *chunkDecoder) choices(c *chunk) error {
	dec := &d.dec
	if dec.PeekKind() != '[' {
		return dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for k := dec.PeekKind(); k != ']' && k != 0; k = dec.PeekKind() {
		if err := d.choice(c); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// choice reads one choice, taking its text and finish reason if it is the first
// (index 0).
func (d *chunkDecoder) choice(c *chunk) error {
	dec := &d.dec
	var index int64
	var text, finish string
	err := members(dec, func(name jsontext.Token) (err error) {
		switch name.String() {
		case "index":
			index, err = readInt(dec)
		case "delta":
			err = members(dec, func(name jsontext.Token) (err error) {
				if name.String() == "content" {
					text, err = readString(dec)
					return err
				}
				return dec.SkipValue()
			})
		case "finish_reason":
			finish, err = readString(dec)
		default:
			err = dec.SkipValue()
		}
		return err
	})
	if err == nil && index == 0 {
		c.text += text
		if finish != "" {
			c.finish = finish
		}
	}
	return err
}

// usage reads a chunk's usage object; null leaves c.usage nil.
func (d *chunkDecoder) usage(c *chunk) error {
	dec := &d.dec
	if dec.PeekKind() != '{' {
		return dec.SkipValue()
	}
	var u domain.Usage
	err := members(dec, func(name jsontext.Token) (err error) {
		var n int64
		switch name.String() {
		case "prompt_tokens":
			n, err = readInt(dec)
			u.PromptTokens = int(n)
		case "completion_tokens":
			n, err = readInt(dec)
			u.CompletionTokens = int(n)
		default:
			err = dec.SkipValue()
		}
		return err
	})
	if err == nil {
		c.usage = &u
	}
	return err
}

// readString reads a string value; any other value reads as "".
func readString(dec *jsontext.Decoder) (string, error) {
	if dec.PeekKind() != '"' {
		return "", dec.SkipValue()
	}
	t, err := dec.ReadToken()
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

// readInt reads an integer value; any other value reads as 0.
func readInt(dec *jsontext.Decoder) (int64, error) {
	if dec.PeekKind() != '0' {
		return 0, dec.SkipValue()
	}
	t, err := dec.ReadToken()
	if err != nil {
		return 0, err
	}
	n, err := t.Int()
	if err != nil {
		return 0, nil // a fraction or an integer out of range
	}
	return n, nil
}
