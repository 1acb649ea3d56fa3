package rjwt_test

// Faults are part of the spec: each test here puts a real redis-server in a
// state production brings (a reply lost after Redis ran the command, a
// stalled or killed or restarted server, a full or evicting memory) and
// checks what rjwt answers.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// claimOf reads one claim of a token without checking it.
func claimOf(t *testing.T, token, name string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return fmt.Sprint(m[name])
}

// faultClient makes a client of its own on addr (a proxy or a private
// server), with a fast health check.
func faultClient(t *testing.T, addr string, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(addr), rjwt.WithHealthCheck(100 * time.Millisecond)}
	c, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// fired waits for a DropReplyTo trigger.
func fired(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("the proxy never dropped the reply")
	}
}

// noEvent fails if an event of type typ is waiting or arrives within wait.
func noEvent(t *testing.T, c *rjwt.Client, wait time.Duration, typ rjwt.EventType) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-c.Events():
			if e.Type == typ {
				t.Fatalf("unexpected %s event: %+v", typ, e)
			}
		case <-deadline:
			return
		}
	}
}

func TestLostReplies(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	ctx := context.Background()

	t.Run("Refresh retried by rjwt returns the same rotation, never reuse", func(t *testing.T) {
		// Strict rotation: the retry is recognised by the script, not by the grace.
		c := faultClient(t, px.Addr(), rjwt.WithRefreshGrace(0))
		warm, err := c.SignPair(ctx, "warm") // loads the scripts, so the dropped reply is the real run's
		require.NoError(t, err)
		_, err = c.Refresh(ctx, warm.RefreshToken)
		require.NoError(t, err)
		for i := range 4 {
			p, err := c.SignPair(ctx, "lost-refresh")
			require.NoError(t, err)
			drop := px.DropReplyTo(claimOf(t, p.RefreshToken, "rti"))
			p2, err := c.Refresh(ctx, p.RefreshToken)
			fired(t, drop)
			require.NoError(t, err, "try %d", i)
			_, err = c.Verify(ctx, p2.Token)
			require.NoError(t, err)
			p3, err := c.Refresh(ctx, p2.RefreshToken)
			require.NoError(t, err, "the rotation chain goes on")
			_, err = c.Verify(ctx, p3.Token)
			require.NoError(t, err)
		}
		noEvent(t, c, 100*time.Millisecond, rjwt.EventRefreshReused)
	})

	t.Run("Refresh retried by the caller gets the same pair within the grace", func(t *testing.T) {
		c := faultClient(t, px.Addr(), rjwt.WithMaxRetries(0))
		p, err := c.SignPair(ctx, "lost-refresh-caller")
		require.NoError(t, err)
		_, err = c.Refresh(ctx, p.RefreshToken) // loads the script
		require.NoError(t, err)
		p, err = c.SignPair(ctx, "lost-refresh-caller")
		require.NoError(t, err)
		drop := px.DropReplyTo(claimOf(t, p.RefreshToken, "rti"))
		_, err = c.Refresh(ctx, p.RefreshToken)
		fired(t, drop)
		require.ErrorIs(t, err, rjwt.ErrUnavailable, "no retry: the lost reply is an error")
		p2, err := c.Refresh(ctx, p.RefreshToken) // the caller tries again
		require.NoError(t, err)
		_, err = c.Verify(ctx, p2.Token)
		require.NoError(t, err)
		noEvent(t, c, 100*time.Millisecond, rjwt.EventRefreshReused)
	})

	t.Run("Revoke and RevokeAll report what the first run did", func(t *testing.T) {
		c := faultClient(t, px.Addr(), rjwt.WithMultiple(true))
		for range 3 { // Revoke's script loaded, and three tries
			tok, err := c.Sign(ctx, "lost-revoke")
			require.NoError(t, err)
			cl, err := c.Verify(ctx, tok)
			require.NoError(t, err)
			drop := px.DropReplyTo(nanoOf(cl.Session))
			require.NoError(t, c.Revoke(ctx, cl.Session), "revoked, so not ErrSessionNotFound")
			fired(t, drop)
			_, err = c.Verify(ctx, tok)
			require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
		}
		for range 2 {
			_, err := c.Sign(ctx, "lost-revoke-all")
			require.NoError(t, err)
		}
		_, err := c.RevokeAll(ctx, "lost-revoke-all-warm") // loads the script
		require.NoError(t, err)
		drop := px.DropReplyTo("{lost-revoke-all}:idx")
		n, err := c.RevokeAll(ctx, "lost-revoke-all")
		fired(t, drop)
		require.NoError(t, err)
		assert.Equal(t, 2, n, "the count of the run that revoked")
	})

	t.Run("IncrSessionData retried adds once", func(t *testing.T) {
		c := faultClient(t, px.Addr())
		tok, err := c.Sign(ctx, "lost-incr", rjwt.WithDataSession(map[string]int{"views": 0}))
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		_, err = c.IncrSessionData(ctx, cl.Session, "warm", 1) // loads the script
		require.NoError(t, err)
		for want := int64(1); want <= 3; want++ {
			drop := px.DropReplyTo("lost-views")
			n, err := c.IncrSessionData(ctx, cl.Session, "lost-views", 1)
			fired(t, drop)
			require.NoError(t, err)
			assert.Equal(t, want, n, "the retry answers the first run's value, not a second increment")
		}
		got, err := c.Verify(ctx, tok, rjwt.WithSession())
		require.NoError(t, err)
		assert.Contains(t, string(got.DataSession), `"lost-views":3`)
	})

	t.Run("Verify whose reply is lost answers on the retry and changes nothing", func(t *testing.T) {
		c := faultClient(t, px.Addr())
		tok, err := c.Sign(ctx, "lost-verify")
		require.NoError(t, err)
		drop := px.DropReplyTo("{lost-verify}:idx")
		_, err = c.Verify(ctx, tok)
		fired(t, drop)
		require.NoError(t, err, "the reads are sent again on a fresh connection")
		require.NoError(t, c.Revoke(ctx, mustSession(t, c, tok)))
		drop = px.DropReplyTo("{lost-verify}:idx")
		_, err = c.Verify(ctx, tok)
		fired(t, drop)
		require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "a retried read never brings a revoked session back")
	})

	t.Run("Sign retried creates one session", func(t *testing.T) {
		c := faultClient(t, px.Addr())
		old, err := c.Sign(ctx, "lost-sign")
		require.NoError(t, err)
		drop := px.DropReplyTo("{lost-sign}:idx")
		tok, err := c.Sign(ctx, "lost-sign")
		fired(t, drop)
		require.NoError(t, err)
		_, err = c.Verify(ctx, tok)
		require.NoError(t, err)
		_, err = c.Verify(ctx, old)
		require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "single mode still replaced the old session")
		list, err := c.Sessions(ctx, "lost-sign")
		require.NoError(t, err)
		assert.Len(t, list, 1)
	})
}

// TestRefreshDuringAStall runs a Refresh while Redis sleeps (DEBUG SLEEP),
// with a client that times out and retries, as go-redis does by default:
// Redis runs the script twice, and the second run must not take the first
// for a thief.
func TestRefreshDuringAStall(t *testing.T) {
	srv := redistest.Start(t, "--enable-debug-command", "yes")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := context.Background()
	for _, grace := range []time.Duration{0, rjwt.DefaultRefreshGrace} {
		t.Run("grace="+grace.String(), func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 300 * time.Millisecond, MaxRetries: 3,
				MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond})
			defer rdb.Close()
			c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithRedisClient(rdb), rjwt.WithRefreshGrace(grace), rjwt.WithHealthCheck(time.Hour))
			require.NoError(t, err)
			defer c.Close()
			p, err := c.SignPair(ctx, "stall")
			require.NoError(t, err)
			_, err = c.Refresh(ctx, p.RefreshToken) // loads the script
			require.NoError(t, err)
			p, err = c.SignPair(ctx, "stall")
			require.NoError(t, err)

			slept := make(chan error, 1)
			go func() { slept <- admin.Do(ctx, "DEBUG", "SLEEP", "1").Err() }()
			time.Sleep(50 * time.Millisecond)
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			p2, err := c.Refresh(rctx, p.RefreshToken)
			require.NoError(t, <-slept)
			if err != nil {
				// Every try timed out before Redis woke: an error, never reuse.
				require.ErrorIs(t, err, rjwt.ErrUnavailable)
				require.NotErrorIs(t, err, rjwt.ErrRefreshReused)
				if grace == 0 {
					return
				}
				// The caller tries again. The failed tries may have shown
				// the client Redis down (a PING timed out in the sleep):
				// then calls fail fast until a probe (every 100 ms while
				// down) sees it answer, so try until then, never reused.
				deadline := time.Now().Add(5 * time.Second)
				for {
					p2, err = c.Refresh(ctx, p.RefreshToken)
					if !errors.Is(err, rjwt.ErrUnavailable) || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				require.NoError(t, err)
			}
			_, err = c.Verify(ctx, p2.Token)
			require.NoError(t, err, "the session lives")
			_, err = c.Refresh(ctx, p2.RefreshToken)
			require.NoError(t, err)
			noEvent(t, c, 50*time.Millisecond, rjwt.EventRefreshReused)
		})
	}
}

// TestFailFastWhileRedisIsDown: once the health check has seen Redis gone,
// calls fail at once, without the network, with ErrUnavailable and the real
// cause, until a probe sees Redis again.
func TestFailFastWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	c := faultClient(t, srv.Addr())
	ctx := context.Background()
	tok, err := c.Sign(ctx, "down")
	require.NoError(t, err)
	nextEvent(t, c, 5*time.Second, rjwt.EventReady)

	srv.Kill()
	nextEvent(t, c, 5*time.Second, rjwt.EventDisconnected)
	const n = 500
	took := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		_, err := c.Verify(ctx, tok)
		took[i] = time.Since(start)
		require.ErrorIs(t, err, rjwt.ErrUnavailable)
		require.ErrorContains(t, err, "connection refused", "the cause is kept")
		require.NotErrorIs(t, err, rjwt.ErrSessionNotFound)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	p50, p99 := took[n/2], took[n*99/100]
	t.Logf("Verify with Redis known down: p50 %v, p99 %v (%d calls)", p50, p99, n)
	assert.Less(t, p50, 20*time.Millisecond, "fails fast (generous bound for CI)")
	for name, call := range map[string]func() error{
		"Sign":     func() error { _, err := c.Sign(ctx, "down"); return err },
		"SignPair": func() error { _, err := c.SignPair(ctx, "down"); return err },
		"Revoke":   func() error { return c.Revoke(ctx, "down:"+strings.Repeat("a", 21)) },
		"Sessions": func() error { _, err := c.Sessions(ctx, "down"); return err },
		"Exists":   func() error { _, err := c.Call().Exists(ctx, "k"); return err },
	} {
		start := time.Now()
		err := call()
		assert.ErrorIs(t, err, rjwt.ErrUnavailable, name)
		assert.Less(t, time.Since(start), 20*time.Millisecond, name)
	}

	require.NoError(t, srv.Restart())
	nextEvent(t, c, 5*time.Second, rjwt.EventConnected)
	tok, err = c.Sign(ctx, "down")
	require.NoError(t, err, "calls reach Redis again once a probe saw it")
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
}

// TestEventsSurviveARestartUnderLoad restarts Redis while calls run, with no
// retries: the keyspace configuration comes back, EventReady is sent only
// once it has, and session events flow again.
func TestEventsSurviveARestartUnderLoad(t *testing.T) {
	skipOnLean(t)
	srv := redistest.Start(t)
	c := faultClient(t, srv.Addr(), rjwt.WithKeyspaceEvents(true), rjwt.WithMaxRetries(0), rjwt.WithMultiple(true))
	ctx := context.Background()
	nextEvent(t, c, 5*time.Second, rjwt.EventReady)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				if tok, err := c.Sign(cctx, "load"+strconv.Itoa(g), rjwt.WithTTL("1 minute")); err == nil {
					c.Verify(cctx, tok)
				}
				cancel()
				calls.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	srv.Kill()
	nextEvent(t, c, 5*time.Second, rjwt.EventDisconnected)
	require.NoError(t, srv.Restart())
	restarted := time.Now()
	var errs []string
	for {
		e := nextEvent(t, c, 10*time.Second, rjwt.EventReady, rjwt.EventError)
		if e.Type == rjwt.EventError {
			errs = append(errs, e.Err.Error())
			continue
		}
		break
	}
	t.Logf("EventReady %v after the restart; %d calls ran; error events: %q", time.Since(restarted).Round(time.Millisecond), calls.Load(), errs)
	for _, e := range errs {
		assert.NotContains(t, e, "CONFIG refused", "a dial error is not blamed on CONFIG")
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	flags, err := admin.ConfigGet(ctx, "notify-keyspace-events").Result()
	require.NoError(t, err)
	for _, f := range "Kgx" {
		assert.Contains(t, flags["notify-keyspace-events"], string(f), "ready means configured")
	}
	close(stop)
	wg.Wait()

	tok, err := c.Sign(ctx, "after-restart")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, cl.Session))
	for {
		e := nextEvent(t, c, 5*time.Second, rjwt.EventSessionRevoked)
		if e.Session == cl.Session {
			break
		}
	}
}

// fill writes junk until Redis refuses with OOM, in smaller and smaller
// values, so that memory ends within a few bytes of maxmemory.
func fill(t *testing.T, rdb *redis.Client) {
	t.Helper()
	i := 0
	for _, size := range []int{64 << 10, 1 << 10, 64} {
		junk := strings.Repeat("x", size)
		for ; ; i++ {
			err := rdb.Set(context.Background(), "junk:"+strconv.Itoa(i), junk, 0).Err()
			if err != nil {
				require.ErrorContains(t, err, "OOM")
				break
			}
			require.Less(t, i, 1000000)
		}
	}
}

func TestOutOfMemoryWritesNothing(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	c := faultClient(t, srv.Addr(), rjwt.WithMultiple(true), rjwt.WithPrefix("oom:"))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "full")
	require.NoError(t, err)
	pair, err := c.SignPair(ctx, "full")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)

	fill(t, admin)
	usedMemory := func() int64 {
		info, err := admin.Info(ctx, "memory").Result()
		require.NoError(t, err)
		v, err := strconv.ParseInt(strings.TrimSpace(strings.Split(strings.Split(info, "used_memory:")[1], "\n")[0]), 10, 64)
		require.NoError(t, err)
		return v
	}
	// At the limit: Redis checks memory when a script starts, so Signs
	// that start just under it may pass, the rest are refused whole, and
	// memory stays at the limit (before, 20,000 Signs took it to ×6.9).
	signed := 0
	for i := range 2000 {
		_, err := c.Sign(ctx, "full"+strconv.Itoa(i%10), rjwt.WithDataSession(map[string]int{"i": i}))
		if err == nil {
			signed++
			continue
		}
		require.ErrorIs(t, err, rjwt.ErrUnavailable)
		require.ErrorContains(t, err, "OOM")
	}
	used := usedMemory()
	t.Logf("2,000 Signs at the limit: %d passed, used_memory %d bytes for maxmemory %d", signed, used, 8<<20)
	assert.Less(t, used, int64(8<<20)+256<<10, "memory stays at the limit")

	// Well over the limit: every write is refused, and nothing is written.
	require.NoError(t, admin.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used-(1<<20), 10)).Err())
	keys := func() []string { k := keysUnder(t, admin, "oom:"); sort.Strings(k); return k }
	before := keys()
	for i := range 100 {
		_, err := c.Sign(ctx, "full"+strconv.Itoa(i%10), rjwt.WithDataSession(map[string]int{"i": i}))
		require.ErrorIs(t, err, rjwt.ErrUnavailable)
		require.ErrorContains(t, err, "OOM")
	}
	_, err = c.SignPair(ctx, "full")
	require.ErrorIs(t, err, rjwt.ErrUnavailable)
	_, err = c.Refresh(ctx, pair.RefreshToken)
	require.ErrorIs(t, err, rjwt.ErrUnavailable)
	require.NotErrorIs(t, err, rjwt.ErrRefreshReused)
	assert.Equal(t, before, keys(), "nothing written")

	// Reads and revocations still work: they free memory.
	_, err = c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	_, err = c.Sessions(ctx, "full")
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, cl.Session))
	_, err = c.Verify(ctx, tok)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	n, err := c.RevokeAll(ctx, "full")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// TestEvictionFailsClosed: under allkeys-lru Redis evicts what it likes.
// Whatever it evicted, a token that verifies is one RevokeAll ends, and single
// mode keeps one session.
func TestEvictionFailsClosed(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "16mb", "--maxmemory-policy", "allkeys-lru", "--maxmemory-samples", "10")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := context.Background()
	multi := faultClient(t, srv.Addr(), rjwt.WithMultiple(true), rjwt.WithPrefix("ev:"))
	e := nextEvent(t, multi, 5*time.Second, rjwt.EventError)
	assert.ErrorContains(t, e.Err, "allkeys-lru", "New reports a policy that can evict rjwt's keys")
	single := faultClient(t, srv.Addr(), rjwt.WithPrefix("ev:"))

	const users = 300
	toks := map[string][]string{}
	for u := range users {
		id := "u" + strconv.Itoa(u)
		for range 3 {
			tok, err := multi.Sign(ctx, id, rjwt.WithTTL("1 hour"))
			require.NoError(t, err)
			toks[id] = append(toks[id], tok)
		}
	}
	// Sessions are read on every request, indexes only at login: the LRU
	// favours sessions. Then junk pushes the memory over the limit.
	for _, list := range toks {
		for _, tok := range list {
			multi.Verify(ctx, tok)
		}
	}
	junk := strings.Repeat("j", 4<<10)
	for i := range 6000 {
		require.NoError(t, admin.Set(ctx, "junk:"+strconv.Itoa(i), junk, 0).Err())
	}
	info, _ := admin.Info(ctx, "stats").Result()
	evicted := strings.TrimSpace(strings.Split(strings.Split(info, "evicted_keys:")[1], "\n")[0])
	require.NotEqual(t, "0", evicted, "the test must make Redis evict")

	verifying, lost, seen := 0, 0, 0
	for id, list := range toks {
		seen++
		live := 0
		for _, tok := range list {
			if _, err := multi.Verify(ctx, tok); err == nil {
				live++
			} else {
				require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
				lost++
			}
		}
		verifying += live
		listed, err := multi.Sessions(ctx, id)
		require.NoError(t, err)
		assert.Len(t, listed, live, "every session that verifies is listed for %s", id)
		if live > 0 && seen%2 == 0 {
			// Single mode keeps exactly the new session.
			last, err := single.Sign(ctx, id)
			require.NoError(t, err)
			for _, tok := range list {
				_, err := multi.Verify(ctx, tok)
				require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "single mode replaced %s's sessions", id)
			}
			_, err = multi.Verify(ctx, last)
			require.NoError(t, err)
			continue
		}
		n, err := multi.RevokeAll(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, live, n, "RevokeAll counts what verified for %s", id)
		for _, tok := range list {
			_, err := multi.Verify(ctx, tok)
			require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "nothing of %s verifies after RevokeAll", id)
		}
	}
	t.Logf("evicted %s keys; %d tokens still verified, %d were logged out by eviction", evicted, verifying, lost)
}

// TestIndexScoresUseRedissClock: a host whose clock is far off cannot
// prune another host's live sessions, since no host's clock reaches Redis.
func TestIndexScoresUseRedissClock(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	_, err := c.Sign(ctx, "clock", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	now, err := c.Redis().Time(ctx).Result()
	require.NoError(t, err)
	list, err := c.Sessions(ctx, "clock")
	require.NoError(t, err)
	require.Len(t, list, 1)
	score, err := indexScore(ctx, c.Redis(), prefixOf(t, c), "clock", nanoOf(list[0].Session))
	require.NoError(t, err)
	assert.InDelta(t, now.Add(time.Hour).UnixMilli(), score, 2000, "score = Redis TIME + TTL")
}

func TestSizesAreRefusedBeforeRedis(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	good, err := c.Sign(ctx, "sizes")
	require.NoError(t, err)

	_, err = c.Sign(ctx, strings.Repeat("<", 512))
	onlySentinel(t, err, rjwt.ErrInvalidID)
	_, err = c.Sign(ctx, strings.Repeat("<", 85)) // 510 bytes in JSON
	require.NoError(t, err)
	tok, err := c.Sign(ctx, strings.Repeat("a", rjwt.MaxIDLength), rjwt.WithDataToken(strings.Repeat("d", 4000)))
	require.NoError(t, err, "a maximal id leaves room for data")
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)

	_, err = c.Sign(ctx, "sizes", rjwt.WithDataToken(strings.Repeat("d", 8000)))
	require.ErrorIs(t, err, rjwt.ErrTooLarge)
	_, err = c.Verify(ctx, good)
	require.NoError(t, err, "a refused Sign revoked nothing in single mode")

	_, err = c.Sign(ctx, "sizes", rjwt.WithDataSession(strings.Repeat("s", rjwt.DefaultMaxSessionData)))
	require.ErrorIs(t, err, rjwt.ErrTooLarge)
	cl, err := c.Verify(ctx, good)
	require.NoError(t, err)
	require.ErrorIs(t, c.SetSessionData(ctx, cl.Session, strings.Repeat("s", rjwt.DefaultMaxSessionData)), rjwt.ErrTooLarge)
	small := newClient(t, rjwt.WithMaxSessionData(100))
	_, err = small.Sign(ctx, "sizes", rjwt.WithDataSession(strings.Repeat("s", 200)))
	require.ErrorIs(t, err, rjwt.ErrTooLarge)
}

func TestSessionsPerUserAreCapped(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(3))
	ctx := context.Background()
	var toks []string
	for i := range 5 {
		tok, err := c.Sign(ctx, "capped", rjwt.WithTTL(strconv.Itoa(10+i)+" minutes"))
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	list, err := c.Sessions(ctx, "capped")
	require.NoError(t, err)
	assert.Len(t, list, 3)
	for i, tok := range toks {
		_, err := c.Verify(ctx, tok)
		if i < 2 {
			assert.ErrorIs(t, err, rjwt.ErrSessionNotFound, "the sessions nearest to expiry made room")
		} else {
			assert.NoError(t, err)
		}
	}
	_, err = rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithMaxSessions(-1))
	assert.Error(t, err)
}

// TestDeadlinesHoldOnASilentNetwork: a Redis that accepts connections but
// never answers (a partition, a hung server) costs a call its deadline, not
// more.
func TestDeadlinesHoldOnASilentNetwork(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	c := faultClient(t, px.Addr(), rjwt.WithHealthCheck(time.Hour))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "silent")
	require.NoError(t, err)
	px.SetBlackhole(true)
	px.CloseAll() // no pooled connection survives: the next call dials into the silence
	for _, d := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond} {
		cctx, cancel := context.WithTimeout(ctx, d)
		start := time.Now()
		_, err := c.Verify(cctx, tok)
		took := time.Since(start)
		cancel()
		require.ErrorIs(t, err, rjwt.ErrUnavailable)
		t.Logf("Verify with a %v deadline on a silent network: %v", d, took.Round(time.Millisecond))
		assert.Less(t, took, d+250*time.Millisecond, "the deadline bounds the call")
	}
	px.SetBlackhole(false)
}

// mustSession is the session a valid token names.
func mustSession(t *testing.T, c *rjwt.Client, tok string) string {
	t.Helper()
	cl, err := c.Verify(context.Background(), tok)
	require.NoError(t, err)
	return cl.Session
}
