// Package sse is tenantry's one place for server-sent event streams, shared by
// POST /chat/stream and POST /v1/chat/completions: the framing of events, the
// stream's headers, keep-alive pings, a write deadline per write, and the terminal
// event that ends a failed stream. It writes through net/http's ResponseWriter and
// ResponseController and imports nothing of tenantry's.
package sse

import (
	"errors"
	"strings"
	"unicode/utf8"
)

var (
	errSSEEventName = errors.New("sse: event name must be valid UTF-8 without line breaks or ':'")
	errSSEData      = errors.New("sse: data must be valid UTF-8")
)

// Encode appends one server-sent event to dst. Data is split at every line end the
// SSE standard recognises (CRLF, LF, CR), one "data:" line per line, so a parser
// rebuilds it exactly with line ends as LF. An empty event name sends an unnamed
// ("message") event.
func Encode(dst []byte, event, data string) ([]byte, error) {
	if !utf8.ValidString(event) || strings.ContainsAny(event, "\r\n:") {
		return dst, errSSEEventName
	}
	if !utf8.ValidString(data) {
		return dst, errSSEData
	}
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	for {
		i := strings.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = appendDataLine(dst, data[:i])
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = appendDataLine(dst, data)
	return append(dst, '\n'), nil
}

// appendDataLine writes "data: line". The space after the colon is always written,
// because a parser strips exactly one, keeping a line that starts with a space intact.
func appendDataLine(dst []byte, line string) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, line...)
	return append(dst, '\n')
}

// EncodeComment appends a comment line, which clients ignore; it keeps proxies from
// closing an idle stream.
func EncodeComment(dst []byte, text string) []byte {
	text = strings.NewReplacer("\r", " ", "\n", " ").Replace(text)
	dst = append(dst, ": "...)
	dst = append(dst, text...)
	return append(dst, '\n', '\n')
}
