package rjwtecho_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rjwt/rjwt/rjwttest"
)

// TestMain checks that nothing the tests started (clients, the embedded
// Redis, redis-server) outlives them. go-redis's redial loop, started by a
// failed dial (the tests of an outage make some), checks whether its pool
// is closed once a second: it ends up to a second after Close.
func TestMain(m *testing.M) {
	opts := []goleak.Option{goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial")}
	for _, f := range rjwttest.KitGoroutines() {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}
