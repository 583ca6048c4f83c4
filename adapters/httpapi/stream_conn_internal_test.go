package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http/httputil"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzConnSinkChunks checks the chunked framing of a handed-off stream against the
// standard library's decoder: whatever frames are written, the body decodes to them
// in order and ends with the last chunk.
func FuzzConnSinkChunks(f *testing.F) {
	f.Add("event: token\ndata: {\"delta\":\"hi\"}\n\n", 3)
	f.Add(": ping\n\n", 1)
	f.Add(strings.Repeat("x", 70000), 2)
	f.Fuzz(func(t *testing.T, frame string, n int) {
		if frame == "" || n < 1 || n > 8 {
			return
		}
		server, client := net.Pipe()
		defer client.Close()
		s := &connSink{conn: server}
		got := make(chan []byte, 1)
		go func() {
			b, err := io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(client)))
			if err != nil {
				b = append(b, "\nread error: "+err.Error()...)
			}
			got <- b
		}()
		for range n {
			require.NoError(t, s.write([]byte(frame), time.Now().Add(5*time.Second)))
		}
		s.end(false) // not kept alive: the last chunk, then the connection closes
		assert.Equal(t, strings.Repeat(frame, n), string(<-got))
		assert.Equal(t, int64(n)*(chunkOverhead(len(frame))+int64(len(frame)))+int64(len(lastChunk)), s.bytes, "bytes counts the framing too")
	})
}

// chunkOverhead is the framing around one chunk of size bytes: its size in hex and
// two CRLFs.
func chunkOverhead(size int) int64 {
	hex := 1
	for v := size; v >= 16; v /= 16 {
		hex++
	}
	return int64(hex + 4)
}
