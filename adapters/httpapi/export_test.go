package httpapi

// EncodeSSE exposes the SSE encoder to the external tests that parse its output.
func EncodeSSE(dst []byte, event, data string) ([]byte, error) { return encodeSSE(dst, event, data) }

// EncodeSSEComment exposes the comment encoder.
func EncodeSSEComment(dst []byte, text string) []byte { return encodeSSEComment(dst, text) }
