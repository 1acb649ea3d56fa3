package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// TestCacheFollowsSentinelFailover: a manual SENTINEL FAILOVER leaves the
// old master reachable, answering the cache's heartbeat, for about ten
// seconds before Sentinel reconfigures it; the cache's trust follows the
// master Sentinel names instead, so a session revoked on the new master
// right after the switch is refused by the cached client within a window
// of the revocation.
func TestCacheFollowsSentinelFailover(t *testing.T) {
	tp := useTopology(t, "sentinel")
	ctx := context.Background()
	const window = time.Second
	a := tp.newClient(t, rjwt.WithLocalCache(1000), rjwt.WithCacheWindow(window))
	b := samePrefix(t, tp, a)
	tok, err := b.Sign(ctx, "switch")
	require.NoError(t, err)
	cached(t, a, tok)
	session := claimOf(t, tok, "rjwt")
	t.Cleanup(func() { require.NoError(t, tp.sentinel.Heal(30*time.Second)) })

	sn := redis.NewSentinelClient(&redis.Options{Addr: tp.sentinel.SentinelAddrs()[0]})
	defer sn.Close()
	require.NoError(t, sn.Failover(ctx, tp.sentinel.MasterName()).Err())
	_, err = tp.sentinel.WaitFailover(30 * time.Second)
	require.NoError(t, err)

	// The revocation goes to the new master (b's client follows Sentinel;
	// during the switch it may fail for a moment).
	deadline := time.Now().Add(10 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err = b.Revoke(cctx, session)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	took := gone(t, a, tok, window)
	t.Logf("the cached client refused the revoked session %v after the Revoke returned", took)
}
