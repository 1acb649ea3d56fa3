package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// eventClient makes a client on srv with a fast health check.
func eventClient(t *testing.T, srv *redistest.Server, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr()), rjwt.WithHealthCheck(100 * time.Millisecond)}
	c, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// nextEvent reads events until one of the wanted types arrives, and returns
// it; other types are skipped. It fails the test after timeout.
func nextEvent(t *testing.T, c *rjwt.Client, timeout time.Duration, want ...rjwt.EventType) rjwt.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-c.Events():
			require.True(t, ok, "Events closed while waiting for %v", want)
			for _, w := range want {
				if e.Type == w {
					return e
				}
			}
		case <-deadline:
			t.Fatalf("no %v event within %v", want, timeout)
		}
	}
}

// shortSession names the one session of id that expires within a minute.
// (Not from Verify: a token signed for one second may already be past its
// exp, which counts in whole seconds.)
func shortSession(t *testing.T, c *rjwt.Client, id string) string {
	t.Helper()
	infos, err := c.Sessions(context.Background(), id)
	require.NoError(t, err)
	var short []string
	for _, info := range infos {
		if time.Until(info.ExpiresAt) < time.Minute {
			short = append(short, info.Session)
		}
	}
	require.Len(t, short, 1, "sessions of %q: %v", id, infos)
	return short[0]
}

// noSessionEvent checks that no session event is waiting.
func noSessionEvent(t *testing.T, c *rjwt.Client, wait time.Duration) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-c.Events():
			if e.Type == rjwt.EventSessionExpired || e.Type == rjwt.EventSessionRevoked {
				t.Fatalf("unexpected session event %+v", e)
			}
		case <-deadline:
			return
		}
	}
}

func TestLifecycleEventsAcrossARestart(t *testing.T) {
	for _, keyspace := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyspace=%v", keyspace), func(t *testing.T) {
			srv := redistest.Start(t)
			c := eventClient(t, srv, rjwt.WithKeyspaceEvents(keyspace))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, c.WaitReady(ctx))
			e := nextEvent(t, c, time.Second, rjwt.EventConnected, rjwt.EventReady)
			assert.Equal(t, rjwt.EventConnected, e.Type, "connected comes before ready")
			assert.False(t, e.Time.IsZero())
			nextEvent(t, c, time.Second, rjwt.EventReady)

			before, err := c.Sign(context.Background(), "u")
			require.NoError(t, err)

			killed := time.Now()
			srv.Kill()
			e = nextEvent(t, c, 3*time.Second, rjwt.EventDisconnected)
			t.Logf("EventDisconnected %v after the kill (health check every 100ms)", e.Time.Sub(killed).Round(time.Millisecond))

			// During the outage nothing succeeds, and nothing panics.
			for i := 0; i < 3; i++ {
				short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				tok, err := c.Sign(short, "u")
				assert.Error(t, err)
				assert.Empty(t, tok)
				cl, err := c.Verify(short, before)
				assert.Error(t, err)
				assert.Nil(t, cl)
				assert.NotErrorIs(t, err, rjwt.ErrSessionNotFound)
				cancel()
			}

			require.NoError(t, srv.Restart())
			restarted := time.Now()
			e = nextEvent(t, c, 5*time.Second, rjwt.EventConnected, rjwt.EventReady)
			assert.Equal(t, rjwt.EventConnected, e.Type, "connected comes before ready")
			e = nextEvent(t, c, 5*time.Second, rjwt.EventReady)
			t.Logf("EventReady %v after the restart", e.Time.Sub(restarted).Round(time.Millisecond))

			// The restarted Redis kept nothing (no persistence): the old
			// session is gone, and new ones work.
			_, err = c.Verify(context.Background(), before)
			assert.ErrorIs(t, err, rjwt.ErrSessionNotFound)
			after, err := c.Sign(context.Background(), "u")
			require.NoError(t, err)
			_, err = c.Verify(context.Background(), after)
			require.NoError(t, err)

			if keyspace {
				// The restarted server forgot CONFIG SET; rjwt set it again.
				rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
				defer rdb.Close()
				flags, err := rdb.ConfigGet(context.Background(), "notify-keyspace-events").Result()
				require.NoError(t, err)
				for _, f := range "Kgx" {
					assert.Contains(t, flags["notify-keyspace-events"], string(f))
				}
				cl, err := c.Verify(context.Background(), after)
				require.NoError(t, err)
				require.NoError(t, c.Revoke(context.Background(), cl.Session))
				if !leanLayout() { // no per-session keyspace events there (docs/layouts.md)
					e := nextEvent(t, c, 3*time.Second, rjwt.EventSessionRevoked)
					assert.Equal(t, cl.Session, e.Session)
				}
			}
		})
	}
}

func TestRedisDownAtStartReportsAnErrorThenConnects(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	c := eventClient(t, srv)
	e := nextEvent(t, c, 3*time.Second, rjwt.EventError, rjwt.EventReady)
	require.Equal(t, rjwt.EventError, e.Type)
	assert.ErrorContains(t, e.Err, "unreachable")

	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.WaitReady(short), context.DeadlineExceeded)

	require.NoError(t, srv.Restart())
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	require.NoError(t, c.WaitReady(ctx))
}

func TestKeyspaceEventsReportExpiryAndRevocation(t *testing.T) {
	skipOnLean(t)
	// The server already has other notification flags; rjwt must keep them.
	srv := redistest.Start(t, "--notify-keyspace-events", "Elh")
	c := eventClient(t, srv, rjwt.WithKeyspaceEvents(true), rjwt.WithMultiple(true))
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, c.WaitReady(wctx))

	flags, err := c.Redis().ConfigGet(ctx, "notify-keyspace-events").Result()
	require.NoError(t, err)
	for _, f := range "ElhKgx" {
		assert.Contains(t, flags["notify-keyspace-events"], string(f), "flag %c", f)
	}

	t.Run("expiry names the session and prunes the index", func(t *testing.T) {
		// A longer session keeps the index alive, so the pruning shows.
		_, err := c.Sign(ctx, "exp:user*", rjwt.WithTTL("1 hour"))
		require.NoError(t, err)
		_, err = c.Sign(ctx, "exp:user*", rjwt.WithTTL("1 second"))
		require.NoError(t, err)
		session := shortSession(t, c, "exp:user*")
		index := "rjwt:{exp:user*}:idx"
		nano := session[len(session)-21:]
		require.NoError(t, c.Redis().ZScore(ctx, index, nano).Err(), "indexed before it expires")

		e := nextEvent(t, c, 5*time.Second, rjwt.EventSessionExpired)
		assert.Equal(t, session, e.Session)
		assert.Eventually(t, func() bool {
			return errors.Is(c.Redis().ZScore(ctx, index, nano).Err(), redis.Nil)
		}, 2*time.Second, 10*time.Millisecond, "the expired session left the index")
		n, err := c.Redis().ZCard(ctx, index).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "the live session stays indexed")
	})

	t.Run("revoke", func(t *testing.T) {
		tok, err := c.Sign(ctx, "rev")
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, c.Revoke(ctx, cl.Session))
		e := nextEvent(t, c, 3*time.Second, rjwt.EventSessionRevoked)
		assert.Equal(t, cl.Session, e.Session)
	})

	t.Run("single-mode replacement", func(t *testing.T) {
		// Its own prefix: c, subscribed to "rjwt:*", must not hear of it.
		single := eventClient(t, srv, rjwt.WithKeyspaceEvents(true), rjwt.WithPrefix("single:"))
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, single.WaitReady(wctx))
		first, err := single.Sign(ctx, "single")
		require.NoError(t, err)
		cl, err := single.Verify(ctx, first)
		require.NoError(t, err)
		_, err = single.Sign(ctx, "single")
		require.NoError(t, err)
		e := nextEvent(t, single, 3*time.Second, rjwt.EventSessionRevoked)
		assert.Equal(t, cl.Session, e.Session)
	})

	t.Run("keys that are not rjwt sessions produce nothing", func(t *testing.T) {
		rdb := c.Redis()
		require.NoError(t, rdb.Set(ctx, "other:key", "v", 0).Err())
		require.NoError(t, rdb.Del(ctx, "other:key").Err())
		require.NoError(t, rdb.Set(ctx, "rjwt:not-a-session", "v", 50*time.Millisecond).Err())
		require.NoError(t, rdb.Set(ctx, "rjwt:{u}:idx", "v", 0).Err())
		require.NoError(t, rdb.Del(ctx, "rjwt:{u}:idx").Err())
		noSessionEvent(t, c, 500*time.Millisecond)
	})
}

func TestRefusedConfigReportsAnErrorAndKeepsWorking(t *testing.T) {
	srv := redistest.Start(t, "--rename-command", "CONFIG", "")
	c := eventClient(t, srv, rjwt.WithKeyspaceEvents(true))
	e := nextEvent(t, c, 5*time.Second, rjwt.EventError)
	assert.ErrorContains(t, e.Err, "notify-keyspace-events")
	assert.ErrorContains(t, e.Err, "Kgx")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.WaitReady(ctx))
	tok, err := c.Sign(ctx, "managed")
	require.NoError(t, err)
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
}

func TestASlowConsumerLosesEventsNotProgress(t *testing.T) {
	skipOnLean(t)
	srv := redistest.Start(t)
	c := eventClient(t, srv, rjwt.WithKeyspaceEvents(true), rjwt.WithEventBuffer(4), rjwt.WithMultiple(true))
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, c.WaitReady(wctx))
	// Nobody reads Events. Every Sign and Revoke still completes, as fast as
	// with a client that sends no events at all.
	round := func(c *rjwt.Client) time.Duration {
		start := time.Now()
		for i := 0; i < 200; i++ {
			tok, err := c.Sign(ctx, "busy")
			require.NoError(t, err)
			cl, err := c.Verify(ctx, tok)
			require.NoError(t, err)
			require.NoError(t, c.Revoke(ctx, cl.Session))
		}
		return time.Since(start)
	}
	quiet := eventClient(t, srv, rjwt.WithMultiple(true), rjwt.WithPrefix("quiet:"))
	unread := round(c)
	baseline := round(quiet)
	assert.Eventually(t, func() bool { return c.DroppedEvents() >= 150 }, 5*time.Second, 20*time.Millisecond,
		"dropped %d", c.DroppedEvents())
	t.Logf("200 Sign+Verify+Revoke: %v with an unread 4-event buffer (%d events dropped), %v without keyspace events",
		unread.Round(time.Millisecond), c.DroppedEvents(), baseline.Round(time.Millisecond))
	assert.Less(t, unread, 3*baseline+time.Second, "an unread channel does not slow Redis work")
	assert.Len(t, c.Events(), 4, "the buffer is full, not grown")
}

func TestCloseEndsEveryGoroutineAndTheChannel(t *testing.T) {
	srv := redistest.Start(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, keyspace := range []bool{false, true} {
		c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr()), rjwt.WithKeyspaceEvents(keyspace), rjwt.WithHealthCheck(50*time.Millisecond))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, c.WaitReady(ctx))
		cancel()
		_, err = c.Sign(context.Background(), "leak")
		require.NoError(t, err)
		require.NoError(t, c.Close())
		for range c.Events() { // drains, then ends: the channel is closed
		}
		assert.ErrorIs(t, c.WaitReady(context.Background()), nil, "ready was reached before Close")
	}
	// A client closed before it was ever ready, against a dead server.
	port, err := redistest.FreePort()
	require.NoError(t, err)
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(fmt.Sprintf("127.0.0.1:%d", port)), rjwt.WithKeyspaceEvents(true))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.WaitReady(context.Background()), rjwt.ErrClosed)
}

func TestEventOptionsRefuseBadValues(t *testing.T) {
	for _, opt := range []rjwt.Option{rjwt.WithEventBuffer(0), rjwt.WithHealthCheck(time.Millisecond)} {
		_, err := rjwt.New(rjwt.WithSecret(testSecret), opt)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "rjwt: With"), err.Error())
		assert.False(t, errors.Is(err, rjwt.ErrInvalidTTL))
	}
}

func TestKeyspaceEventsStayInTheClientsPrefixAndDB(t *testing.T) {
	skipOnLean(t)
	srv := redistest.Start(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		prefix string
		db     int
	}{
		// Unescaped, "ks[1]*:*" would match "ks1..." and never "ks[1]*:...".
		{"prefix with glob characters", "ks[1]*:", 0},
		{"prefix with a backslash", `ks\?:`, 0},
		{"another database", "rjwt:", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := eventClient(t, srv, rjwt.WithKeyspaceEvents(true), rjwt.WithPrefix(tc.prefix), rjwt.WithDB(tc.db), rjwt.WithMultiple(true))
			// Same prefix, other database: hears nothing of c's keys.
			otherDB := eventClient(t, srv, rjwt.WithKeyspaceEvents(true), rjwt.WithPrefix(tc.prefix), rjwt.WithDB(tc.db+1))
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			require.NoError(t, c.WaitReady(wctx))
			require.NoError(t, otherDB.WaitReady(wctx))

			tok, err := c.Sign(ctx, "u*")
			require.NoError(t, err)
			cl, err := c.Verify(ctx, tok)
			require.NoError(t, err)
			require.NoError(t, c.Revoke(ctx, cl.Session))
			e := nextEvent(t, c, 3*time.Second, rjwt.EventSessionRevoked)
			assert.Equal(t, cl.Session, e.Session)

			_, err = c.Sign(ctx, "u*", rjwt.WithTTL("1 second"))
			require.NoError(t, err)
			session := shortSession(t, c, "u*")
			e = nextEvent(t, c, 5*time.Second, rjwt.EventSessionExpired)
			assert.Equal(t, session, e.Session)

			noSessionEvent(t, otherDB, 100*time.Millisecond)
		})
	}
}

func TestAWaveOfExpiriesIsReportedAndPruned(t *testing.T) {
	skipOnLean(t)
	srv := redistest.Start(t)
	const users, perUser = 200, 10
	c := eventClient(t, srv, rjwt.WithKeyspaceEvents(true), rjwt.WithMultiple(true), rjwt.WithEventBuffer(2*users*perUser))
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, c.WaitReady(wctx))
	want := map[string]bool{}
	for u := 0; u < users; u++ {
		id := fmt.Sprintf("wave%d", u)
		_, err := c.Sign(ctx, id, rjwt.WithTTL("1 hour"))
		require.NoError(t, err)
		for i := 0; i < perUser; i++ {
			_, err := c.Sign(ctx, id, rjwt.WithTTL("1 second"))
			require.NoError(t, err)
		}
		infos, err := c.Sessions(ctx, id)
		require.NoError(t, err)
		for _, info := range infos {
			if time.Until(info.ExpiresAt) < time.Minute {
				want[info.Session] = true
			}
		}
	}
	require.Len(t, want, users*perUser)
	signed := time.Now()
	for len(want) > 0 {
		e := nextEvent(t, c, 10*time.Second, rjwt.EventSessionExpired, rjwt.EventError)
		require.Equal(t, rjwt.EventSessionExpired, e.Type, "%v", e.Err)
		delete(want, e.Session)
	}
	t.Logf("%d expiries reported %v after the last Sign", users*perUser, time.Since(signed).Round(time.Millisecond))
	assert.Eventually(t, func() bool {
		for u := 0; u < users; u++ {
			if n, err := c.Redis().ZCard(ctx, fmt.Sprintf("rjwt:{wave%d}:idx", u)).Result(); err != nil || n != 1 {
				return false
			}
		}
		return true
	}, 3*time.Second, 20*time.Millisecond, "every index holds only its live session")
	assert.Zero(t, c.DroppedEvents())
}
