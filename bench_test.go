package rjwt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
)

// The benchmarks run against the package's private redis-server. Each rjwt
// benchmark has a raw go-redis baseline beside it doing the least the same
// work costs in Redis, so the two can be compared in one run:
//
//	go test -run '^$' -bench . -benchmem -count 5 . | tee bench.txt
//
// Sign ~ BaselineSetEX, Verify ~ BaselineExists, VerifyWithSession ~
// BaselineGet, and ParseOnly ~ BaselineParseWithClaims (allocations).

func benchClient(b *testing.B, opts ...rjwt.Option) *rjwt.Client {
	b.Helper()
	c, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix("bench:")}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func baselineClient(b *testing.B) *redis.Client {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { rdb.Close() })
	return rdb
}

func BenchmarkSign(b *testing.B) {
	c := benchClient(b, rjwt.WithMultiple(true))
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// One user per goroutine-iteration spreads the index like real logins.
			id := "user" + strconv.FormatInt(n.Add(1)%1000, 10)
			if _, err := c.Sign(ctx, id, rjwt.WithTTL("1 minute")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkBaselineSetEX(b *testing.B) {
	rdb := baselineClient(b)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "baseline:{user" + strconv.FormatInt(n.Add(1)%1000, 10) + "}:" + strconv.FormatInt(n.Load(), 10)
			if err := rdb.Set(ctx, key, "", time.Minute).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	c := benchClient(b)
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

func BenchmarkBaselineExists(b *testing.B) {
	rdb := baselineClient(b)
	ctx := context.Background()
	rdb.Set(ctx, "baseline:exists", "", time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rdb.Exists(ctx, "baseline:exists").Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyWithSession(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "verify-session-user", rjwt.WithDataSession(map[string]any{"views": 12, "cart": []int{1, 2, 3}}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Verify(ctx, tok, rjwt.WithSession()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkBaselineGet(b *testing.B) {
	rdb := baselineClient(b)
	ctx := context.Background()
	rdb.Set(ctx, "baseline:get", `{"views":12,"cart":[1,2,3]}`, time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rdb.Get(ctx, "baseline:get").Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// baselineClaims are rjwt's claims as golang-jwt users would declare them,
// decoded by golang-jwt's own types.
type baselineClaims struct {
	ID        string          `json:"id"`
	Session   string          `json:"rjwt"`
	DataToken json.RawMessage `json:"dataToken,omitempty"`
	TTL       int64           `json:"ttl"`
	jwt.RegisteredClaims
}

// BenchmarkBaselineParseWithClaims is golang-jwt's ParseWithClaims alone, on
// the same token, into a plain claims struct: Verify's allocations are
// compared with it.
func BenchmarkBaselineParseWithClaims(b *testing.B) {
	c := benchClient(b)
	tok, err := c.Sign(context.Background(), "parse-user", rjwt.WithDataToken(map[string]string{"role": "admin"}))
	if err != nil {
		b.Fatal(err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	keyFunc := func(*jwt.Token) (any, error) { return testSecret, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := parser.ParseWithClaims(tok, &baselineClaims{}, keyFunc); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyIdle compares Verify of sessions without and with an idle
// timeout, sub-benchmarks interleaved under -count. The steady state: an
// hour's window, so Verify checks and rarely writes; "extending" uses a
// 1-second window, so a write every half second per session.
func BenchmarkVerifyIdle(b *testing.B) {
	for _, tc := range []struct{ name, idle string }{{"off", ""}, {"on", "1 hour"}, {"extending", "1 second"}} {
		b.Run(tc.name, func(b *testing.B) {
			var opts []rjwt.Option
			if tc.idle != "" {
				opts = append(opts, rjwt.WithIdleTimeout(tc.idle))
			}
			c := benchClient(b, append(opts, rjwt.WithMultiple(true), rjwt.WithPrefix("bench-idle-"+tc.name+":"))...)
			ctx := context.Background()
			tokens := make([]string, 64)
			for i := range tokens {
				t, err := c.Sign(ctx, "user"+strconv.Itoa(i), rjwt.WithTTL("1 hour"))
				if err != nil {
					b.Fatal(err)
				}
				tokens[i] = t
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Verify(ctx, tokens[n.Add(1)%int64(len(tokens))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkVerifyCached is Verify answered from the local cache: compare
// with BenchmarkBaselineParseWithClaims.
func BenchmarkVerifyCached(b *testing.B) {
	c := benchClient(b, rjwt.WithLocalCache(10_000))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "cached-user", rjwt.WithDataToken(map[string]string{"role": "admin"}))
	if err != nil {
		b.Fatal(err)
	}
	for c.CacheStats().Hits == 0 {
		if _, err := c.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTopology compares Sign and Verify on the single server and on the
// shared Redis Cluster (a ClusterClient through WithRedisClient), with users
// spread over the masters:
//
//	go test -run '^$' -bench Topology -benchtime 3s .
func BenchmarkTopology(b *testing.B) {
	for _, name := range []string{"single", "cluster"} {
		tp := useTopology(b, name)
		b.Run(name+"/Sign", func(b *testing.B) {
			c := tp.newClient(b, rjwt.WithMultiple(true))
			ctx := context.Background()
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := "user" + strconv.FormatInt(n.Add(1)%1000, 10)
					if _, err := c.Sign(ctx, id, rjwt.WithTTL("1 minute")); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(name+"/Verify", func(b *testing.B) {
			c := tp.newClient(b, rjwt.WithMultiple(true))
			ctx := context.Background()
			toks := make([]string, 30) // users on every master
			for i := range toks {
				tok, err := c.Sign(ctx, "verify"+strconv.Itoa(i))
				if err != nil {
					b.Fatal(err)
				}
				toks[i] = tok
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Verify(ctx, toks[n.Add(1)%int64(len(toks))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRevokeReplicaAck measures what WithReplicaAck costs a revocation,
// on the Sentinel setup's master and its one replica: one Sign then one
// Revoke per iteration, one at a time (latency, not throughput), without and
// with WAIT for the replica. The difference is the cost per revoke.
func BenchmarkRevokeReplicaAck(b *testing.B) {
	tp := useTopology(b, "sentinel")
	for _, ack := range []bool{false, true} {
		b.Run(fmt.Sprintf("ack=%v", ack), func(b *testing.B) {
			opts := []rjwt.Option{rjwt.WithMultiple(true)}
			if ack {
				opts = append(opts, rjwt.WithReplicaAck(1, time.Second))
			}
			c := tp.newClient(b, opts...)
			ctx := context.Background()
			for b.Loop() {
				tok, err := c.Sign(ctx, "revoker", rjwt.WithTTL("1 minute"))
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Revoke(ctx, sessionOf(tok)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sessionOf reads a token's session ("rjwt" claim) without checking it.
func sessionOf(token string) string {
	parts := strings.SplitN(token, ".", 3)
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m struct {
		Session string `json:"rjwt"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Session
}
