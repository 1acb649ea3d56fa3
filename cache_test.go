package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// The local cache is tested against real redis-servers: what Redis tells
// the cache (CLIENT TRACKING invalidations), and what happens when it can
// no longer tell it (a killed connection, a restart, a silent network).

// cachedClient makes a client with a local cache on addr.
func cachedClient(t *testing.T, addr string, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	redistest.Need(t)
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(addr), rjwt.WithPrefix("c:"),
		rjwt.WithHealthCheck(100 * time.Millisecond), rjwt.WithLocalCache(1000)}
	c, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// plainClient is another process's client: no cache, same keys.
func plainClient(t *testing.T, addr string, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	redistest.Need(t)
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(addr), rjwt.WithPrefix("c:")}
	c, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// cached verifies tok until the answer comes from memory (the cache trusts
// its invalidations only once its connection is confirmed).
func cached(t *testing.T, c *rjwt.Client, tok string, opts ...rjwt.VerifyOption) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		before := c.CacheStats().Hits
		_, err := c.Verify(ctx, tok, opts...)
		require.NoError(t, err)
		if c.CacheStats().Hits > before {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("Verify never answered from the cache")
}

// gone polls Verify until tok is refused with ErrSessionNotFound, failing
// if it still verifies after within; any other error fails too.
func gone(t *testing.T, c *rjwt.Client, tok string, within time.Duration, opts ...rjwt.VerifyOption) time.Duration {
	t.Helper()
	return goneBy(t, c, tok, time.Now().Add(within), opts...)
}

// goneBy is gone with a deadline.
func goneBy(t *testing.T, c *rjwt.Client, tok string, deadline time.Time, opts ...rjwt.VerifyOption) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Verify(ctx, tok, opts...)
		cancel()
		if errors.Is(err, rjwt.ErrSessionNotFound) {
			return time.Since(start)
		}
		require.NoError(t, err)
		require.True(t, time.Now().Before(deadline), "the session still verifies %v after its deadline", time.Since(deadline))
		time.Sleep(time.Millisecond)
	}
}

func TestCacheInvalidation(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	// A window far longer than the test: only Redis's invalidations can
	// make the cache let go of a session.
	a := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(time.Minute), rjwt.WithMultiple(true))
	b := plainClient(t, srv.Addr(), rjwt.WithMultiple(true))

	t.Run("revoked by another client", func(t *testing.T) {
		tok, err := b.Sign(ctx, "alice")
		require.NoError(t, err)
		cached(t, a, tok)
		cl, err := a.Verify(ctx, tok)
		require.NoError(t, err)
		inv := a.CacheStats().Invalidations
		require.NoError(t, b.Revoke(ctx, cl.Session))
		gone(t, a, tok, 5*time.Second)
		assert.Greater(t, a.CacheStats().Invalidations, inv)
	})

	t.Run("RevokeAll by another client", func(t *testing.T) {
		t1, err := b.Sign(ctx, "bob")
		require.NoError(t, err)
		t2, err := b.Sign(ctx, "bob")
		require.NoError(t, err)
		cached(t, a, t1)
		cached(t, a, t2)
		n, err := b.RevokeAll(ctx, "bob")
		require.NoError(t, err)
		require.Equal(t, 2, n)
		gone(t, a, t1, 5*time.Second)
		gone(t, a, t2, 5*time.Second)
	})

	t.Run("replaced in single mode", func(t *testing.T) {
		single := plainClient(t, srv.Addr())
		old, err := single.Sign(ctx, "carol")
		require.NoError(t, err)
		cached(t, a, old)
		_, err = single.Sign(ctx, "carol")
		require.NoError(t, err)
		gone(t, a, old, 5*time.Second)
	})

	t.Run("revoked by this client is gone at once", func(t *testing.T) {
		tok, err := a.Sign(ctx, "dave")
		require.NoError(t, err)
		cached(t, a, tok)
		cl, err := a.Verify(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, a.Revoke(ctx, cl.Session))
		_, err = a.Verify(ctx, tok)
		require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	})

	t.Run("session data set by another client", func(t *testing.T) {
		tok, err := b.Sign(ctx, "erin", rjwt.WithDataSession(map[string]int{"views": 1}))
		require.NoError(t, err)
		cached(t, a, tok, rjwt.WithSession())
		cl, err := a.Verify(ctx, tok, rjwt.WithSession())
		require.NoError(t, err)
		require.JSONEq(t, `{"views":1}`, string(cl.DataSession))
		cl.DataSession[2] = 'X' // the caller's copy: the cache keeps its own
		require.NoError(t, b.SetSessionData(ctx, cl.Session, map[string]int{"views": 2}))
		deadline := time.Now().Add(5 * time.Second)
		for {
			cl, err := a.Verify(ctx, tok, rjwt.WithSession())
			require.NoError(t, err)
			if string(cl.DataSession) == `{"views":2}` {
				break
			}
			require.JSONEq(t, `{"views":1}`, string(cl.DataSession))
			require.True(t, time.Now().Before(deadline), "the new data never reached the cache")
			time.Sleep(time.Millisecond)
		}
	})

	t.Run("deleted by hand, and FLUSHDB", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		defer rdb.Close()
		tok, err := b.Sign(ctx, "frank")
		require.NoError(t, err)
		cached(t, a, tok)
		cl, err := a.Verify(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, deleteSession(ctx, rdb, "c:", "frank", nanoOf(cl.Session)))
		gone(t, a, tok, 5*time.Second)

		tok, err = b.Sign(ctx, "frank")
		require.NoError(t, err)
		cached(t, a, tok)
		require.NoError(t, rdb.FlushDB(ctx).Err())
		gone(t, a, tok, 5*time.Second)
	})
}

func TestCacheExpiry(t *testing.T) {
	// Active expiry off: Redis deletes an expired key only when it is
	// touched, so no invalidation comes when the session expires. The
	// cache must stop by itself at the TTL Redis gave it.
	srv := redistest.Start(t, "--enable-debug-command", "yes")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	require.NoError(t, rdb.Do(ctx, "DEBUG", "SET-ACTIVE-EXPIRE", "0").Err())
	a := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(time.Minute))
	tok, err := a.Sign(ctx, "ttl-user")
	require.NoError(t, err)
	cl, err := a.Verify(ctx, tok)
	require.NoError(t, err)
	set := time.Now()
	require.NoError(t, expireSession(ctx, rdb, "c:", "ttl-user", nanoOf(cl.Session), 400*time.Millisecond))
	cached(t, a, tok) // learns the new TTL after PEXPIRE's invalidation
	goneBy(t, a, tok, set.Add(400*time.Millisecond+20*time.Millisecond))
	assert.Greater(t, time.Since(set), 350*time.Millisecond, "gone only when Redis's TTL ran out")
}

// waitFlush waits until the cache has counted a flush beyond n.
func waitFlush(t *testing.T, c *rjwt.Client, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.CacheStats().Flushes <= n {
		require.True(t, time.Now().Before(deadline), "the cache was never flushed")
		time.Sleep(time.Millisecond)
	}
}

func TestCacheFailsClosed(t *testing.T) {
	ctx := context.Background()

	t.Run("invalidation connection killed", func(t *testing.T) {
		srv := redistest.Start(t)
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		defer rdb.Close()
		a := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(time.Minute))
		b := plainClient(t, srv.Addr())
		tok, err := b.Sign(ctx, "kill")
		require.NoError(t, err)
		cached(t, a, tok)
		flushes := a.CacheStats().Flushes
		n, err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		// The tracked connections now redirect to a client that is gone:
		// Redis drops their invalidations. The cache must not answer.
		waitFlush(t, a, flushes)
		require.NoError(t, b.Revoke(ctx, claimOf(t, tok, "rjwt")))
		gone(t, a, tok, time.Millisecond)
		// Invalidation comes back on a new connection, and with it the cache.
		tok, err = b.Sign(ctx, "kill")
		require.NoError(t, err)
		cached(t, a, tok)
		require.NoError(t, b.Revoke(ctx, claimOf(t, tok, "rjwt")))
		gone(t, a, tok, 5*time.Second)
	})

	t.Run("the tracked connections killed", func(t *testing.T) {
		srv := redistest.Start(t)
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		defer rdb.Close()
		const window = 300 * time.Millisecond
		a := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(window))
		b := plainClient(t, srv.Addr())
		tok, err := b.Sign(ctx, "kill-reads")
		require.NoError(t, err)
		cached(t, a, tok)
		flushes := a.CacheStats().Flushes
		// Tracking lives with the connection that read: Redis forgets what
		// a killed connection tracked, and its invalidations are lost. The
		// heartbeat finds the connection gone within the window.
		_, err = rdb.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Result()
		require.NoError(t, err)
		require.NoError(t, b.Revoke(ctx, claimOf(t, tok, "rjwt")))
		gone(t, a, tok, window)
		waitFlush(t, a, flushes)
	})

	t.Run("Redis restarted", func(t *testing.T) {
		srv := redistest.Start(t)
		a := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(time.Minute))
		tok, err := a.Sign(ctx, "restart")
		require.NoError(t, err)
		cached(t, a, tok)
		srv.Kill()
		require.NoError(t, srv.Restart())
		// The restarted Redis has no data: a Verify that succeeds came from
		// a cache that should have been flushed.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			vctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err := a.Verify(vctx, tok)
			cancel()
			require.Error(t, err, "a session of the old Redis verified after the restart")
			time.Sleep(5 * time.Millisecond)
		}
		assert.GreaterOrEqual(t, a.CacheStats().Flushes, uint64(1))
		for deadline := time.Now().Add(5 * time.Second); ; { // until the prober has seen Redis back
			tok, err = a.Sign(ctx, "restart")
			if !errors.Is(err, rjwt.ErrUnavailable) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		require.NoError(t, err)
		cached(t, a, tok)
	})

	t.Run("silent network", func(t *testing.T) {
		srv := redistest.Start(t)
		px := redistest.StartProxy(t, srv.Addr())
		const window = 300 * time.Millisecond
		a := cachedClient(t, px.Addr(), rjwt.WithCacheWindow(window), rjwt.WithHealthCheck(time.Hour))
		b := plainClient(t, srv.Addr())
		tok, err := b.Sign(ctx, "silent")
		require.NoError(t, err)
		cached(t, a, tok)
		flushes := a.CacheStats().Flushes
		px.SetBlackhole(true)
		revoked := time.Now()
		require.NoError(t, b.Revoke(ctx, claimOf(t, tok, "rjwt")))
		// Cache hits go on for at most one window after the revocation;
		// then Verify asks Redis, which does not answer.
		for time.Since(revoked) < 2*window {
			vctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := a.Verify(vctx, tok)
			cancel()
			if err == nil {
				require.Less(t, time.Since(revoked), window, "a revoked session verified from the cache beyond the window")
			} else {
				require.ErrorIs(t, err, rjwt.ErrUnavailable)
			}
			time.Sleep(2 * time.Millisecond)
		}
		waitFlush(t, a, flushes)
		px.SetBlackhole(false)
		gone(t, a, tok, 5*time.Second)
		tok, err = b.Sign(ctx, "silent")
		require.NoError(t, err)
		cached(t, a, tok)
	})
}

func TestCacheCoalescesMisses(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	a := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(time.Minute))
	warm, err := a.Sign(ctx, "warm")
	require.NoError(t, err)
	cached(t, a, warm) // trust established, scripts loaded

	calls := func() int {
		return redistest.CommandCalls(t, srv.Addr(), "evalsha") + redistest.CommandCalls(t, srv.Addr(), "eval")
	}
	for round := range 3 {
		tok, err := a.Sign(ctx, fmt.Sprintf("herd%d", round))
		require.NoError(t, err)
		before := calls()
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 64)
		for range 64 {
			wg.Go(func() {
				<-start
				_, err := a.Verify(ctx, tok)
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		assert.EqualValues(t, 1, calls()-before, "round %d: 64 concurrent misses of one session, one script run", round)
	}
}

func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	const size = 50
	a := newClient(t, rjwt.WithLocalCache(size), rjwt.WithMultiple(true))
	var toks []string
	for i := range 300 {
		tok, err := a.Sign(ctx, fmt.Sprintf("user%d", i%40))
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	cached(t, a, toks[0])
	for _, tok := range toks {
		_, err := a.Verify(ctx, tok)
		require.NoError(t, err)
		require.LessOrEqual(t, rjwt.CacheLen(a), size)
	}
	assert.Greater(t, rjwt.CacheLen(a), size/2, "the cache is used")
	// The most recent are remembered.
	hits := a.CacheStats().Hits
	_, err := a.Verify(ctx, toks[len(toks)-1])
	require.NoError(t, err)
	assert.Equal(t, hits+1, a.CacheStats().Hits)
}

func TestCacheOff(t *testing.T) {
	ctx := context.Background()
	a := newClient(t)
	tok, err := a.Sign(ctx, "nocache")
	require.NoError(t, err)
	for range 3 {
		_, err := a.Verify(ctx, tok)
		require.NoError(t, err)
	}
	assert.Equal(t, rjwt.CacheStats{}, a.CacheStats())
	_, err = rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithLocalCache(-1))
	require.Error(t, err)
	_, err = rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithCacheWindow(time.Millisecond))
	require.Error(t, err)
}

// TestCacheKeepsAnIdleSessionInUseAlive: cache hits do not reach Redis, so
// the cache must not let a session in use idle-expire: an entry lives only
// until the session is due for extension, and that miss extends it.
func TestCacheKeepsAnIdleSessionInUseAlive(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	// A 5 s window: each extension is due 2.5 s after the last, so a
	// machine stalled for less than that cannot let the session lapse.
	a := cachedClient(t, srv.Addr(), rjwt.WithIdleTimeout("5 seconds"))
	tok, err := a.Sign(ctx, "idle-cached", rjwt.WithTTL("1 minute"))
	require.NoError(t, err)
	cached(t, a, tok)
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		_, err := a.Verify(ctx, tok)
		require.NoError(t, err, "a session in use outlives its idle window")
	}
	assert.Positive(t, a.CacheStats().Hits)
	time.Sleep(5500 * time.Millisecond) // unused for longer than the window
	gone(t, a, tok, time.Second)
}
