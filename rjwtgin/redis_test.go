package rjwtgin_test

import (
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwttest"
)

// backend makes the clients a test runs against.
type backend struct {
	name      string
	newClient func(t *testing.T, opts ...rjwt.Option) *rjwt.Client
}

// backends are the embedded Redis of rjwttest.New and a real redis-server
// (rjwttest.NewServer, which skips without one installed unless
// RJWT_REQUIRE_REDIS=1 makes that a failure).
func backends(t *testing.T) []backend {
	return []backend{
		{"miniredis", func(t *testing.T, opts ...rjwt.Option) *rjwt.Client { return rjwttest.New(t, opts...) }},
		{"redis-server", func(t *testing.T, opts ...rjwt.Option) *rjwt.Client { return rjwttest.NewServer(t, opts...) }},
	}
}
