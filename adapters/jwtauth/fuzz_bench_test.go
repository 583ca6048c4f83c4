package jwtauth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/adapters/jwtauth"
	"github.com/tenantry/tenantry/domain"
)

// FuzzVerify feeds arbitrary bearer tokens to the verifier. Whatever the input, it must
// not panic, must fail only with domain.ErrInvalidToken without echoing the input, and
// may succeed only with the claims our own issuer signed.
func FuzzVerify(f *testing.F) {
	e := newEnv(f, "ES256")
	want := e.claims()
	valid := e.issue(f, want)
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		parts[0] + "." + parts[1] + "." + flipChar(parts[2]),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9." + parts[1] + "." + parts[2],
		`{"payload":"` + parts[1] + `","signatures":[]}`,
		"Bearer " + valid,
		"",
		".",
		"..",
		"a.b.c",
		"e30.e30.e30",
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 100),
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		got, err := e.verifier.Verify(ctx, token)
		if err == nil {
			if got.Subject != want.Subject || got.TenantID != want.TenantID || got.Role != want.Role ||
				got.TokenVersion != want.TokenVersion || got.TokenID != want.TokenID {
				t.Fatalf("accepted claims that were never issued: %+v", got)
			}
			return
		}
		if !domainIsInvalidToken(err) {
			t.Fatalf("error is not ErrInvalidToken: %v", err)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error echoes the token")
		}
	})
}

func domainIsInvalidToken(err error) bool {
	e := domain.AsError(err)
	return e != nil && e.Kind == domain.KindUnauthenticated && e.Code == domain.ErrInvalidToken.Code
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, alg)
			c := e.claims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.issuer.Issue(context.Background(), c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b, alg)
			token := e.issue(b, e.claims())
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.verifier.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	e := newEnv(b, "ES256")
	token := e.issue(b, e.claims())
	c := jwtauth.NewCachedVerifier(e.verifier, 0, nil)
	ctx := context.Background()
	if _, err := c.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Verify(ctx, token); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
