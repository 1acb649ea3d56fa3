// Package rjwttest gives an application's tests a ready rjwt client that
// needs nothing installed: New starts a private embedded Redis (miniredis,
// in the test's own process) and a client on it, and stops both when the
// test ends.
//
//	func TestMe(t *testing.T) {
//		c := rjwttest.New(t)
//		token := rjwttest.Token(t, c, "alice")
//		// ... send a request with "Authorization: Bearer " + token to a
//		// handler behind rjwthttp.Middleware(c) (see ExampleNew)
//	}
//
// # What the embedded Redis serves, and what it does not
//
// Signing, verifying, refresh tokens and their rotation, revocation (one
// session, a user's, the others), the device list, session data
// (UpdateSessionData, IncrSessionData), WithMultiple, WithMaxSessions,
// WithIdleTimeout, prefixes and databases all run as on a real Redis:
// rjwt's Lua scripts run in miniredis's Lua (TestNewServesTheCore). Probed
// for real (TestMiniredisLacks), three options cannot be served, and New
// fails the test naming them rather than hand back a client that quietly
// does less:
//
//   - rjwt.WithLocalCache: the cache needs Redis's client tracking (CLIENT
//     TRACKING and its invalidation messages), which miniredis lacks; the
//     cache would stay bypassed (every Verify asks Redis), so a test of
//     the cache would pass without testing it.
//   - rjwt.WithKeyspaceEvents(true): miniredis has no CONFIG command and
//     sends no keyspace notifications; Events would report only an
//     EventError, never a session expired or revoked.
//   - rjwt.WithReplicaAck: miniredis has no replicas, so WAIT answers 0 and
//     every Revoke would fail with rjwt.ErrUnavailable.
//
// Test those against a real redis-server (rjwt's own tests do, with the
// harness in its internal/redistest). Options that name a Redis (WithAddr,
// WithURL, WithRedisClient, WithPassword) are refused too: the client's
// Redis is the embedded one.
//
// Faults: Down simulates an outage (calls fail with rjwt.ErrUnavailable,
// 503 behind rjwthttp). A Redis out of memory, a slow one or a failover
// cannot be simulated here.
//
// Time: the embedded Redis's keys expire only when its clock is moved, never
// with the wall clock. A session ends in Redis when its TTL or idle timeout
// passes under FastForward; its tokens' exp is checked against the wall
// clock (and rjwt's leeway) by Verify as always.
package rjwttest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/optinfo"
)

// servers maps each client New made, until its test ends, to its Redis.
var servers sync.Map

// New returns a ready client on a private embedded Redis that needs no
// server installed, with a random 32-byte secret (WithSecret) unless opts
// give a key (WithSecret, WithSigningKey, WithVerificationKey). The client is
// closed, and its Redis stopped, when t ends. An option New refuses (see the
// package documentation) or that rjwt.New refuses fails t at once, naming it.
func New(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	info, err := optinfo.Of(opts)
	if err != nil {
		t.Fatalf("rjwttest.New: %v", err)
	}
	if refused := unserved(info); len(refused) > 0 {
		t.Fatalf("rjwttest.New: the embedded Redis (miniredis) cannot serve %s; leave %s out here, and test %s against a real redis-server",
			strings.Join(refused, "; "), plural(refused, "that option", "those options"), plural(refused, "it", "them"))
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		t.Fatalf("rjwttest.New: starting the embedded Redis: %v", err)
	}
	c, err := rjwt.New(options(mr.Addr(), info, opts)...)
	if err != nil {
		mr.Close()
		t.Fatalf("rjwttest.New: %v", err)
	}
	servers.Store(c, mr)
	t.Cleanup(func() {
		c.Close()
		servers.Delete(c)
		mr.Close()
	})
	return c
}

// unserved names the options in info that New refuses.
func unserved(info optinfo.Info) []string {
	var names []string
	for _, o := range []struct {
		set  bool
		name string
	}{
		{info.LocalCache, "rjwt.WithLocalCache (it needs Redis's client tracking)"},
		{info.KeyspaceEvents, "rjwt.WithKeyspaceEvents (it needs keyspace notifications)"},
		{info.ReplicaAck, "rjwt.WithReplicaAck (it needs replicas that acknowledge WAIT)"},
		{info.Addr, "rjwt.WithAddr (the client's Redis is the embedded one)"},
		{info.URL, "rjwt.WithURL (the client's Redis is the embedded one)"},
		{info.RedisClient, "rjwt.WithRedisClient (the client's Redis is the embedded one)"},
		{info.Password, "rjwt.WithPassword (the embedded Redis has no password)"},
	} {
		if o.set {
			names = append(names, o.name)
		}
	}
	return names
}

func plural(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}

// server is the embedded Redis of a client New made; it fails t for any
// other client.
func server(t testing.TB, c *rjwt.Client, fn string) *miniredis.Miniredis {
	t.Helper()
	mr, ok := servers.Load(c)
	if !ok {
		t.Fatalf("rjwttest.%s: the client was not made by rjwttest.New, or its test has ended", fn)
	}
	return mr.(*miniredis.Miniredis)
}

// Token signs an access token for user id with c (rjwt's Sign), failing t
// if Sign fails.
func Token(t testing.TB, c *rjwt.Client, id string, opts ...rjwt.SignOption) string {
	t.Helper()
	token, err := c.Sign(context.Background(), id, opts...)
	if err != nil {
		t.Fatalf("rjwttest.Token: %v", err)
	}
	return token
}

// Pair signs an access and a refresh token for user id with c (rjwt's
// SignPair), failing t if SignPair fails.
func Pair(t testing.TB, c *rjwt.Client, id string, opts ...rjwt.SignOption) rjwt.Pair {
	t.Helper()
	p, err := c.SignPair(context.Background(), id, opts...)
	if err != nil {
		t.Fatalf("rjwttest.Pair: %v", err)
	}
	return p
}

// FastForward moves the clock of the embedded Redis of c (a client New
// made) by d: keys whose TTL passes expire, so sessions past their TTL or
// idle timeout end in Redis. It does not change the wall clock that Verify
// checks tokens' exp against.
func FastForward(t testing.TB, c *rjwt.Client, d time.Duration) {
	t.Helper()
	server(t, c, "FastForward").FastForward(d)
}

// Down stops the embedded Redis of c (a client New made), keeping its data,
// so that calls fail with rjwt.ErrUnavailable (503 behind rjwthttp) as in an
// outage; the returned up starts it again on the same address. The client
// comes back once it sees Redis answer (it probes about every 100 ms while
// Redis is known down); up waits for that, up to 5 seconds, and fails t
// after that. Calling up more than once does nothing more.
func Down(t testing.TB, c *rjwt.Client) (up func()) {
	t.Helper()
	mr := server(t, c, "Down")
	mr.Close()
	var once sync.Once
	return func() {
		t.Helper()
		once.Do(func() {
			if err := mr.Restart(); err != nil {
				t.Fatalf("rjwttest.Down: restarting the embedded Redis: %v", err)
			}
			waitUp(t, c)
		})
	}
}

// waitUp waits until a call on c reaches Redis again.
func waitUp(t testing.TB, c *rjwt.Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Sessions(context.Background(), "rjwttest-probe")
		if !errors.Is(err, rjwt.ErrUnavailable) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rjwttest.Down: the client did not see the embedded Redis again within 5s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
