package domain_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
)

func TestNewDocument(t *testing.T) {
	t.Parallel()
	manyKeys := map[string]string{}
	for i := range domain.MaxMetadataKeys + 1 {
		manyKeys[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name       string
		title      string
		text       string
		externalID string
		metadata   map[string]string
		wantFields []string
	}{
		{name: "valid", title: " Handbook ", text: "Some text.", externalID: "kb/1", metadata: map[string]string{"lang": "en"}},
		{name: "no external id or metadata", title: "Handbook", text: "Some text."},
		{name: "empty title", title: "   ", text: "x", wantFields: []string{"title"}},
		{name: "long title", title: strings.Repeat("t", domain.MaxTitleLength+1), text: "x", wantFields: []string{"title"}},
		{name: "invalid utf-8 title", title: "bad \xff", text: "x", wantFields: []string{"title"}},
		{name: "blank text", title: "t", text: " \n ", wantFields: []string{"text"}},
		{name: "invalid utf-8 text", title: "t", text: "bad \xfe", wantFields: []string{"text"}},
		{name: "long external id", title: "t", text: "x", externalID: strings.Repeat("e", 201), wantFields: []string{"external_id"}},
		{name: "too many metadata keys", title: "t", text: "x", metadata: manyKeys, wantFields: []string{"metadata"}},
		{name: "empty metadata key", title: "t", text: "x", metadata: map[string]string{"": "v"}, wantFields: []string{"metadata."}},
		{name: "long metadata entry", title: "t", text: "x", metadata: map[string]string{"k": strings.Repeat("v", domain.MaxMetadataLength)}, wantFields: []string{"metadata.k"}},
		{name: "several", title: "", text: "", externalID: strings.Repeat("e", 201), wantFields: []string{"title", "text", "external_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NewDocument("d1", "acme", tc.externalID, tc.title, tc.text, tc.metadata, now)
			if tc.wantFields != nil {
				assert.ElementsMatch(t, tc.wantFields, invalidFields(t, err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, strings.TrimSpace(tc.title), got.Title)
			assert.Equal(t, len(tc.text), got.Bytes)
			assert.Equal(t, domain.TenantID("acme"), got.TenantID)
			assert.Equal(t, now, got.CreatedAt)
			assert.Equal(t, len(tc.metadata), len(got.Metadata))
		})
	}
}

func TestNewDocumentCopiesMetadata(t *testing.T) {
	t.Parallel()
	md := map[string]string{"lang": "en"}
	got, err := domain.NewDocument("d1", "acme", "", "t", "x", md, now)
	require.NoError(t, err)

	md["lang"] = "de"

	assert.Equal(t, "en", got.Metadata["lang"])
}

func TestValidateQuestion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		msg     string
		wantErr bool
	}{
		{name: "question", msg: "How do refunds work?"},
		{name: "longest", msg: strings.Repeat("a", domain.MaxMessageLength)},
		{name: "too long", msg: strings.Repeat("a", domain.MaxMessageLength+1), wantErr: true},
		{name: "empty", msg: "", wantErr: true},
		{name: "whitespace", msg: " \t\n", wantErr: true},
		{name: "invalid utf-8", msg: "hi \xc3", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateQuestion(tc.msg)
			if tc.wantErr {
				assert.Equal(t, []string{"message"}, invalidFields(t, err))
				return
			}
			assert.NoError(t, err)
		})
	}
}

func TestPageNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   domain.Page
		want domain.Page
	}{
		{name: "zero", in: domain.Page{}, want: domain.Page{Limit: 20}},
		{name: "negative", in: domain.Page{Limit: -5, Offset: -1}, want: domain.Page{Limit: 20}},
		{name: "in range", in: domain.Page{Limit: 50, Offset: 10}, want: domain.Page{Limit: 50, Offset: 10}},
		{name: "too large", in: domain.Page{Limit: 1000}, want: domain.Page{Limit: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.in.Normalize())
		})
	}
}

func TestStorableText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "héllo [1]", want: "héllo [1]"},
		{name: "nul", in: "a\x00b", want: "a\uFFFDb"},
		{name: "invalid utf-8", in: "a\xffb", want: "a\uFFFDb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, domain.StorableText(tc.in))
		})
	}
}

func TestParseConversationTitle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "plain", in: "Refunds", want: "Refunds", ok: true},
		{name: "trimmed", in: "  Refunds \n", want: "Refunds", ok: true},
		{name: "longest", in: strings.Repeat("é", 100), want: strings.Repeat("é", 100), ok: true},
		{name: "empty", in: "", ok: false},
		{name: "only space", in: " \t ", ok: false},
		{name: "too long in bytes", in: strings.Repeat("é", 101), ok: false},
		{name: "NUL", in: "a\x00b", ok: false},
		{name: "invalid UTF-8", in: "a\xffb", ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseConversationTitle(tc.in)
			if !tc.ok {
				require.Error(t, err)
				assert.Equal(t, domain.KindInvalid, domain.KindOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
