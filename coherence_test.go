package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// A client with a local cache reads its own writes: once UpdateSessionData
// or IncrSessionData returned, the same client's next Verify WithSession
// returns the new data, from the first call on, without waiting for Redis's
// invalidation to come back over another connection.
func TestCacheReadsItsOwnDataWrites(t *testing.T) {
	c := cachedClient(t, redisAddr)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "ryw", rjwt.WithDataSession(map[string]int{"n": 0}))
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	cached(t, c, tok, rjwt.WithSession())

	var got struct{ N, M int64 }
	stale := 0
	for i := 1; i <= 1500; i++ {
		require.NoError(t, c.UpdateSessionData(ctx, claims.Session, rjwt.SetField("n", i)))
		v, err := c.Verify(ctx, tok, rjwt.WithSession())
		require.NoError(t, err)
		require.NoError(t, v.DecodeDataSession(&got))
		if got.N != int64(i) {
			stale++
		}
		m, err := c.IncrSessionData(ctx, claims.Session, "m", 1)
		require.NoError(t, err)
		v, err = c.Verify(ctx, tok, rjwt.WithSession())
		require.NoError(t, err)
		require.NoError(t, v.DecodeDataSession(&got))
		if got.M != m {
			stale++
		}
	}
	require.Zero(t, stale, "reads of 3,000 that returned the data before this client's own write")
	require.NotZero(t, c.CacheStats().Hits, "the reads between writes should come from memory")
}

// SWAPDB sends no invalidation (Redis 7.0): the cache's heartbeat reads its
// canary key and finds another database's (none), so a session that is not
// in the database now stops verifying within a window, not after its TTL.
// A FLUSHDB of another database changes nothing this client can see.
func TestCacheSeesSwapDB(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := cachedClient(t, srv.Addr(), rjwt.WithCacheWindow(400*time.Millisecond))
	tok, err := c.Sign(ctx, "swap", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cached(t, c, tok)

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	// A FLUSHDB of this database: Redis sends a null invalidation.
	require.NoError(t, admin.FlushDB(ctx).Err())
	gone(t, c, tok, time.Second)

	tok, err = c.Sign(ctx, "swap", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cached(t, c, tok)
	other := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: 1})
	defer other.Close()
	require.NoError(t, other.FlushDB(ctx).Err())
	for range 50 {
		_, err := c.Verify(ctx, tok)
		require.NoError(t, err, "a FLUSHDB of db 1 does not touch db 0's sessions")
		time.Sleep(10 * time.Millisecond)
	}

	require.NoError(t, admin.Do(ctx, "SWAPDB", 0, 1).Err())
	took := gone(t, c, tok, time.Second)
	t.Logf("after SWAPDB the cached client refused the session %v later", took)
	plain := plainClient(t, srv.Addr())
	_, err = plain.Verify(ctx, tok)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
}
