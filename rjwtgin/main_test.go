package rjwtgin_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that nothing the tests started (clients, the embedded
// Redis, redis-server) outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
