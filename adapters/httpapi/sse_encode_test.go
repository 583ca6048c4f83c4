package httpapi_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/adapters/httpapi/sse"
)

func TestEncodeSSE(t *testing.T) {
	tests := []struct {
		name      string
		event     string
		data      string
		wantWire  string
		wantData  string
		wantEvent string
	}{
		{name: "json", event: "token", data: `{"delta":"hi"}`, wantWire: "event: token\ndata: {\"delta\":\"hi\"}\n\n"},
		{name: "multi-line", event: "x", data: "a\nb\n\nc", wantWire: "event: x\ndata: a\ndata: b\ndata: \ndata: c\n\n"},
		{name: "CRLF and CR become separate lines", event: "x", data: "a\r\nb\rc", wantWire: "event: x\ndata: a\ndata: b\ndata: c\n\n", wantData: "a\nb\nc"},
		{name: "leading space survives", event: "x", data: " lead", wantWire: "event: x\ndata:  lead\n\n"},
		{name: "colons in data", event: "x", data: "a: b", wantWire: "event: x\ndata: a: b\n\n"},
		{name: "empty data", event: "x", data: "", wantWire: "event: x\ndata: \n\n"},
		{name: "trailing newline", event: "x", data: "a\n", wantWire: "event: x\ndata: a\ndata: \n\n"},
		{name: "unnamed event", event: "", data: "m", wantWire: "data: m\n\n", wantEvent: "message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sse.Encode(nil, tc.event, tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.wantWire, string(got))
			evs, _ := parseAllSSE(got)
			require.Len(t, evs, 1)
			want := tc.data
			if tc.wantData != "" {
				want = tc.wantData
			}
			assert.Equal(t, want, evs[0].Data)
			wantEvent := tc.event
			if tc.wantEvent != "" {
				wantEvent = tc.wantEvent
			}
			assert.Equal(t, wantEvent, evs[0].Type)
		})
	}
	for _, bad := range []string{"a\nb", "a\rb", "a:b", "\xff"} {
		_, err := sse.Encode(nil, bad, "x")
		assert.Error(t, err, "event name %q", bad)
	}
	_, err := sse.Encode(nil, "x", "bad \xff utf8")
	assert.Error(t, err)
}

func TestEncodeSSEComment(t *testing.T) {
	b := sse.EncodeComment(nil, "ping")
	assert.Equal(t, ": ping\n\n", string(b))
	evs, comments := parseAllSSE(append(b, sse.EncodeComment(nil, "two\nlines")...))
	assert.Empty(t, evs)
	assert.Equal(t, []string{" ping", " two lines"}, comments)
}

// FuzzSSE checks that the parser gives back exactly what was encoded (line ends
// normalised to LF, as the SSE standard defines), for one event and for a sequence.
func FuzzSSE(f *testing.F) {
	for _, s := range [][2]string{{"token", `{"delta":"x"}`}, {"a", "l1\nl2"}, {"b", "\r\n\r"}, {"", " "}, {"e", "data: x\n\nevent: y"}, {"e", "\ufeffbom"}} {
		f.Add(s[0], s[1], "second")
	}
	f.Fuzz(func(t *testing.T, event, data, data2 string) {
		frame, err := sse.Encode(nil, event, data)
		if !utf8.ValidString(event) || strings.ContainsAny(event, "\r\n:") || !utf8.ValidString(data) {
			if err == nil {
				t.Fatalf("accepted event %q data %q", event, data)
			}
			return
		}
		if err != nil {
			t.Fatalf("rejected event %q data %q: %v", event, data, err)
		}
		frame, err = sse.Encode(frame, "second", data2)
		if !utf8.ValidString(data2) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		evs, comments := parseAllSSE(frame)
		if len(evs) != 2 || len(comments) != 0 {
			t.Fatalf("got %d events and %d comments from %q", len(evs), len(comments), frame)
		}
		wantType := event
		if wantType == "" {
			wantType = "message"
		}
		if evs[0].Type != wantType || evs[0].Data != normaliseLineEnds(data) {
			t.Fatalf("first event = %q %q, want %q %q", evs[0].Type, evs[0].Data, wantType, normaliseLineEnds(data))
		}
		if evs[1].Type != "second" || evs[1].Data != normaliseLineEnds(data2) {
			t.Fatalf("second event = %q %q", evs[1].Type, evs[1].Data)
		}
	})
}

func normaliseLineEnds(s string) string {
	return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
}
