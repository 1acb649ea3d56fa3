package rjwt_test

import (
	"os"
	"sync"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/rjwttest"
)

// redisAddr is the private redis-server this package's tests and examples
// run against, started by TestMain.
var redisAddr string

// TestMain starts the package's redis-server and gives the examples, which
// read REDIS_URL and RJWT_SECRET as an application would, the test key.
func TestMain(m *testing.M) {
	os.Setenv("RJWT_SECRET", string(rjwttest.Secret))
	redistest.Main(m, &redisAddr)
}

// testSecret is the shared fixed 32-byte key for tests and examples.
var testSecret = rjwttest.Secret

// newClient makes a client on the package's Redis with a key prefix of the
// test's own, so tests never see each other's keys (internal/rjwttest, shared
// by every package's tests).
func newClient(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	return rjwttest.NewClient(t, redisAddr, opts...)
}

// nanoOf is the nanoid of a session name ("id:nanoid").
func nanoOf(session string) string { return session[len(session)-21:] }

// prefixes holds the prefixes of clients made here without newClient
// (keyedClient, whose keys are not the shared test secret).
var prefixes sync.Map

// prefixOf is the key prefix newClient (or keyedClient) gave c.
func prefixOf(t testing.TB, c *rjwt.Client) string {
	t.Helper()
	if p, ok := prefixes.Load(c); ok {
		return p.(string)
	}
	return rjwttest.Prefix(c)
}
