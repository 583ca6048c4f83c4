package openai

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decodeAll(t *testing.T, body io.Reader) ([]ssestream.Event, error) {
	t.Helper()
	d := newEventDecoder(&http.Response{Body: io.NopCloser(body)})
	var got []ssestream.Event
	for d.Next() {
		e := d.Event()
		got = append(got, ssestream.Event{Type: e.Type, Data: append([]byte(nil), e.Data...)})
	}
	require.NoError(t, d.Close())
	return got, d.Err()
}

func TestEventDecoderReadsEventsAsTheSDKDoes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 20*eventBuffer)
	tests := []struct {
		name string
		body string
		want []ssestream.Event
	}{
		{name: "data events", body: "data: {\"a\":1}\n\ndata: [DONE]\n\n",
			want: []ssestream.Event{{Data: []byte("{\"a\":1}\n")}, {Data: []byte("[DONE]\n")}}},
		{name: "CRLF line breaks", body: "data: one\r\n\r\ndata: two\r\n\r\n",
			want: []ssestream.Event{{Data: []byte("one\n")}, {Data: []byte("two\n")}}},
		{name: "named event with joined data lines", body: "event: error\ndata: a\ndata:b\n\n",
			want: []ssestream.Event{{Type: "error", Data: []byte("a\nb\n")}}},
		{name: "comments, ids and empty events skipped", body: ": ping\n\nid: 7\nretry: 10\n\nevent: x\n\ndata: y\n\n",
			want: []ssestream.Event{{Data: []byte("y\n")}}},
		{name: "only one space after the colon is dropped", body: "data:  two spaces\n\n",
			want: []ssestream.Event{{Data: []byte(" two spaces\n")}}},
		{name: "a line many times the buffer", body: "data: " + long + "\n\ndata: after\n\n",
			want: []ssestream.Event{{Data: []byte(long + "\n")}, {Data: []byte("after\n")}}},
		{name: "an event without its empty line at the end is dropped", body: "data: whole\n\ndata: partial",
			want: []ssestream.Event{{Data: []byte("whole\n")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// One byte per read, as a slow network delivers it, and all at once.
			for _, body := range []io.Reader{strings.NewReader(tc.body), iotest.OneByteReader(strings.NewReader(tc.body))} {
				got, err := decodeAll(t, body)
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

func TestEventDecoderReportsReadErrors(t *testing.T) {
	t.Parallel()
	cut := errors.New("connection reset")
	got, err := decodeAll(t, io.MultiReader(strings.NewReader("data: one\n\ndata: tw"), iotest.ErrReader(cut)))
	assert.ErrorIs(t, err, cut)
	assert.Equal(t, []ssestream.Event{{Data: []byte("one\n")}}, got)
}

func TestEventDecoderRefusesAnEndlessLine(t *testing.T) {
	t.Parallel()
	endless := io.MultiReader(strings.NewReader("data: "), repeatReader('x'))
	_, err := decodeAll(t, io.LimitReader(endless, maxEventLine+2*eventBuffer))
	assert.ErrorIs(t, err, errEventLineTooLong)
}

// repeatReader reads c without end.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestEventDecoderNeedsAResponse(t *testing.T) {
	t.Parallel()
	assert.Nil(t, newEventDecoder(nil))
	assert.Nil(t, newEventDecoder(&http.Response{}))
}
