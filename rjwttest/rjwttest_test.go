package rjwttest_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestNewServesTheCore runs rjwt's main operations on the embedded Redis:
// what the package documentation says it serves.
func TestNewServesTheCore(t *testing.T) {
	c := rjwttest.New(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(2), rjwt.WithIdleTimeout("10 minutes"))
	ctx := context.Background()
	var sessions []string
	for range 3 {
		p := rjwttest.Pair(t, c, "alice", rjwt.WithDataSession(map[string]int{"views": 1}))
		claims, err := c.Verify(ctx, p.Token, rjwt.WithSession())
		require.NoError(t, err)
		assert.JSONEq(t, `{"views":1}`, string(claims.DataSession))
		require.NoError(t, c.UpdateSessionData(ctx, claims.Session, rjwt.SetField("theme", []byte(`"dark"`))))
		n, err := c.IncrSessionData(ctx, claims.Session, "views", 2)
		require.NoError(t, err)
		assert.EqualValues(t, 3, n)
		_, err = c.Refresh(ctx, p.RefreshToken)
		require.NoError(t, err)
		sessions = append(sessions, claims.Session)
	}
	live, err := c.Sessions(ctx, "alice")
	require.NoError(t, err)
	assert.Len(t, live, 2, "WithMaxSessions(2) ended the first")
	require.NoError(t, c.Revoke(ctx, sessions[2]))
	n, err := c.RevokeAll(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// TestNewSecret: a random key unless the options give one.
func TestNewSecret(t *testing.T) {
	ctx := context.Background()
	a, b := rjwttest.New(t), rjwttest.New(t)
	_, err := b.Verify(ctx, rjwttest.Token(t, a, "alice"))
	assert.ErrorIs(t, err, rjwt.ErrInvalidToken, "two clients without a key have different random ones")

	key := []byte("0123456789abcdef0123456789abcdef")
	c, d := rjwttest.New(t, rjwt.WithSecret(key)), rjwttest.New(t, rjwt.WithSecret(key))
	_, err = d.Verify(ctx, rjwttest.Token(t, c, "alice"))
	assert.ErrorIs(t, err, rjwt.ErrSessionNotFound, "the same given key: the signature passes, the session is in c's own Redis")
}

// TestNewRefuses: the options the embedded Redis cannot serve, or that name
// another Redis, fail the test naming the option; so does an option rjwt
// refuses.
func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		opt  rjwt.Option
		want string
	}{
		{rjwt.WithLocalCache(100), "rjwt.WithLocalCache (it needs Redis's client tracking)"},
		{rjwt.WithKeyspaceEvents(true), "rjwt.WithKeyspaceEvents"},
		{rjwt.WithReplicaAck(1, 100*time.Millisecond), "rjwt.WithReplicaAck"},
		{rjwt.WithAddr("127.0.0.1:6379"), "rjwt.WithAddr"},
		{rjwt.WithURL("redis://127.0.0.1:6379"), "rjwt.WithURL"},
		{rjwt.WithRedisClient(redis.NewClient(&redis.Options{})), "rjwt.WithRedisClient"},
		{rjwt.WithPassword("x"), "rjwt.WithPassword"},
		{rjwt.WithLeeway(-time.Second), "rjwt: WithLeeway: negative leeway"},
	} {
		ft := &fakeT{}
		msg := ft.run(func() { rjwttest.New(ft, tc.opt) })
		assert.Contains(t, msg, tc.want)
		assert.True(t, strings.HasPrefix(msg, "rjwttest.New: "), msg)
		ft.end()
	}
	// Off is served: nothing refused.
	rjwttest.New(t, rjwt.WithLocalCache(0), rjwt.WithKeyspaceEvents(false))
}

// TestMiniredisLacks probes the embedded Redis for what the refused options
// need, so that the package documentation is checked: if miniredis learns
// one of them, this fails and New can stop refusing it.
func TestMiniredisLacks(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	assert.Error(t, rdb.Do(ctx, "CLIENT", "TRACKING", "on", "BCAST").Err(), "WithLocalCache needs CLIENT TRACKING")
	assert.Error(t, rdb.ConfigGet(ctx, "notify-keyspace-events").Err(), "WithKeyspaceEvents needs CONFIG")
	n, err := rdb.Wait(ctx, 1, 50*time.Millisecond).Result()
	if err == nil {
		assert.Zero(t, n, "WithReplicaAck needs replicas that acknowledge WAIT")
	}
	// And a client that was not refused sees it: the cache never hits.
	c, err := rjwt.New(rjwt.WithSecret(make([]byte, 32)), rjwt.WithAddr(mr.Addr()), rjwt.WithLocalCache(10))
	require.NoError(t, err)
	defer c.Close()
	token, err := c.Sign(ctx, "alice")
	require.NoError(t, err)
	for range 3 {
		_, err := c.Verify(ctx, token)
		require.NoError(t, err)
	}
	assert.Zero(t, c.CacheStats().Hits, "miniredis cannot serve the local cache")
}

// TestScriptFlagsRefusedIsLogged: a server that cannot read the scripts'
// flags line (miniredis, Redis 6) gets them without it, and the client says
// so once, at the first script it refused.
func TestScriptFlagsRefusedIsLogged(t *testing.T) {
	mr := miniredis.RunT(t)
	var logged lockedBuffer
	c, err := rjwt.New(rjwt.WithSecret(make([]byte, 32)), rjwt.WithAddr(mr.Addr()), rjwt.WithKeyspaceEvents(false),
		rjwt.WithLogger(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	for range 2 {
		token, err := c.Sign(ctx, "alice")
		require.NoError(t, err, "the scripts run without their flags")
		_, err = c.Verify(ctx, token)
		require.NoError(t, err)
		_, err = c.Sessions(ctx, "alice")
		require.NoError(t, err)
	}
	assert.Equal(t, 1, strings.Count(logged.String(), "cannot read script flags"), "logged once: %s", logged.String())
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNewCleanup: when the test ends the client is closed and its Redis
// stopped, and nothing of either keeps running.
func TestNewCleanup(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ft := &fakeT{}
	var c *rjwt.Client
	require.Empty(t, ft.run(func() { c = rjwttest.New(ft) }))
	token := rjwttest.Token(t, c, "alice")
	addr := c.Redis().(*redis.Client).Options().Addr
	ft.end()
	_, err := c.Verify(context.Background(), token)
	assert.Error(t, err, "the client is closed")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the embedded Redis is stopped")
	msg := ft.run(func() { rjwttest.FastForward(ft, c, time.Second) })
	assert.Contains(t, msg, "not made by rjwttest.New, or its test has ended")
}

// TestFastForward: a session ends in Redis when its idle timeout passes on
// the embedded Redis's clock, not the wall clock.
func TestFastForward(t *testing.T) {
	c := rjwttest.New(t, rjwt.WithIdleTimeout("10 seconds"))
	ctx := context.Background()
	token := rjwttest.Token(t, c, "alice")
	rjwttest.FastForward(t, c, 9*time.Second)
	_, err := c.Verify(ctx, token)
	require.NoError(t, err, "used within the idle timeout (and the use renews it)")
	rjwttest.FastForward(t, c, 11*time.Second)
	_, err = c.Verify(ctx, token)
	assert.ErrorIs(t, err, rjwt.ErrSessionNotFound)
}

// TestDown: an outage of the embedded Redis is rjwt.ErrUnavailable, and up
// brings the same data back.
func TestDown(t *testing.T) {
	c := rjwttest.New(t)
	ctx := context.Background()
	token := rjwttest.Token(t, c, "alice")
	up := rjwttest.Down(t, c)
	_, err := c.Verify(ctx, token)
	assert.ErrorIs(t, err, rjwt.ErrUnavailable)
	up()
	up()
	_, err = c.Verify(ctx, token)
	assert.NoError(t, err)
	assert.False(t, errors.Is(err, rjwt.ErrUnavailable))
}
