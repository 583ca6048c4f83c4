package httpapi

import (
	"mime"
	"net/http"

	"github.com/klauspost/compress/gzhttp"
	"github.com/labstack/echo/v4"

	"github.com/tenantry/tenantry/adapters/httpapi/sse"
)

// compression gzips the responses of clients that accept it, once a body reaches
// gzhttp's minimum size (1 KiB, buffered to decide). Event streams are never
// compressed: an open stream would hold a compressor of several hundred KiB for its
// whole life, and each event must reach the client when it is written. ok is false
// when the wrapper cannot be built (then responses go out uncompressed).
func compression() (mw echo.MiddlewareFunc, ok bool) {
	wrap, err := gzhttp.NewWrapper(gzhttp.EnableZstd(false), gzhttp.ContentTypeFilter(compressible))
	if err != nil {
		return nil, false
	}
	return echo.WrapMiddleware(func(h http.Handler) http.Handler { return wrap(h) }), true
}

// compressible is gzhttp's default filter (already compressed formats stay as they
// are) minus event streams.
func compressible(contentType string) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt == sse.ContentType {
		return false
	}
	return gzhttp.DefaultContentTypeFilter(contentType)
}
