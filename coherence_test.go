package rjwt_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
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
