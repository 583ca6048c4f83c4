package jwtauth

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSameToken(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("eyJhbGciOiJFUzI1NiJ9.", 30)
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "both empty", want: true},
		{name: "empty and not", a: "", b: "a"},
		{name: "one byte equal", a: "a", b: "a", want: true},
		{name: "one byte differs", a: "a", b: "b"},
		{name: "prefix", a: "abcdefgh", b: "abcdefghi"},
		{name: "long equal", a: long, b: strings.Clone(long), want: true},
		{name: "long, first byte differs", a: long, b: "X" + long[1:]},
		{name: "long, last byte differs", a: long, b: long[:len(long)-1] + "X"},
		{name: "long, byte in a 32-byte block differs", a: long, b: long[:40] + "X" + long[41:]},
		{name: "long, byte in the 8-byte tail differs", a: long[:len(long)-3], b: long[:len(long)-5] + "XX"},
		{name: "high bit differs", a: "abcdefgh\x80", b: "abcdefgh\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, sameToken(tc.a, tc.b))
			assert.Equal(t, tc.want, sameToken(tc.b, tc.a))
		})
	}
}

// TestSameTokenAgreesWithEquality flips one random bit at every length up to a few
// blocks, so each of the comparison's loops sees a difference at every position.
func TestSameTokenAgreesWithEquality(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		a := string(b)
		assert.True(t, sameToken(a, string(b)), "length %d", n)
		for i := range n {
			c := []byte(a)
			c[i] ^= 1 << r.UintN(8)
			if sameToken(a, string(c)) {
				t.Fatalf("length %d: a change at byte %d went unseen", n, i)
			}
		}
	}
}

func FuzzSameToken(f *testing.F) {
	f.Add("a.b.c", "a.b.c")
	f.Add("a.b.c", "a.b.d")
	f.Add(strings.Repeat("x", 40), strings.Repeat("x", 39)+"y")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := sameToken(a, b), a == b; got != want {
			t.Fatalf("sameToken(%q, %q) = %v, want %v", a, b, got, want)
		}
	})
}
