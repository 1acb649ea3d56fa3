package rjwt_test

import (
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// redisAddr is the private redis-server this package's tests and examples
// run against, started by TestMain.
var redisAddr string

func TestMain(m *testing.M) { redistest.Main(m, &redisAddr) }

// testSecret is a fixed 32-byte key for tests and examples.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newClient makes a client on the package's Redis with a key prefix of the
// test's own, so tests never see each other's keys.
func newClient(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	prefix := "test:" + strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":" + rand.Text()[:6] + ":"
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix(prefix)}
	c, err := rjwt.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	prefixes.Store(c, prefix)
	t.Cleanup(func() { c.Close(); prefixes.Delete(c) })
	return c
}

// nanoOf is the nanoid of a session name ("id:nanoid").
func nanoOf(session string) string { return session[len(session)-21:] }

// prefixes maps each newClient client to its key prefix.
var prefixes sync.Map

// prefixOf is the key prefix newClient gave c.
func prefixOf(t testing.TB, c *rjwt.Client) string {
	t.Helper()
	p, ok := prefixes.Load(c)
	if !ok {
		t.Fatal("client not made by newClient")
	}
	return p.(string)
}
