package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

func TestReplicaAckRefusesBadValues(t *testing.T) {
	for _, opt := range []rjwt.Option{rjwt.WithReplicaAck(0, time.Second), rjwt.WithReplicaAck(1, 0), rjwt.WithReplicaAck(-1, time.Second)} {
		_, err := rjwt.New(rjwt.WithSecret(testSecret), opt)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "rjwt: WithReplicaAck"), err.Error())
	}
}

// replicaOf is the address of a replica of the master holding key.
func (tp *topology) replicaOf(t *testing.T, key string) string {
	t.Helper()
	switch tp.name {
	case "cluster":
		rs := tp.cluster.ReplicasOf(tp.cluster.MasterFor(key))
		require.NotEmpty(t, rs)
		return rs[0].Addr()
	case "sentinel":
		return tp.sentinel.Replica().Addr()
	}
	t.Fatal("the single server has no replica")
	return ""
}

// TestReplicaAckCountsTheReplicasThatHaveTheRevocation: with enough
// replicas a revocation returns nil; with too few, or with the replica
// stalled (DEBUG SLEEP) so that it cannot acknowledge this write, the call
// fails with ErrUnavailable saying so, and the revocation was made all the
// same. The stalled replica shows WAIT goes on the connection that wrote: on
// any other connection it would count the replica at once.
func TestReplicaAckCountsTheReplicasThatHaveTheRevocation(t *testing.T) {
	eachTopology(t, testReplicaAckCounts)
}

func testReplicaAckCounts(t *testing.T, tp *topology) {
	ctx := context.Background()
	replicas := 1
	if tp.name == "single" {
		replicas = 0
	}
	// Revoke, RevokeAll and a reused refresh token, with ack of n replicas
	// within timeout; wantErr says whether they must fail.
	check := func(t *testing.T, c *rjwt.Client, id string, wantErr bool, detail string) {
		t.Helper()
		unacked := func(err error, what string) {
			t.Helper()
			if !wantErr {
				require.NoError(t, err, what)
				return
			}
			require.ErrorIs(t, err, rjwt.ErrUnavailable, what)
			require.ErrorContains(t, err, detail, what)
			require.ErrorContains(t, err, "may not survive a failover", what)
			for _, s := range sentinels {
				require.NotErrorIs(t, err, s)
			}
		}
		tok, err := c.Sign(ctx, id)
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		unacked(c.Revoke(ctx, cl.Session), "Revoke")
		_, err = c.Verify(ctx, tok)
		onlySentinel(t, err, rjwt.ErrSessionNotFound) // made on the master either way

		tok, err = c.Sign(ctx, id)
		require.NoError(t, err)
		n, err := c.RevokeAll(ctx, id)
		unacked(err, "RevokeAll")
		if !wantErr {
			require.Equal(t, 1, n)
		}
		_, err = c.Verify(ctx, tok)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)

		p, err := c.SignPair(ctx, id)
		require.NoError(t, err)
		_, err = c.Refresh(ctx, p.RefreshToken)
		require.NoError(t, err, "a rotation waits for nothing")
		_, err = c.Refresh(ctx, p.RefreshToken)
		if wantErr {
			unacked(err, "Refresh reused")
		} else {
			onlySentinel(t, err, rjwt.ErrRefreshReused)
		}
		_, err = c.Verify(ctx, p.Token)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
	}

	t.Run("as many as there are", func(t *testing.T) {
		if replicas == 0 {
			t.Skip("no replica")
		}
		c := tp.newClient(t, rjwt.WithMultiple(true), rjwt.WithRefreshGrace(0), rjwt.WithReplicaAck(replicas, 2*time.Second))
		for _, id := range spreadUsers(t, tp, c, 3) {
			check(t, c, id, false, "")
		}
	})
	t.Run("more than there are", func(t *testing.T) {
		c := tp.newClient(t, rjwt.WithMultiple(true), rjwt.WithRefreshGrace(0), rjwt.WithReplicaAck(replicas+1, 50*time.Millisecond))
		start := time.Now()
		check(t, c, "few", true, fmt.Sprintf("%d of %d replicas acknowledged it within 50ms", replicas, replicas+1))
		assert.Less(t, time.Since(start), 2*time.Second, "each call waits the timeout, no more")
	})
	t.Run("a stalled replica", func(t *testing.T) {
		if replicas == 0 {
			t.Skip("no replica")
		}
		c := tp.newClient(t, rjwt.WithMultiple(true), rjwt.WithRefreshGrace(0), rjwt.WithReplicaAck(1, 100*time.Millisecond))
		// Warm the client first. A go-redis Cluster client loads COMMAND
		// info on its first routed call from any node, replicas included,
		// and waits for the answer: asked of the sleeping replica, it held
		// the check until the replica woke, and WAIT then rightly counted
		// it (the "replica acknowledged while asleep" seen at the end of
		// round two, about one run in three).
		check(t, c, "stalled", false, "")
		key := prefixOf(t, c) + "{stalled}:idx"
		start, slept := sleepReplica(t, tp.replicaOf(t, key), 5)
		require.Less(t, time.Since(start), 4*time.Second, "the check starts well inside the sleep")
		check(t, c, "stalled", true, "0 of 1 replicas acknowledged it within 100ms")
		require.Less(t, time.Since(start), 5*time.Second, "the check ended inside the sleep")
		require.NoError(t, <-slept)
		// Awake, it acknowledges again once it has read what it missed
		// (a replica just out of a 5 s sleep can take longer than the
		// 100ms timeout to send its first ack).
		caughtUp(t, tp.masterOf(key), key+":probe")
		check(t, c, "stalled", false, "")
	})
}

// sleepReplica puts the server at addr in DEBUG SLEEP for secs seconds and
// returns once it is asleep, not merely slow on a loaded machine (three
// PINGs in a row unanswered for 150ms each), with when the sleep was sent
// and a channel that gets DEBUG SLEEP's result when the server wakes. The
// sleeper waits for the reply as long as the sleep lasts and never sends
// DEBUG SLEEP twice (an admin client's read timeout and retries would).
func sleepReplica(t *testing.T, addr string, secs int) (time.Time, <-chan error) {
	t.Helper()
	ctx := context.Background()
	sleeper := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1, MaxRetries: -1})
	t.Cleanup(func() { sleeper.Close() })
	slept := make(chan error, 1)
	start := time.Now()
	go func() { slept <- sleeper.Do(ctx, "DEBUG", "SLEEP", strconv.Itoa(secs)).Err() }()
	probe := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 150 * time.Millisecond, MaxRetries: -1})
	defer probe.Close()
	missed := 0
	require.Eventually(t, func() bool {
		if probe.Ping(ctx).Err() != nil {
			missed++
		} else {
			missed = 0
		}
		return missed == 3
	}, time.Duration(secs)*time.Second*2/3, 5*time.Millisecond, "the replica is asleep")
	return start, slept
}

// caughtUp waits until the replica of the master at addr has acknowledged
// every write made so far (a write of key, then WAIT 1 on its connection).
func caughtUp(t *testing.T, addr, key string) {
	t.Helper()
	ctx := context.Background()
	master := redis.NewClient(&redis.Options{Addr: addr})
	defer master.Close()
	require.Eventually(t, func() bool {
		var wait *redis.IntCmd
		_, err := master.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, 1, time.Second)
			wait = redis.NewIntCmd(ctx, "wait", 1, 100)
			return p.Process(ctx, wait)
		})
		return err == nil && wait.Val() == 1
	}, 10*time.Second, 20*time.Millisecond, "the replica acknowledges the master's writes")
}

// settle retries call while it fails with ErrUnavailable (a failover in
// progress), for up to 15 s, and returns its last error.
func settle(call func() error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := call()
		if !errors.Is(err, rjwt.ErrUnavailable) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicaAckRevocationsSurviveAFailover: revocations that returned nil
// with WithReplicaAck, the master killed right after the last one returned,
// are all in force on the promoted replica, and a session signed before them
// still verifies there.
func TestReplicaAckRevocationsSurviveAFailover(t *testing.T) {
	for _, name := range failoverTopologies {
		t.Run(name, func(t *testing.T) { testReplicaAckFailover(t, useTopology(t, name)) })
	}
}

func testReplicaAckFailover(t *testing.T, tp *topology) {
	ctx := context.Background()
	c := tp.newClient(t, rjwt.WithMultiple(true), rjwt.WithRefreshGrace(0), rjwt.WithReplicaAck(1, 2*time.Second))
	prefix := prefixOf(t, c)
	// Three users on the master that dies.
	master := tp.masterOf(prefix + "{ack0}:idx")
	users := []string{"ack0"}
	for i := 1; len(users) < 3; i++ {
		require.Less(t, i, 1000)
		if id := fmt.Sprint("ack", i); tp.masterOf(prefix+"{"+id+"}:idx") == master {
			users = append(users, id)
		}
	}
	kept, err := c.Sign(ctx, users[0])
	require.NoError(t, err)
	revoked, err := c.Sign(ctx, users[0])
	require.NoError(t, err)
	cl, err := c.Verify(ctx, revoked)
	require.NoError(t, err)
	all := make([]string, 2)
	for i := range all {
		all[i], err = c.Sign(ctx, users[1])
		require.NoError(t, err)
	}
	p, err := c.SignPair(ctx, users[2])
	require.NoError(t, err)
	_, err = c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)

	_, err = c.Refresh(ctx, p.RefreshToken)
	onlySentinel(t, err, rjwt.ErrRefreshReused)
	n, err := c.RevokeAll(ctx, users[1])
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, c.Revoke(ctx, cl.Session))
	victim, waitFailover := tp.kill(t, prefix+"{ack0}:idx") // right after Revoke returned
	killed := time.Now()
	require.NoError(t, waitFailover())
	t.Logf("failover done %v after the kill", time.Since(killed).Round(time.Millisecond))

	for name, tok := range map[string]string{"revoked": revoked, "revoked all 1": all[0], "revoked all 2": all[1], "reused refresh": p.Token} {
		err := settle(func() error { _, err := c.Verify(ctx, tok); return err })
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
		t.Logf("%s: %v", name, err)
	}
	require.NoError(t, settle(func() error { _, err := c.Verify(ctx, kept); return err }),
		"the promoted replica has the sessions signed before the revocations")
	require.NotEqual(t, master, tp.masterOf(prefix+"{ack0}:idx"), "checked on the promoted replica")
	tp.heal(t, victim)
}

// TestReplicaAckRetriedRevocationWaitsForTheFirstRun: a Revoke or RevokeAll
// whose reply is lost is retried on a new connection, and the script answers
// the retry from the first run's answer key. WAIT counts the replicas that
// have the connection's last write, so the retry must write too (it renews
// the answer key): otherwise, on a Redis that records a connection's WAIT
// offset only for commands that propagate (7.2 on), WAIT on the new
// connection measures nothing and answers at once, and a revocation no
// replica has yet returns nil. Redis 7.0 records it after every command, so
// there the outcome holds either way and the renewal is checked directly
// (a PEXPIRE run by each retried script, INFO commandstats). The same for
// a revocation called again after an AckError, which finds nothing left to
// end: with WithReplicaAck its zero answer is written (for a second).
func TestReplicaAckRetriedRevocationWaitsForTheFirstRun(t *testing.T) {
	ctx := context.Background()
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port), "--enable-debug-command", "yes")
	admin := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer admin.Close()
	require.Eventually(t, func() bool {
		info, _ := admin.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 20*time.Millisecond, "the replica syncs")
	px := redistest.StartProxy(t, master.Addr())
	c := faultClient(t, px.Addr(), rjwt.WithMultiple(true), rjwt.WithReplicaAck(1, 100*time.Millisecond))

	// Awake, both acknowledge (and their scripts are loaded).
	tok, err := c.Sign(ctx, "lost-ack")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, cl.Session))
	_, err = c.Sign(ctx, "lost-ack-all")
	require.NoError(t, err)
	n, err := c.RevokeAll(ctx, "lost-ack-all")
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Sessions to revoke, made while the replica is awake.
	tok, err = c.Sign(ctx, "lost-ack")
	require.NoError(t, err)
	cl, err = c.Verify(ctx, tok)
	require.NoError(t, err)
	_, err = c.Sign(ctx, "lost-ack-all")
	require.NoError(t, err)

	// The replica has every write so far, so WAIT on any connection that
	// did not write since would answer 1 at once.
	caughtUp(t, master.Addr(), "probe")
	start, slept := sleepReplica(t, replica.Addr(), 3)

	pexpires := func() int {
		return redistest.CommandCalls(t, master.Addr(), "pexpire")
	}
	before := pexpires()
	drop := px.DropReplyTo(nanoOf(cl.Session))
	err = c.Revoke(ctx, cl.Session)
	fired(t, drop)
	require.ErrorIs(t, err, rjwt.ErrUnavailable, "the retry's WAIT covers the first run, which no replica has")
	require.ErrorContains(t, err, "0 of 1 replicas acknowledged it")

	drop = px.DropReplyTo("{lost-ack-all}:idx")
	_, err = c.RevokeAll(ctx, "lost-ack-all")
	fired(t, drop)
	require.ErrorIs(t, err, rjwt.ErrUnavailable)
	require.ErrorContains(t, err, "0 of 1 replicas acknowledged it")
	assert.Equal(t, before+2, pexpires(), "each retried script renewed its answer key")

	// Called again after the AckError (a new request): nothing is left to
	// end, and the call still waits for the first one's revocation, since
	// its zero answer is written too (for a second) when it will WAIT.
	sets := redistest.CommandCalls(t, master.Addr(), "set")
	err = c.Revoke(ctx, cl.Session)
	require.ErrorIs(t, err, rjwt.ErrUnavailable, "not ErrSessionNotFound while the first revocation is unacknowledged")
	n, err = c.RevokeAll(ctx, "lost-ack-all")
	require.ErrorIs(t, err, rjwt.ErrUnavailable)
	assert.Equal(t, 0, n)
	assert.Equal(t, sets+2, redistest.CommandCalls(t, master.Addr(), "set"), "each zero answer was written")
	require.Less(t, time.Since(start), 3*time.Second, "the checks ran inside the sleep")
	require.NoError(t, <-slept)
}
