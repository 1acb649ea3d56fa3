// Package rjwttest has the test helpers rjwt's packages share (the root
// package's external tests, rjwthttp, examples/demo): a client on a test's
// Redis whose keys are under a prefix of the test's own. It is internal.
//
// Only external test packages (package rjwt_test) can use it from the root
// package: it imports rjwt, so package rjwt's own tests importing it would be
// an import cycle.
package rjwttest

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// Secret is the fixed 32-byte signing key NewClient gives its clients, for
// tests that sign or check tokens themselves. Do not modify it.
var Secret = []byte("0123456789abcdef0123456789abcdef")

// prefixes maps each client NewClient made, until its test ends, to its key
// prefix.
var prefixes sync.Map

// NewClient makes a client on the Redis at addr with Secret and a key prefix
// no other test or client has ("test:<test name>:<random>:"), and closes it
// when the test ends. opts come after those, so they can add to or override
// them, but a WithPrefix among them makes Prefix wrong.
func NewClient(tb testing.TB, addr string, opts ...rjwt.Option) *rjwt.Client {
	tb.Helper()
	redistest.Need(tb)
	prefix := "test:" + safe(tb.Name()) + ":" + rand.Text()[:8] + ":"
	base := []rjwt.Option{rjwt.WithSecret(Secret), rjwt.WithAddr(addr), rjwt.WithPrefix(prefix)}
	c, err := rjwt.New(append(base, opts...)...)
	if err != nil {
		tb.Fatalf("rjwttest.NewClient: %v", err)
	}
	prefixes.Store(c, prefix)
	tb.Cleanup(func() {
		c.Close()
		prefixes.Delete(c)
	})
	return c
}

// Prefix is the key prefix NewClient gave c. It panics for a client NewClient
// did not make (or whose test has ended).
func Prefix(c *rjwt.Client) string {
	p, ok := prefixes.Load(c)
	if !ok {
		panic(fmt.Sprintf("rjwttest.Prefix: client %p was not made by NewClient, or its test has ended", c))
	}
	return p.(string)
}

// safe keeps a test name's letters, digits, '_', '-' and '.', turns the
// subtest separator '/' into ':' and anything else (spaces, glob or hash-tag
// characters) into '_', so a prefix never means more than itself in a SCAN
// MATCH pattern.
func safe(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '-', r == '.':
			return r
		case r == '/':
			return ':'
		}
		return '_'
	}, name)
}
