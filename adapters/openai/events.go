package openai

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/openai/openai-go/v3/packages/ssestream"
)

// eventBuffer is the read buffer of a chat stream's event decoder. A chat chunk's
// line is a few hundred bytes; a longer line is gathered across reads.
const eventBuffer = 512

// maxEventLine is the longest line accepted, the limit of the SDK's own decoder.
const maxEventLine = bufio.MaxScanTokenSize << 9

var errEventLineTooLong = errors.New("event stream line too long")

// eventDecoder is an ssestream.Decoder for text/event-stream that reads the way the
// SDK's own decoder does (events end at an empty line, data lines are joined with
// "\n", comments are skipped) through a 512-byte buffer. The SDK's decoder starts at
// 4 KiB, and every open stream holds its decoder's buffer while it waits for the
// model's next chunk.
type eventDecoder struct {
	rc  io.ReadCloser
	r   *bufio.Reader
	evt ssestream.Event
	err error
}

var _ ssestream.Decoder = (*eventDecoder)(nil)

// newEventDecoder decodes res's body; nil when there is no response.
func newEventDecoder(res *http.Response) *eventDecoder {
	if res == nil || res.Body == nil {
		return nil
	}
	return &eventDecoder{rc: res.Body, r: bufio.NewReaderSize(res.Body, eventBuffer)}
}

// Next reads the next event. It is false at the end of the body or on a read error,
// which Err then returns.
func (d *eventDecoder) Next() bool {
	d.evt = ssestream.Event{} // not kept while waiting for the next event
	if d.err != nil {
		return false
	}
	for {
		line, err := d.line()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				d.err = err
			}
			d.evt = ssestream.Event{}
			return false
		}
		if len(line) == 0 {
			if len(d.evt.Data) == 0 {
				d.evt.Type = ""
				continue
			}
			return true
		}
		d.field(line)
	}
}

// field adds a line's field to the event being read. (Next's frame lies under every
// read of the response, so the parsing is here.)
func (d *eventDecoder) field(line []byte) {
	field, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch string(field) {
	case "event":
		d.evt.Type = string(value)
	case "data":
		d.evt.Data = append(d.evt.Data, value...)
		d.evt.Data = append(d.evt.Data, '\n')
	}
}

// line returns the next line without its line break ("\n" or "\r\n"). It is valid
// until the next read.
func (d *eventDecoder) line() ([]byte, error) {
	line, err := d.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > maxEventLine {
				return nil, errEventLineTooLong
			}
			line, err = d.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// Event returns the event Next read.
func (d *eventDecoder) Event() ssestream.Event { return d.evt }

// Close closes the body.
func (d *eventDecoder) Close() error { return d.rc.Close() }

// Err returns the read error that ended the events, nil at the body's end.
func (d *eventDecoder) Err() error { return d.err }
