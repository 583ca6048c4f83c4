package httpapi_test

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	Type string
	Data string
	ID   string
}

// sseParser interprets an event stream as the WHATWG HTML standard's "event stream
// interpretation" says, independently of the encoder under test: UTF-8 decoding with
// replacement, one leading BOM stripped, CRLF/LF/CR line ends, comments, fields with
// one optional space after the colon, data lines joined by LF, and an event dispatched
// only at a blank line (an unterminated one at EOF is dropped).
type sseParser struct {
	r         *bufio.Reader
	started   bool
	skipLF    bool
	eventType string
	data      strings.Builder
	hasData   bool
	lastID    string
	Comments  []string
	// OnComment, when set, sees each comment as it is read.
	OnComment func(string)
}

func newSSEParser(r io.Reader) *sseParser { return &sseParser{r: bufio.NewReader(r)} }

// readLine returns the next line without its end; io.EOF when the stream ends, in
// which case a partial line is dropped.
func (p *sseParser) readLine() (string, error) {
	var line []byte
	for {
		b, err := p.r.ReadByte()
		if err != nil {
			return "", err
		}
		if p.skipLF {
			p.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			p.skipLF = true
			return p.decode(line), nil
		case '\n':
			return p.decode(line), nil
		}
		line = append(line, b)
	}
}

func (p *sseParser) decode(line []byte) string {
	s := strings.ToValidUTF8(string(line), "\uFFFD")
	if !p.started {
		p.started = true
		s = strings.TrimPrefix(s, "\uFEFF")
	}
	return s
}

// Next returns the next dispatched event, or io.EOF.
func (p *sseParser) Next() (sseEvent, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if line == "" {
			if ev, ok := p.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if line[0] == ':' {
			p.Comments = append(p.Comments, line[1:])
			if p.OnComment != nil {
				p.OnComment(line[1:])
			}
			continue
		}
		field, value := line, ""
		if i := strings.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			p.eventType = value
		case "data":
			p.data.WriteString(value)
			p.data.WriteByte('\n')
			p.hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				p.lastID = value
			}
		}
	}
}

func (p *sseParser) dispatch() (sseEvent, bool) {
	defer func() { p.eventType, p.hasData = "", false; p.data.Reset() }()
	if !p.hasData {
		return sseEvent{}, false
	}
	data := strings.TrimSuffix(p.data.String(), "\n")
	typ := p.eventType
	if typ == "" {
		typ = "message"
	}
	return sseEvent{Type: typ, Data: data, ID: p.lastID}, true
}

// parseAllSSE parses a complete stream.
func parseAllSSE(b []byte) ([]sseEvent, []string) {
	p := newSSEParser(bytes.NewReader(b))
	var out []sseEvent
	for {
		ev, err := p.Next()
		if err != nil {
			return out, p.Comments
		}
		out = append(out, ev)
	}
}
