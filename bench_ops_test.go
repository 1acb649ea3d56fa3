package rjwt_test

import (
	"context"
	"testing"

	"github.com/rjwt/rjwt"
)

// BenchmarkVerifyBadSignature is Verify without its Redis round trip: a
// token whose signature does not match fails after the HMAC, so what the
// call costs around its checks (Stats' count, Hooks) is not hidden by the
// network's noise.
func BenchmarkVerifyBadSignature(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "verify-user", rjwt.WithDataToken(map[string]string{"role": "admin"}))
	if err != nil {
		b.Fatal(err)
	}
	bad := tok[:len(tok)-2] + "AA"
	if tok[len(tok)-2:] == "AA" {
		bad = tok[:len(tok)-2] + "BB"
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Verify(ctx, bad); err == nil {
				b.Error("verified")
				return
			}
		}
	})
}
