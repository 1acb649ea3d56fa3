package rjwttest

import (
	"crypto/rand"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/optinfo"
	"github.com/rjwt/rjwt/internal/redistest"
)

// NewServer is New on a real redis-server instead of the embedded Redis,
// for what the embedded one cannot serve (WithLocalCache, keyspace events):
// the kit starts a private redis-server on a free port, in a directory of
// its own, and stops it when t ends (also when the test binary panics or is
// killed: the server dies with it). It needs redis-server on PATH: without
// one t is skipped, with a message naming the package to install, unless
// the environment sets RJWT_REQUIRE_REDIS=1, which makes that a failure.
// Options that name another Redis (WithAddr, WithURL, WithRedisClient,
// WithPassword) fail t.
func NewServer(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	info, err := optinfo.Of(opts)
	if err != nil {
		t.Fatalf("rjwttest.NewServer: %v", err)
	}
	if info.Addr || info.URL || info.RedisClient || info.Password {
		t.Fatalf("rjwttest.NewServer: the client's Redis is the one the kit starts: leave WithAddr, WithURL, WithRedisClient and WithPassword out")
	}
	srv := redistest.Start(t) // skips (or fails) without redis-server
	c, err := rjwt.New(options(srv.Addr(), info, opts)...)
	if err != nil {
		t.Fatalf("rjwttest.NewServer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// KitGoroutines are the functions of the goroutines NewServer leaves
// running for the life of the test binary (the one that starts servers tied
// to the process, and each server's waiter until it is stopped), for a
// leak check: goleak.IgnoreAnyFunction each of them.
func KitGoroutines() []string { return append([]string(nil), redistest.HarnessGoroutines...) }

// options are a kit client's: its Redis at addr, a random 32-byte secret
// unless opts give a key, then opts.
func options(addr string, info optinfo.Info, opts []rjwt.Option) []rjwt.Option {
	base := []rjwt.Option{rjwt.WithAddr(addr)}
	if !info.Key {
		secret := make([]byte, rjwt.MinSecretSize)
		rand.Read(secret) // never fails (crypto/rand)
		base = append(base, rjwt.WithSecret(secret))
	}
	return append(base, opts...)
}
