package rjwt_test

// The local cache on every topology, and on a Redis Cluster what it does
// when one master's invalidations stop (a killed subscription, a failover):
// one tracker per master, trust per master, and the slot map followed.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// samePrefix is another process's client on tp: no cache, c's keys.
func samePrefix(t *testing.T, tp *topology, c *rjwt.Client, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	base := []rjwt.Option{rjwt.WithSecret(testSecret), tp.conn(t), rjwt.WithPrefix(prefixOf(t, c))}
	o, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	return o
}

// idx is the index key of user id under prefix.
func idx(prefix, id string) string { return prefix + "{" + id + "}:idx" }

// hit says whether one Verify of tok is answered from c's memory (nothing
// else may use c meanwhile).
func hit(t *testing.T, c *rjwt.Client, tok string) bool {
	t.Helper()
	before := c.CacheStats().Hits
	_, err := c.Verify(context.Background(), tok)
	require.NoError(t, err)
	return c.CacheStats().Hits > before
}

// checkSlots compares the cache's slot of each user with CLUSTER KEYSLOT of
// the user's keys, for the given users and for ids that need escaping.
func checkSlots(t *testing.T, tp *topology, prefix string, users []string) {
	t.Helper()
	keys := store.Keys{Prefix: prefix}
	for _, id := range append(users, "a{b}", "}x{", "100%", "ünïcödé", "{}") {
		want := tp.cluster.Slot(keys.Session(id, "abcdefghijklmnopqrstu"))
		require.Equal(t, want, keys.Slot(id), "slot of user %q", id)
		require.Equal(t, want, tp.cluster.Slot(keys.Index(id)), "user %q's keys share a slot", id)
		require.Equal(t, want, store.KeySlot(keys.Index(id)))
	}
}

// TestCacheOnEveryMaster: users on every master (checked with CLUSTER
// KEYSLOT) are answered from memory after a first Verify, and another
// client's SetSessionData and Revoke reach the cache from every master.
func TestCacheOnEveryMaster(t *testing.T) { eachTopology(t, testCacheOnEveryMaster) }

func testCacheOnEveryMaster(t *testing.T, tp *topology) {
	ctx := context.Background()
	// A window far longer than the test: only Redis's invalidations can
	// make the cache let go of a session.
	a := tp.newClient(t, rjwt.WithLocalCache(1000), rjwt.WithCacheWindow(time.Minute), rjwt.WithMultiple(true))
	b := samePrefix(t, tp, a, rjwt.WithMultiple(true))
	prefix := prefixOf(t, a)
	users := spreadUsers(t, tp, a, 3)
	if tp.cluster != nil {
		checkSlots(t, tp, prefix, users)
	}
	masters := map[string]bool{}
	for _, id := range users {
		masters[tp.masterOf(idx(prefix, id))] = true
		tok, err := b.Sign(ctx, id, rjwt.WithDataSession(map[string]int{"v": 1}))
		require.NoError(t, err)
		other, err := b.Sign(ctx, id)
		require.NoError(t, err)
		cached(t, a, tok, rjwt.WithSession())
		cached(t, a, other)
		cl, err := a.Verify(ctx, tok, rjwt.WithSession())
		require.NoError(t, err)

		require.NoError(t, b.SetSessionData(ctx, cl.Session, map[string]int{"v": 2}))
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			cl, err := a.Verify(ctx, tok, rjwt.WithSession())
			require.NoError(t, err)
			if string(cl.DataSession) == `{"v":2}` {
				break
			}
			require.JSONEq(t, `{"v":1}`, string(cl.DataSession))
			require.True(t, time.Now().Before(deadline), "user %s: the new data never reached the cache", id)
		}
		cached(t, a, tok, rjwt.WithSession())

		require.NoError(t, b.Revoke(ctx, cl.Session))
		gone(t, a, tok, 5*time.Second)
		cached(t, a, other) // read again (the index changed with the revocation)
		_, err = b.RevokeAll(ctx, id)
		require.NoError(t, err)
		gone(t, a, other, 5*time.Second)
	}
	require.Len(t, masters, len(tp.masters()))
	assert.Zero(t, a.CacheStats().Flushes)
}

// TestCacheClusterSubscriberKilled: CLIENT KILL of one master's
// invalidation subscriber stops hits for the sessions on that master (its
// entries are dropped: a session revoked there never verifies from memory)
// while the other masters' sessions keep their entries and hits; then the
// master is tracked again and its sessions are answered from memory.
func TestCacheClusterSubscriberKilled(t *testing.T) {
	tp := useTopology(t, "cluster")
	ctx := context.Background()
	a := tp.newClient(t, rjwt.WithLocalCache(1000), rjwt.WithCacheWindow(time.Minute), rjwt.WithMultiple(true))
	b := samePrefix(t, tp, a, rjwt.WithMultiple(true))
	prefix := prefixOf(t, a)
	users := spreadUsers(t, tp, a, 3)
	victim := tp.masterOf(idx(prefix, users[0]))
	toks := map[string]string{}
	for _, id := range users {
		tok, err := b.Sign(ctx, id)
		require.NoError(t, err)
		cached(t, a, tok)
		toks[id] = tok
	}
	flushes := a.CacheStats().Flushes
	n, err := admin(t, victim).ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
	require.NoError(t, err)
	require.Positive(t, n)
	waitFlush(t, a, flushes)

	for _, id := range users {
		if tp.masterOf(idx(prefix, id)) != victim {
			assert.True(t, hit(t, a, toks[id]), "user %s on another master keeps its entry", id)
		}
	}
	for _, id := range users {
		if tp.masterOf(idx(prefix, id)) == victim {
			require.NoError(t, b.Revoke(ctx, claimOf(t, toks[id], "rjwt")))
			gone(t, a, toks[id], time.Millisecond) // the first Verify asks Redis
		}
	}
	// Invalidation comes back for that master on a new connection.
	tok, err := b.Sign(ctx, users[0])
	require.NoError(t, err)
	cached(t, a, tok)
	require.NoError(t, b.Revoke(ctx, claimOf(t, tok, "rjwt")))
	gone(t, a, tok, 5*time.Second)
	assert.Equal(t, flushes+1, a.CacheStats().Flushes, "one master's entries dropped, once")
}

// TestCacheClusterFailover kills (kill -9) a master of a Cluster of its own
// while sessions on every master are signed, verified through the cache,
// revoked by another client (acknowledged by a replica) and verified again:
// no token verifies once it was revoked a window ago (another process's
// revocation reaches the cache within milliseconds, not at once), none at
// all after the failover; the promoted master is tracked and its sessions
// answered from memory again; entries read from the other masters survive
// the failover.
func TestCacheClusterFailover(t *testing.T) {
	cl := redistest.StartCluster(t, "--cluster-require-full-coverage", "no")
	tp := &topology{name: "cluster", cluster: cl}
	ctx := context.Background()
	const window = 300 * time.Millisecond
	a := tp.newClient(t, rjwt.WithLocalCache(10000), rjwt.WithCacheWindow(window), rjwt.WithMultiple(true),
		rjwt.WithHealthCheck(100*time.Millisecond))
	// A second cache, idle, with a long window: what the failover does to
	// entries read from the masters that did not fail.
	idle := samePrefix(t, tp, a, rjwt.WithLocalCache(1000), rjwt.WithCacheWindow(time.Minute))
	b := samePrefix(t, tp, a, rjwt.WithMultiple(true), rjwt.WithReplicaAck(1, 250*time.Millisecond))
	plain := samePrefix(t, tp, a, rjwt.WithMultiple(true))
	prefix := prefixOf(t, a)
	users := spreadUsers(t, tp, a, 6)
	victimAddr := tp.masterOf(idx(prefix, users[0]))
	for _, id := range users {
		tok, err := b.Sign(ctx, id)
		require.NoError(t, err)
		cached(t, a, tok)
	}
	survivors := map[string]string{} // token → user, on the other masters, not in the load
	for i := 0; len(survivors) < 4; i++ {
		id := fmt.Sprint("idle", i)
		if tp.masterOf(idx(prefix, id)) == victimAddr {
			continue
		}
		tok, err := b.Sign(ctx, id)
		require.NoError(t, err)
		cached(t, idle, tok)
		survivors[tok] = id
	}

	// The load: one goroutine per user.
	var falseAccepts, revokedN atomic.Int64
	var mu sync.Mutex
	var revoked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	type revocation struct {
		tok string
		at  time.Time // when Revoke returned
	}
	for _, id := range users {
		wg.Go(func() {
			var mine []revocation
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				if tok, err := b.Sign(cctx, id, rjwt.WithTTL("10 minutes")); err == nil {
					_, err1 := a.Verify(cctx, tok)
					_, err2 := a.Verify(cctx, tok) // from memory, when trusted
					if err1 == nil && err2 == nil && b.Revoke(cctx, claimOf(t, tok, "rjwt")) == nil {
						mine = append(mine, revocation{tok, time.Now()})
						revokedN.Add(1)
						mu.Lock()
						revoked = append(revoked, tok)
						mu.Unlock()
					}
				}
				old := 0 // revoked more than a window ago
				for old < len(mine) && time.Since(mine[old].at) > window+50*time.Millisecond {
					old++
				}
				if old > 0 {
					_, err := a.Verify(cctx, mine[i%old].tok)
					if err == nil {
						falseAccepts.Add(1)
						t.Errorf("FALSE ACCEPT: a revoked token of %s verified", id)
					} else if !errors.Is(err, rjwt.ErrSessionNotFound) && !errors.Is(err, rjwt.ErrUnavailable) {
						t.Errorf("verify revoked of %s: %v", id, err)
					}
				}
				cancel()
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	before := revokedN.Load()
	victim := cl.MasterFor(idx(prefix, users[0]))
	victim.Kill()
	require.NoError(t, cl.WaitHealthy(20*time.Second))
	promoted := tp.masterOf(idx(prefix, users[0]))
	require.NotEqual(t, victimAddr, promoted)

	// The promoted master is tracked: its sessions are answered from
	// memory, and a revocation there is seen.
	var tok string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		tok, err = plain.Sign(ctx, users[0])
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "Sign on the promoted master: %v", err)
	}
	cached(t, a, tok)
	cached(t, idle, tok)
	require.NoError(t, plain.Revoke(ctx, claimOf(t, tok, "rjwt")))
	gone(t, a, tok, 5*time.Second)
	gone(t, idle, tok, 5*time.Second)
	time.Sleep(500 * time.Millisecond) // more load on the new topology
	close(stop)
	wg.Wait()

	// The idle cache kept what it read from the masters that did not fail.
	for tok, id := range survivors {
		assert.True(t, hit(t, idle, tok), "user %s on a surviving master keeps its entry", id)
	}
	// Every token revoked during the run stays revoked.
	for _, tok := range revoked {
		_, err := a.Verify(ctx, tok)
		assert.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	}

	// A resharding moves a surviving user's slot to another master: the
	// cache follows (MIGRATE deletes the keys on the old master, which
	// invalidates them; the next read there meets MOVED, the slot map is
	// read again) and answers the user from the new master's reads, whose
	// invalidations it gets.
	var mover string
	for _, id := range survivors {
		mover = id
		break
	}
	src := tp.masterOf(idx(prefix, mover))
	dst := victimAddr
	for _, m := range tp.masters() {
		if m != src {
			dst = m
			break
		}
	}
	tok, err := plain.Sign(ctx, mover)
	require.NoError(t, err)
	cached(t, idle, tok)
	moveSlot(t, cl.Slot(idx(prefix, mover)), src, dst, tp.masters())
	require.Equal(t, dst, tp.masterOf(idx(prefix, mover)))
	cached(t, idle, tok)
	require.NoError(t, plain.Revoke(ctx, claimOf(t, tok, "rjwt")))
	gone(t, idle, tok, 5*time.Second)

	st := a.CacheStats()
	t.Logf("%d sessions revoked (%d after the kill), %d false accepts; cache: %+v; idle cache: %+v",
		len(revoked), revokedN.Load()-before, falseAccepts.Load(), st, idle.CacheStats())
	assert.Zero(t, falseAccepts.Load())
	assert.Greater(t, revokedN.Load(), before, "revocations went on")
	assert.Positive(t, st.Flushes, "the killed master's entries were dropped")
}

// moveSlot moves one hash slot and its keys from master src to master dst,
// as redis-cli --cluster reshard does: IMPORTING/MIGRATING, MIGRATE of its
// keys, then SETSLOT NODE on dst, src and the other masters.
func moveSlot(t *testing.T, slot int, src, dst string, masters []string) {
	t.Helper()
	ctx := context.Background()
	s, d := admin(t, src), admin(t, dst)
	srcID, err := s.Do(ctx, "CLUSTER", "MYID").Text()
	require.NoError(t, err)
	dstID, err := d.Do(ctx, "CLUSTER", "MYID").Text()
	require.NoError(t, err)
	require.NoError(t, d.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	require.NoError(t, s.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	host, port, err := net.SplitHostPort(dst)
	require.NoError(t, err)
	for {
		keys, err := s.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		require.NoError(t, err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		require.NoError(t, s.Do(ctx, args...).Err())
	}
	order := []string{dst, src}
	for _, m := range masters {
		if m != dst && m != src {
			order = append(order, m)
		}
	}
	for _, m := range order {
		require.NoError(t, admin(t, m).Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	}
}

// TestCacheClusterMinorityStopsAnswering: when only a minority of the
// masters answers (as on the minority side of a partition, where the old
// master still answers and claims its slots while the others fail it over),
// the slot map is not believed, and the cache stops answering within the
// window plus a refresh period even for the master that still answers.
func TestCacheClusterMinorityStopsAnswering(t *testing.T) {
	tp := useTopology(t, "cluster")
	ctx := context.Background()
	a := tp.newClient(t, rjwt.WithLocalCache(1000), rjwt.WithMultiple(true)) // window 1 s
	id := spreadUsers(t, tp, a, 3)[0]
	tok, err := a.Sign(ctx, id)
	require.NoError(t, err)
	cached(t, a, tok)
	home := tp.masterOf(idx(prefixOf(t, a), id))
	for _, m := range tp.masters() {
		if m != home {
			require.NoError(t, admin(t, m).Do(ctx, "CLIENT", "PAUSE", "4000", "ALL").Err())
		}
	}
	paused := time.Now()
	require.Eventually(t, func() bool { return !hit(t, a, tok) }, 3*time.Second, 50*time.Millisecond,
		"the home master's sessions stop answering from memory")
	t.Logf("stopped answering %v after the other masters went silent", time.Since(paused).Round(time.Millisecond))
	cached(t, a, tok) // and answer again once a majority is back
}
