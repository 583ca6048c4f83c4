package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The client IP that login throttling keys on cannot be chosen by the client: echo's
// default RealIP would believe X-Forwarded-For and X-Real-IP (GO-2026-6872), so the
// router always sets its own extractor.
func TestClientIPIgnoresSpoofedForwardingHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     string
		want    string
	}{
		{name: "no trusted proxy: the peer", peer: "198.51.100.7:5000", xff: "203.0.113.1", want: "198.51.100.7"},
		{name: "an untrusted peer cannot claim to be a proxy", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			peer: "198.51.100.7:5000", xff: "203.0.113.1", want: "198.51.100.7"},
		{name: "a trusted proxy: the first untrusted hop from the right", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			peer: "10.1.1.1:5000", xff: "203.0.113.1, 192.0.2.9, 10.2.2.2", want: "192.0.2.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/auth/token", nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Forwarded-For", tc.xff)
			r.Header.Set("X-Real-IP", "203.0.113.99")

			assert.Equal(t, tc.want, ipExtractor(tc.trusted)(r))
		})
	}
}
