package domain

import (
	"strings"
	"unicode/utf8"
)

// storableText reports whether s is valid UTF-8 without NUL characters: text that
// every store keeps exactly (PostgreSQL's text type cannot hold a NUL, and a UTF-16
// file read as bytes is full of them).
func storableText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// StorableText makes text from outside (a model's answer) storable everywhere: invalid
// UTF-8 and NUL characters become U+FFFD.
func StorableText(s string) string {
	if storableText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
