package pinecone

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffIsFullJitterUnderACappedExponential(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	tests := []struct {
		name  string
		retry int
		cap   time.Duration
	}{
		{name: "first", retry: 1, cap: 100 * time.Millisecond},
		{name: "second", retry: 2, cap: 200 * time.Millisecond},
		{name: "third", retry: 3, cap: 400 * time.Millisecond},
		{name: "capped", retry: 10, cap: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var maxSeen time.Duration
			for range 2000 {
				got := p.backoff(tc.retry)
				assert.GreaterOrEqual(t, got, time.Duration(0))
				assert.LessOrEqual(t, got, tc.cap)
				maxSeen = max(maxSeen, got)
			}
			assert.Greater(t, maxSeen, tc.cap/2, "draws spread over the whole range")
		})
	}
}

func TestRetryAfterParsesSecondsAndDates(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{name: "seconds", header: "3", want: 3 * time.Second, ok: true},
		{name: "http date", header: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, ok: true},
		{name: "past date", header: now.Add(-time.Minute).Format(http.TimeFormat), want: 0, ok: true},
		{name: "absent", header: "", ok: false},
		{name: "garbage", header: "soon", ok: false},
		{name: "negative", header: "-1", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Retry-After", tc.header)
			}
			got, ok := retryAfter(h, now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseHostAcceptsBareHostsAndURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "bare host means https", in: "idx-abc.svc.us-east-1.pinecone.io", want: "https://idx-abc.svc.us-east-1.pinecone.io"},
		{name: "https url", in: "https://idx.pinecone.io/", want: "https://idx.pinecone.io"},
		{name: "local http", in: "http://127.0.0.1:5080", want: "http://127.0.0.1:5080"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := parseHost(tc.in)
			assert.NoError(t, err)
			assert.Equal(t, tc.want, u.String())
		})
	}
}
