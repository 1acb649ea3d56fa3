package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/rjwt/rjwt"
)

// noopHooks are Hooks that do nothing: what calling hooks costs.
type noopHooks struct{}

func (noopHooks) Start(ctx context.Context, _ rjwt.Op) context.Context { return ctx }
func (noopHooks) End(context.Context, rjwt.Op, rjwt.Outcome, error, time.Duration) {
}

// BenchmarkVerifyNoopHooks is BenchmarkVerify with hooks that do nothing.
func BenchmarkVerifyNoopHooks(b *testing.B) {
	c := benchClient(b, rjwt.WithHooks(noopHooks{}))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "verify-user", rjwt.WithDataToken(map[string]string{"role": "admin"}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
