package rjwt_test

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

// counter is a go-redis hook counting commands and round trips (a single
// command, or a pipeline, is one).
type counter struct{ cmds, trips atomic.Int64 }

func (h *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.cmds.Add(1)
		h.trips.Add(1)
		return next(ctx, cmd)
	}
}
func (h *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.cmds.Add(int64(len(cmds)))
		h.trips.Add(1)
		return next(ctx, cmds)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyDPoP compares a plain Verify with a proof-checked one
// (WithProof, an ES256 proof), one call at a time, with and without the
// local cache, and reports this process's CPU per call and the Redis
// commands and round trips per call (docs/dpop.md has the figures):
//
//	go test -run '^$' -bench VerifyDPoP -benchtime 2000x -count 3 .
func BenchmarkVerifyDPoP(b *testing.B) {
	for _, bc := range []struct {
		name         string
		cache, proof bool
	}{{"plain", false, false}, {"proof", false, true}, {"cached-plain", true, false}, {"cached-proof", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var h counter
			rdb := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
			rdb.AddHook(&h)
			b.Cleanup(func() { rdb.Close() })
			opts := []rjwt.Option{rjwt.WithRedisClient(rdb)}
			if bc.cache {
				opts = append(opts, rjwt.WithLocalCache(1000))
			}
			c := benchClient(b, opts...)
			ctx := context.Background()
			k, err := dpoptest.NewKey("ES256")
			if err != nil {
				b.Fatal(err)
			}
			var sign []rjwt.SignOption
			if bc.proof {
				sign = append(sign, rjwt.BindProof(loginProof(k)))
			}
			tok, err := c.Sign(ctx, "dpop-user", sign...)
			if err != nil {
				b.Fatal(err)
			}
			proofs := make([]rjwt.VerifyOption, b.N)
			for i := range proofs {
				if bc.proof {
					proofs[i] = rjwt.WithProof(apiProof(k, tok))
				}
			}
			for bc.cache && c.CacheStats().Hits == 0 {
				var opt rjwt.VerifyOption
				if bc.proof {
					opt = rjwt.WithProof(apiProof(k, tok))
				}
				if _, err := c.Verify(ctx, tok, opt); err != nil {
					b.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
			b.ReportAllocs()
			cmds, trips, cpu := h.cmds.Load(), h.trips.Load(), cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Verify(ctx, tok, proofs[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(cpuTime()-cpu)/n/1e3, "cpu-µs/op")
			b.ReportMetric(float64(h.cmds.Load()-cmds)/n, "cmds/op")
			b.ReportMetric(float64(h.trips.Load()-trips)/n, "trips/op")
		})
	}
}
