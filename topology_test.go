package rjwt_test

// One suite, three topologies: the core tests (sign, verify, revoke,
// sessions, single mode, refresh, helpers, events) run on a single
// redis-server, on a Redis Cluster of three masters with a replica each
// (redis.NewClusterClient through WithRedisClient) and on a master and
// replica watched by three Sentinels (redis.NewFailoverClient), from the one
// table below. A test that takes a *topology runs once per entry:
//
//	func TestX(t *testing.T) { eachTopology(t, testX) }
//	func testX(t *testing.T, tp *topology) { c := tp.newClient(t); ... }
//
// The Cluster and the Sentinel setup are started once per test binary, by
// the first test that needs them (each takes seconds), and stopped by
// TestMain. Tests that kill a master put the setup back (the killed node
// restarted as a synced replica) before they end.

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// topology is one way to deploy Redis, as a test sees it.
type topology struct {
	name     string
	cluster  *redistest.Cluster  // the Cluster's nodes, failing this test; nil elsewhere
	sentinel *redistest.Sentinel // the Sentinel setup; nil elsewhere
}

// topologyNames is the table.
var topologyNames = []string{"single", "cluster", "sentinel"}

// eachTopology runs fn as a subtest per topology.
func eachTopology(t *testing.T, fn func(t *testing.T, tp *topology)) {
	t.Helper()
	for _, name := range topologyNames {
		t.Run(name, func(t *testing.T) { fn(t, useTopology(t, name)) })
	}
}

// useTopology starts (once per binary) or reuses the named topology.
func useTopology(t testing.TB, name string) *topology {
	redistest.Need(t)
	t.Helper()
	tp := &topology{name: name}
	switch name {
	case "cluster":
		cl, err := sharedCluster()
		require.NoError(t, err, "starting the shared Redis Cluster")
		tp.cluster = cl.For(t)
	case "sentinel":
		s, err := sharedSentinel()
		require.NoError(t, err, "starting the shared Sentinel setup")
		tp.sentinel = s
	}
	return tp
}

var (
	clusterOnce  sync.Once
	theCluster   *redistest.Cluster
	clusterErr   error
	sentinelOnce sync.Once
	theSentinel  *redistest.Sentinel
	sentinelErr  error
)

func sharedCluster() (*redistest.Cluster, error) {
	clusterOnce.Do(func() {
		// With full coverage required (Redis's default) the whole cluster
		// refuses every key while one master is failed and not yet replaced;
		// docs/cluster.md recommends "no", which keeps the other masters'
		// slots serving through a failover, as the failover tests check.
		clusterErr = recovered(func() {
			theCluster = redistest.StartCluster(redistest.Shared(), "--cluster-require-full-coverage", "no", "--enable-debug-command", "yes")
		})
	})
	return theCluster, clusterErr
}

func sharedSentinel() (*redistest.Sentinel, error) {
	sentinelOnce.Do(func() {
		sentinelErr = recovered(func() { theSentinel = redistest.StartSentinel(redistest.Shared(), "--enable-debug-command", "yes") })
	})
	return theSentinel, sentinelErr
}

// recovered runs f and turns a panic (redistest.Shared's Fatal) into an error.
func recovered(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// redis makes a go-redis client of the topology's kind, closed when the test
// ends: a ClusterClient on the Cluster, a FailoverClient on Sentinel, a plain
// client on the single server.
func (tp *topology) redis(t testing.TB) redis.UniversalClient {
	t.Helper()
	var rdb redis.UniversalClient
	switch tp.name {
	case "cluster":
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: tp.cluster.Addrs(), ContextTimeoutEnabled: true})
	case "sentinel":
		rdb = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: tp.sentinel.MasterName(), SentinelAddrs: tp.sentinel.SentinelAddrs(), ContextTimeoutEnabled: true})
	default:
		rdb = redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// conn is the option that points a client at the topology: WithAddr on the
// single server (rjwt builds its client, as most users do), WithRedisClient
// with a client of tp.redis elsewhere.
func (tp *topology) conn(t testing.TB) rjwt.Option {
	if tp.name == "single" {
		return rjwt.WithAddr(redisAddr)
	}
	return rjwt.WithRedisClient(tp.redis(t))
}

// newClient is newClient on the topology: a client with a key prefix of the
// test's own, closed when the test ends.
func (tp *topology) newClient(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	prefix := "test:" + strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":" + rand.Text()[:6] + ":"
	base := []rjwt.Option{rjwt.WithSecret(testSecret), tp.conn(t), rjwt.WithPrefix(prefix)}
	c, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	prefixes.Store(c, prefix)
	t.Cleanup(func() { c.Close(); prefixes.Delete(c) })
	return c
}

// masters are the addresses of the nodes that take writes now: every master
// of the Cluster, the Sentinel setup's master, or the single server.
func (tp *topology) masters() []string {
	switch tp.name {
	case "cluster":
		var out []string
		for _, m := range tp.cluster.Masters() {
			out = append(out, m.Addr())
		}
		return out
	case "sentinel":
		return []string{tp.sentinel.Master().Addr()}
	}
	return []string{redisAddr}
}

// masterOf is the address of the node holding key now.
func (tp *topology) masterOf(key string) string {
	if tp.name == "cluster" {
		return tp.cluster.MasterFor(key).Addr()
	}
	return tp.masters()[0]
}

// spreadUsers returns n user ids (n ≥ 3) whose keys under c's prefix land on
// every master: on the Cluster it checks each user's index key with CLUSTER
// KEYSLOT (through MasterFor) and keeps picking until all three masters have
// users. On one node the first n candidates do.
func spreadUsers(t *testing.T, tp *topology, c *rjwt.Client, n int) []string {
	t.Helper()
	prefix := prefixOf(t, c)
	want := len(tp.masters())
	seen := map[string]bool{}
	var out []string
	for i := 0; len(out) < n || len(seen) < want; i++ {
		require.Less(t, i, 1000, "no spread of users over %d masters", want)
		id := fmt.Sprintf("user%d", i)
		m := tp.masterOf(prefix + "{" + id + "}:idx")
		if len(out) >= n && seen[m] {
			continue
		}
		seen[m] = true
		out = append(out, id)
	}
	return out
}

// admin is a plain client on one node, closed when the test ends.
func admin(t testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// waitReady waits for c's first EventReady.
func waitReady(t *testing.T, c *rjwt.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.WaitReady(ctx))
}

// TestUsersOnEveryMaster: users whose keys land on each master (checked
// with CLUSTER KEYSLOT) sign, verify, revoke and log out everywhere; each
// user's keys sit together on one node (the hash tag).
func TestUsersOnEveryMaster(t *testing.T) { eachTopology(t, testUsersOnEveryMaster) }

func testUsersOnEveryMaster(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	prefix := prefixOf(t, c)
	users := spreadUsers(t, tp, c, 6)
	perMaster := map[string][]string{}
	for _, id := range users {
		master := tp.masterOf(prefix + "{" + id + "}:idx")
		perMaster[master] = append(perMaster[master], id)
		a, err := c.Sign(ctx, id, rjwt.WithDataSession(map[string]string{"on": master}))
		require.NoError(t, err)
		b, err := c.Sign(ctx, id)
		require.NoError(t, err)
		ca, err := c.Verify(ctx, a, rjwt.WithSession())
		require.NoError(t, err)
		require.JSONEq(t, `{"on":"`+master+`"}`, string(ca.DataSession))

		// The session hash and the index are on the master that serves the
		// user's slot, read there directly (no redirect).
		direct := admin(t, master)
		if leanLayout() {
			there, err := direct.HExists(ctx, leanKey(prefix, id), nanoOf(ca.Session)).Result()
			require.NoError(t, err)
			require.True(t, there, "user %s's hash lives on %s", id, master)
		} else {
			n, err := direct.Exists(ctx, prefix+"{"+id+"}:"+nanoOf(ca.Session), prefix+"{"+id+"}:idx").Result()
			require.NoError(t, err)
			require.Equal(t, int64(2), n, "user %s's keys live on %s", id, master)
		}

		require.NoError(t, c.Revoke(ctx, ca.Session))
		_, err = c.Verify(ctx, a)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
		_, err = c.Verify(ctx, b)
		require.NoError(t, err)
		list, err := c.Sessions(ctx, id)
		require.NoError(t, err)
		require.Len(t, list, 1)
		revoked, err := c.RevokeAll(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 1, revoked)
		_, err = c.Verify(ctx, b)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
	}
	require.Len(t, perMaster, len(tp.masters()), "users on every master: %v", perMaster)
	t.Logf("users per master: %v", perMaster)
}

// TestHelpersSeeEveryMaster: the pattern helpers find and delete keys on
// every master, with SCAN on each and never KEYS (INFO commandstats of
// every master).
func TestHelpersSeeEveryMaster(t *testing.T) { eachTopology(t, testHelpersSeeEveryMaster) }

func testHelpersSeeEveryMaster(t *testing.T, tp *topology) {
	c := tp.newClient(t)
	ctx := context.Background()
	call := c.Call()
	prefix := prefixOf(t, c)
	masters := tp.masters()
	for _, m := range masters {
		require.NoError(t, admin(t, m).ConfigResetStat(ctx).Err())
	}
	want := map[string]string{}
	onMaster := map[string]int{}
	for i := 0; i < 30; i++ {
		key := fmt.Sprintf("%sh{%d}", prefix, i)
		require.NoError(t, call.Create(ctx, key, fmt.Sprint("v", i), time.Minute))
		want[key] = fmt.Sprint("v", i)
		onMaster[tp.masterOf(key)]++
	}
	require.Len(t, onMaster, len(masters), "keys on every master")
	pattern := rjwt.EscapePattern(prefix) + "h*"

	got, err := call.GetValuesByPattern(ctx, pattern)
	require.NoError(t, err)
	require.Equal(t, want, got)
	n, err := call.GetCountByPattern(ctx, pattern)
	require.NoError(t, err)
	require.Equal(t, 30, n)
	n, err = call.DestroyMultiple(ctx, pattern)
	require.NoError(t, err)
	require.Equal(t, 30, n)
	n, err = call.GetCountByPattern(ctx, pattern)
	require.NoError(t, err)
	require.Zero(t, n)

	for _, m := range masters {
		stats, err := admin(t, m).Info(ctx, "commandstats").Result()
		require.NoError(t, err)
		require.NotContains(t, stats, "cmdstat_keys:", "no KEYS on %s", m)
		require.Contains(t, stats, "cmdstat_scan:", "the helpers walked %s", m)
		require.Contains(t, stats, "cmdstat_unlink:", "DestroyMultiple deleted on %s", m)
	}
}

// TestSessionEventsFromEveryMaster: revocations and expiries of users on
// every master arrive as session events, and every master is configured.
func TestSessionEventsFromEveryMaster(t *testing.T) {
	skipOnLean(t)
	eachTopology(t, testSessionEventsFromEveryMaster)
}

func testSessionEventsFromEveryMaster(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithKeyspaceEvents(true), rjwt.WithMultiple(true), rjwt.WithHealthCheck(100*time.Millisecond))
	waitReady(t, c)
	ctx := context.Background()
	for _, m := range tp.masters() {
		flags, err := admin(t, m).ConfigGet(ctx, "notify-keyspace-events").Result()
		require.NoError(t, err)
		for _, f := range "Kgx" {
			require.Contains(t, flags["notify-keyspace-events"], string(f), "ready means %s is configured", m)
		}
	}
	users := spreadUsers(t, tp, c, 3)
	for _, id := range users {
		tok, err := c.Sign(ctx, id)
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, c.Revoke(ctx, cl.Session))
		e := nextEvent(t, c, 3*time.Second, rjwt.EventSessionRevoked)
		require.Equal(t, cl.Session, e.Session)
	}
	expiring := map[string]bool{}
	for _, id := range users {
		_, err := c.Sign(ctx, id, rjwt.WithTTL("1 second"))
		require.NoError(t, err)
		expiring[shortSession(t, c, id)] = true
	}
	// Redis's active expiry samples keys at random: in a keyspace with many
	// volatile keys (the shared servers hold every earlier test's) a key can
	// outlive its TTL by seconds. Touching it on its master expires it at
	// once, as any client's access would; the event is the same.
	time.Sleep(1100 * time.Millisecond)
	deadline := time.After(10 * time.Second)
	poke := time.NewTicker(500 * time.Millisecond)
	defer poke.Stop()
	for len(expiring) > 0 {
		select {
		case e, ok := <-c.Events():
			require.True(t, ok)
			if e.Type != rjwt.EventSessionExpired {
				continue
			}
			require.True(t, expiring[e.Session], "unexpected expiry %s", e.Session)
			delete(expiring, e.Session)
		case <-poke.C:
			for _, id := range users {
				for s := range expiring {
					if strings.HasPrefix(s, id+":") {
						_ = c.Redis().Exists(ctx, sessionKeyOf(t, c, id, s)).Err()
					}
				}
			}
		case <-deadline:
			t.Fatalf("no expiry event for %v", expiring)
		}
	}
}

// TestVerifyReadsWithoutAScript: on every topology, Verify of a session in
// use reads without a script (the seen script runs only when a write is
// due) and asks its master's TIME about once a second, not per call; on a
// Cluster TIME goes to the user's own master, apart from the reads.
func TestVerifyReadsWithoutAScript(t *testing.T) { eachTopology(t, testVerifyReadsWithoutAScript) }

func testVerifyReadsWithoutAScript(t *testing.T, tp *topology) {
	ctx := context.Background()
	c := tp.newClient(t, rjwt.WithMultiple(true))
	users := spreadUsers(t, tp, c, 3)
	first := users[0]
	for _, id := range users {
		tok, err := c.Sign(ctx, id)
		require.NoError(t, err)
		master := tp.masterOf(prefixOf(t, c) + "{" + id + "}:idx")
		scripts := func() int {
			return redistest.CommandCalls(t, master, "evalsha") + redistest.CommandCalls(t, master, "eval")
		}
		evals, times := scripts(), redistest.CommandCalls(t, master, "time")
		start := time.Now()
		for range 200 {
			_, err := c.Verify(ctx, tok)
			require.NoError(t, err)
		}
		elapsed := time.Since(start)
		assert.Equal(t, evals, scripts(), "%s: 200 Verify of a fresh session ran a script on %s", id, master)
		// One clock per master: on a Cluster each user's master is asked;
		// elsewhere the one master is asked for the first user only.
		least := 0
		if tp.name == "cluster" || id == first {
			least = 1
		}
		if sent, most := redistest.CommandCalls(t, master, "time")-times, 2+int(elapsed/time.Second); sent < least || sent > most {
			t.Errorf("%s: 200 Verify in %v asked %s's TIME %d times, want %d to %d", id, elapsed, master, sent, least, most)
		}
	}
}
