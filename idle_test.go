package rjwt_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// sessionKeyOf is the Redis key of a session of a newClient client.
func sessionKeyOf(t *testing.T, c *rjwt.Client, id, session string) string {
	return prefixOf(t, c) + "{" + id + "}:" + nanoOf(session)
}

func pttl(t *testing.T, c *rjwt.Client, key string) time.Duration {
	t.Helper()
	d, err := keyPTTL(context.Background(), c.Redis(), key)
	require.NoError(t, err)
	return d
}

func TestIdleTimeoutEndsAnUnusedSessionInRedis(t *testing.T) {
	skipOnLean(t)
	srv := redistest.Start(t)
	c := eventClient(t, srv, rjwt.WithIdleTimeout("1 second"), rjwt.WithKeyspaceEvents(true), rjwt.WithMultiple(true))
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, c.WaitReady(wctx))

	tok, err := c.Sign(ctx, "idle", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	key := "rjwt:{idle}:" + nanoOf(cl.Session)
	left, err := keyPTTL(ctx, c.Redis(), key)
	require.NoError(t, err)
	assert.LessOrEqual(t, left, time.Second, "the key lives the idle window, not the token's hour")

	// Nobody uses it: Redis expires the key itself, which keyspace events
	// (and a cache's invalidation) see.
	e := nextEvent(t, c, 4*time.Second, rjwt.EventSessionExpired)
	assert.Equal(t, cl.Session, e.Session)
	there, err := keyExists(ctx, c.Redis(), key)
	require.NoError(t, err)
	assert.False(t, there, "the session's key is gone")
	_, err = c.Verify(ctx, tok)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	assert.WithinDuration(t, time.Now().Add(time.Hour), cl.ExpiresAt.Time, 5*time.Second, "though the token's exp is an hour away")
}

func TestIdleTimeoutExtendsAtMostOncePerHalfWindow(t *testing.T) {
	c := newClient(t, rjwt.WithIdleTimeout("2 seconds"))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "half", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	key := sessionKeyOf(t, c, "half", cl.Session)

	time.Sleep(400 * time.Millisecond)
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
	left := pttl(t, c, key)
	assert.Less(t, left, 1700*time.Millisecond, "over half the window left: not extended")

	time.Sleep(900 * time.Millisecond) // now under half is left
	require.Less(t, pttl(t, c, key), time.Second)
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
	left = pttl(t, c, key)
	assert.Greater(t, left, 1900*time.Millisecond, "extended to the whole window")
	assert.LessOrEqual(t, left, 2*time.Second)
	score, err := indexScore(ctx, c.Redis(), prefixOf(t, c), "half", nanoOf(cl.Session))
	require.NoError(t, err)
	tm, err := c.Redis().Time(ctx).Result()
	require.NoError(t, err)
	assert.InDelta(t, float64(tm.Add(left).UnixMilli()), score, 100, "the index score follows the key's expiry (Redis's clock)")
}

func TestIdleSessionInUseLivesOnThenEnds(t *testing.T) {
	c := newClient(t, rjwt.WithIdleTimeout("1 second"), rjwt.WithMultiple(true))
	ctx := context.Background()
	used, err := c.Sign(ctx, "busy", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	unused, err := c.Sign(ctx, "busy", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)

	// Traffic from several goroutines for three idle windows.
	var wg sync.WaitGroup
	stop := time.Now().Add(3 * time.Second)
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := c.Verify(ctx, used); err != nil {
					errs <- err
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a session in use ended: %v", err)
	}
	_, err = c.Verify(ctx, unused)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)

	// Traffic stops: the session ends within one window.
	time.Sleep(1100 * time.Millisecond)
	_, err = c.Verify(ctx, used)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}

func TestIdleExtensionNeverPassesTheTokensExpiry(t *testing.T) {
	c := newClient(t, rjwt.WithIdleTimeout("2 seconds"))
	ctx := context.Background()
	start := time.Now()
	tok, err := c.Sign(ctx, "capped", rjwt.WithTTL("3 seconds"))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	key := sessionKeyOf(t, c, "capped", cl.Session)
	for time.Since(start) < 2700*time.Millisecond {
		if _, err := c.Verify(ctx, tok); err != nil {
			break // the token's own exp (whole seconds) may come first
		}
		end := start.Add(3*time.Second + 100*time.Millisecond)
		left := pttl(t, c, key)
		assert.LessOrEqual(t, time.Now().Add(left), end, "extended past the session's absolute end")
		time.Sleep(150 * time.Millisecond)
	}
}

func TestRefreshIsAUseAndCannotReviveAnIdleSession(t *testing.T) {
	c := newClient(t, rjwt.WithIdleTimeout("1 second"))
	ctx := context.Background()
	p, err := c.SignPair(ctx, "rita", rjwt.WithTTL("1 hour"), rjwt.WithRefreshTTL("1 day"))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, p.Token)
	require.NoError(t, err)
	key := sessionKeyOf(t, c, "rita", cl.Session)

	time.Sleep(700 * time.Millisecond)
	p2, err := c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	assert.Greater(t, pttl(t, c, key), 900*time.Millisecond, "a rotation restarts the idle window")
	assert.LessOrEqual(t, pttl(t, c, key), time.Second, "and only the window: not the refresh TTL")

	time.Sleep(1200 * time.Millisecond)
	_, err = c.Refresh(ctx, p2.RefreshToken)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	_, err = c.Verify(ctx, p2.Token)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}

func TestAVerifierWithoutTheOptionExtendsToo(t *testing.T) {
	signer := newClient(t, rjwt.WithIdleTimeout("2 seconds"))
	verifier := newClient(t, rjwt.WithPrefix(prefixOf(t, signer)))
	plain := newClient(t, rjwt.WithPrefix(prefixOf(t, signer)))
	ctx := context.Background()
	tok, err := signer.Sign(ctx, "vic", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cl, err := verifier.Verify(ctx, tok)
	require.NoError(t, err)
	key := sessionKeyOf(t, signer, "vic", cl.Session)
	time.Sleep(1200 * time.Millisecond)
	_, err = verifier.Verify(ctx, tok)
	require.NoError(t, err)
	assert.Greater(t, pttl(t, signer, key), 1800*time.Millisecond, "the session's own window applies, whoever verifies")

	// A session signed without an idle timeout lives its TTL whoever verifies.
	tok2, err := plain.Sign(ctx, "vic2", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cl2, err := signer.Verify(ctx, tok2)
	require.NoError(t, err)
	assert.Greater(t, pttl(t, signer, sessionKeyOf(t, signer, "vic2", cl2.Session)), 59*time.Minute)
}

// TestVerifyOnAReadOnlyReplicaFallsBack: the seen script writes, so a
// replica refuses it; Verify answers from the read-only script instead.
func TestVerifyOnAReadOnlyReplicaFallsBack(t *testing.T) {
	master := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	signer := faultClient(t, master.Addr(), rjwt.WithIdleTimeout("1 minute"))
	reader := faultClient(t, replica.Addr())
	ctx := context.Background()
	tok, err := signer.Sign(ctx, "rory", rjwt.WithDataSession(map[string]int{"n": 1}))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := reader.Verify(ctx, tok)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the replica verifies once it has the session")
	cl, err := reader.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":1}`, string(cl.DataSession))
	require.NoError(t, signer.Revoke(ctx, cl.Session))
	require.Eventually(t, func() bool {
		_, err := reader.Verify(ctx, tok)
		return errors.Is(err, rjwt.ErrSessionNotFound)
	}, 5*time.Second, 20*time.Millisecond)
}

// TestIdleExtensionWorksOutOfMemory: Verify's writes never grow memory, so
// its script carries allow-oom: a session in use is extended while Redis
// refuses every Sign.
func TestIdleExtensionWorksOutOfMemory(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	c := faultClient(t, srv.Addr(), rjwt.WithIdleTimeout("2 seconds"), rjwt.WithPrefix("oomidle:"))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "full", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	fill(t, admin)
	_, err = c.Sign(ctx, "other")
	require.ErrorIs(t, err, rjwt.ErrUnavailable, "Redis is out of memory")

	time.Sleep(1200 * time.Millisecond)
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
	left, err := sessionPTTL(ctx, admin, "oomidle:", "full", nanoOf(cl.Session))
	require.NoError(t, err)
	assert.Greater(t, left, 1800*time.Millisecond, "extended out of memory")
}
