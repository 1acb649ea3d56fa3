package rjwt_test

// Attacks on the reshaped Redis layer (issue 7): each test is a finding, and
// fails until it is fixed. Every test runs against a private redis-server.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gonanoid "github.com/matoous/go-nanoid/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// retryingApp is an application's own go-redis client through px, with
// go-redis's retries on (the documented WithRedisClient path: "its client
// retries as configured") and a backoff long enough for the test to act
// between a lost reply and its retry. go-redis's default backoff is 8..512ms.
func retryingApp(t *testing.T, addr string, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1,
		MinRetryBackoff: 500 * time.Millisecond, MaxRetryBackoff: 500 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithRedisClient(rdb), rjwt.WithHealthCheck(time.Hour)}
	c, err := rjwt.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

type signResult struct {
	tok string
	err error
}

// TestAttackSignReplayAfterRevokeAllResurrectsSession: Sign's script knows
// its own earlier run only by "the session hash exists". A Sign whose reply
// was lost, retried after a RevokeAll (logout everywhere, e.g. a password
// change) deleted that very session, finds no hash and creates it again: a
// session RevokeAll counted as ended verifies again, and the client that
// signed holds its token.
func TestAttackSignReplayAfterRevokeAllResurrectsSession(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	ctx := context.Background()
	app := retryingApp(t, px.Addr(), rjwt.WithMultiple(true))
	admin := faultClient(t, srv.Addr(), rjwt.WithMultiple(true))
	_, err := app.Sign(ctx, "warm") // loads the script: the dropped reply is the real run's
	require.NoError(t, err)

	drop := px.DropReplyTo("{victim}:idx")
	done := make(chan signResult, 1)
	go func() { tok, err := app.Sign(ctx, "victim"); done <- signResult{tok, err} }()
	fired(t, drop)
	require.Eventually(t, func() bool { l, _ := admin.Sessions(ctx, "victim"); return len(l) == 1 },
		time.Second, 5*time.Millisecond, "Redis ran the Sign")
	n, err := admin.RevokeAll(ctx, "victim") // while go-redis backs off before its retry
	require.NoError(t, err)
	require.Equal(t, 1, n, "RevokeAll ended the session")

	r := <-done
	require.NoError(t, r.err)
	_, err = admin.Verify(ctx, r.tok)
	assert.ErrorIs(t, err, rjwt.ErrSessionNotFound, "a session RevokeAll ended must never verify again")
	list, err := admin.Sessions(ctx, "victim")
	require.NoError(t, err)
	assert.Empty(t, list, "RevokeAll said the user has no session left")
}

// TestAttackSingleModeSignReplayEndsTheNewerLogin: in single mode a Sign
// whose reply was lost, retried after a newer Sign of the same user replaced
// it, recreates the older session and ends the newer one: the user's later
// login is logged out by a stale retry, and two clients believe they hold
// the one session.
func TestAttackSingleModeSignReplayEndsTheNewerLogin(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	ctx := context.Background()
	app := retryingApp(t, px.Addr())
	other := faultClient(t, srv.Addr())
	_, err := app.Sign(ctx, "warm")
	require.NoError(t, err)

	drop := px.DropReplyTo("{solo}:idx")
	done := make(chan signResult, 1)
	go func() { tok, err := app.Sign(ctx, "solo"); done <- signResult{tok, err} }()
	fired(t, drop)
	require.Eventually(t, func() bool { l, _ := other.Sessions(ctx, "solo"); return len(l) == 1 },
		time.Second, 5*time.Millisecond, "Redis ran the first Sign")
	newer, err := other.Sign(ctx, "solo") // the user's next login replaces it
	require.NoError(t, err)
	r := <-done
	require.NoError(t, r.err)

	_, err = other.Verify(ctx, newer)
	assert.NoError(t, err, "the newest login must stand: the first Sign ran before it")
	_, err = other.Verify(ctx, r.tok)
	assert.ErrorIs(t, err, rjwt.ErrSessionNotFound, "the replaced session must stay replaced")
}

// TestAttackRevokeAnswerKeysGrowMemoryUnderOOM: revoke.lua carries
// allow-oom and always writes its 60s answer key, also when it ended
// nothing. Under noeviction with memory full, every Revoke of an ended
// session (a logout replayed with an old token, a client retrying its
// logout) adds a key: memory grows past maxmemory, which only Redis's
// writes refused should prevent. Out of OOM the same keys are 60 s of
// memory per Revoke.
func TestAttackRevokeAnswerKeysGrowMemoryUnderOOM(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := context.Background()
	c := faultClient(t, srv.Addr(), rjwt.WithMultiple(true))
	usedMemory := func() int64 {
		info, err := admin.Info(ctx, "memory").Result()
		require.NoError(t, err)
		v := strings.TrimSpace(strings.Split(strings.Split(info, "used_memory:")[1], "\n")[0])
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		return n
	}
	junk := strings.Repeat("j", 1024)
	for i := 0; ; i++ {
		if err := admin.Set(ctx, "junk:"+strconv.Itoa(i), junk, 0).Err(); err != nil {
			require.ErrorContains(t, err, "OOM")
			break
		}
	}
	// Warm the script cache before measuring.
	require.ErrorIs(t, c.Revoke(ctx, "ghost:"+gonanoid.Must()), rjwt.ErrSessionNotFound)
	before := usedMemory()

	const workers, each = 4, 2500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := c.Revoke(ctx, "ghost:"+gonanoid.Must()); !assert.ErrorIs(t, err, rjwt.ErrSessionNotFound) {
					return
				}
			}
		}()
	}
	wg.Wait()
	after := usedMemory()
	t.Logf("%d Revokes of ended sessions with memory full: used_memory %d -> %d (maxmemory %d)", workers*each, before, after, 4<<20)
	assert.Less(t, after, before+128<<10, "a Revoke that ended nothing must not grow a full Redis")
	require.ErrorContains(t, admin.Set(ctx, "probe", "x", 0).Err(), "OOM", "Redis is still full")
}

// TestAttackRefreshAfterKeyRotationMakesTokensThatNeverVerify: SignPair
// measures its tokens against MaxTokenSize, but Refresh never does. After a
// key rotation (a signing key with a kid, or an algorithm with a longer
// signature) a session whose tokens were near the limit rotates in Redis
// (spending the refresh token) and gets a pair Verify refuses as too large.
// Refresh should refuse before touching Redis (ErrTooLarge), like Sign.
func TestAttackRefreshAfterKeyRotationMakesTokensThatNeverVerify(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	before := faultClient(t, srv.Addr())
	// The largest WithDataToken SignPair accepts.
	lo, hi := 0, rjwt.MaxTokenSize
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := before.SignPair(ctx, "near-limit", rjwt.WithDataToken(strings.Repeat("d", mid))); err == nil {
			lo = mid
		} else {
			require.ErrorIs(t, err, rjwt.ErrTooLarge)
			hi = mid - 1
		}
	}
	pair, err := before.SignPair(ctx, "near-limit", rjwt.WithDataToken(strings.Repeat("d", lo)))
	require.NoError(t, err)
	_, err = before.Verify(ctx, pair.Token)
	require.NoError(t, err)

	// Step 2 of the documented rotation: a new signing key, the old one
	// kept for verification.
	newSecret := []byte("fedcba9876543210fedcba9876543210")
	after, err := rjwt.New(rjwt.WithSigningKey("2026-q1", newSecret), rjwt.WithVerificationKey("", testSecret), rjwt.WithAddr(srv.Addr()))
	require.NoError(t, err)
	defer after.Close()
	p2, err := after.Refresh(ctx, pair.RefreshToken)
	if err != nil {
		require.ErrorIs(t, err, rjwt.ErrTooLarge, "refused before Redis")
		_, err = before.Refresh(ctx, pair.RefreshToken)
		assert.NoError(t, err, "a refusal before Redis leaves the refresh token usable")
		return
	}
	assert.LessOrEqual(t, len(p2.Token), rjwt.MaxTokenSize, "Refresh returned an access token Verify refuses")
	assert.LessOrEqual(t, len(p2.RefreshToken), rjwt.MaxTokenSize, "Refresh returned a refresh token it will refuse")
	_, err = after.Verify(ctx, p2.Token)
	assert.NoError(t, err, "the access token Refresh returned must verify")
	_, err = after.Refresh(ctx, p2.RefreshToken)
	assert.NoError(t, err, "the refresh token Refresh returned must refresh: the session is lost otherwise")
}

// TestAttackGracePairIsNotTheSameStringsWithES256: Refresh's doc promises
// that within the grace the replaced refresh token gets "the very pair the
// rotation made (the same strings)". ECDSA signatures are randomised, so
// with an ES256 key the second answer carries other strings: a client or
// cache that dedupes by token string sees two pairs.
func TestGracePairIsTheSameStringsWithES256(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c, err := rjwt.New(rjwt.WithSigningKey("es", pk), rjwt.WithAddr(srv.Addr()))
	require.NoError(t, err)
	defer c.Close()
	p, err := c.SignPair(ctx, "tabs")
	require.NoError(t, err)
	a, err := c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	b, err := c.Refresh(ctx, p.RefreshToken) // the second tab, within the grace
	require.NoError(t, err)
	assert.Equal(t, a.Token, b.Token, "the same access token string")
	assert.Equal(t, a.RefreshToken, b.RefreshToken, "the same refresh token string")
}

// TestAttackOneBrokenProbeConnectionMarksRedisDown: the prober does not
// retry a PING whose connection broke (a load balancer's idle reset, CLIENT
// KILL, Redis's own idle timeout closing it as the PING goes out). One such
// PING marks Redis down: every call fails at once with ErrUnavailable and
// EventDisconnected is sent, while Redis and every other connection are
// fine. Calls themselves retry a broken connection; the probe should too.
func TestAttackOneBrokenProbeConnectionMarksRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	ctx := context.Background()
	c := faultClient(t, px.Addr())
	tok, err := c.Sign(ctx, "probe-reset")
	require.NoError(t, err)
	nextEvent(t, c, 5*time.Second, rjwt.EventReady)

	drop := px.DropReplyTo("ping") // the next health check's connection breaks
	fired(t, drop)
	failed := 0
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := c.Verify(ctx, tok); err != nil {
			require.ErrorIs(t, err, rjwt.ErrUnavailable)
			failed++
		}
		time.Sleep(time.Millisecond)
	}
	assert.Zero(t, failed, "Verifies failed with Redis up: one broken connection made the client fail fast")
	noEvent(t, c, 100*time.Millisecond, rjwt.EventDisconnected)
}

// TestAttackTimedOutSignRunsLateAndEndsTheNewerLogin: a Sign that timed out
// on a silent network (a partition) is still in TCP's queue; when the
// network heals Redis runs it. In single mode that late run ends the
// session the user made since with a second login that succeeded: the user
// is logged out by the login that failed. Sign's doc says only that "the
// session may exist unused until its TTL". A fix needs the script to refuse
// a run past the call's deadline (passed in, with a skew margin), or the
// caller to revoke the session a failed Sign may have made.
func TestAttackTimedOutSignRunsLateAndEndsTheNewerLogin(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	ctx := context.Background()
	app := faultClient(t, px.Addr(), rjwt.WithHealthCheck(time.Hour))
	other := faultClient(t, srv.Addr())
	_, err := app.Sign(ctx, "warm")
	// The late run arrives within the clock-skew margin of its deadline (the
	// partition heals at once): Sign's issue time decides, and the newer
	// login wins.
	require.NoError(t, err)

	px.SetBlackhole(true)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = app.Sign(cctx, "late")
	cancel()
	require.ErrorIs(t, err, rjwt.ErrUnavailable, "the login failed")
	newer, err := other.Sign(ctx, "late") // the user logs in again, through another instance
	require.NoError(t, err)
	px.SetBlackhole(false) // the partition heals: TCP delivers what it held
	time.Sleep(300 * time.Millisecond)
	_, err = other.Verify(ctx, newer)
	assert.NoError(t, err, "a Sign that failed must not end the login that succeeded after it")
}

// TestAttackTimedOutRefreshRunsLateAndRevokesTheSession: the Refresh
// counterpart, and worse: a Refresh that timed out on a partition is retried
// by the client (the documented answer to ErrUnavailable) and succeeds;
// when the partition heals after the grace, Redis runs the first Refresh,
// which presents the replaced id with a successor that is not current, and
// takes itself for a thief: the session is revoked, and the user with it.
func TestAttackTimedOutRefreshRunsLateAndRevokesTheSession(t *testing.T) {
	srv := redistest.Start(t)
	px := redistest.StartProxy(t, srv.Addr())
	ctx := context.Background()
	const grace = 200 * time.Millisecond
	// The leeway (the tolerated clock skew) is shorter than the partition:
	// the late run arrives after its deadline plus the skew and is refused.
	// (With the defaults, a grace at least the leeway, a late run within the
	// skew finds the retry's rotation within the grace: harmless.)
	app := faultClient(t, px.Addr(), rjwt.WithHealthCheck(time.Hour), rjwt.WithRefreshGrace(grace), rjwt.WithLeeway(100*time.Millisecond))
	other := faultClient(t, srv.Addr(), rjwt.WithRefreshGrace(grace))
	warm, err := app.SignPair(ctx, "warm")
	require.NoError(t, err)
	_, err = app.Refresh(ctx, warm.RefreshToken) // loads the script
	require.NoError(t, err)
	p, err := other.SignPair(ctx, "late-refresh")
	require.NoError(t, err)

	px.SetBlackhole(true)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = app.Refresh(cctx, p.RefreshToken)
	cancel()
	require.ErrorIs(t, err, rjwt.ErrUnavailable)
	p2, err := other.Refresh(ctx, p.RefreshToken) // the client tries again, and gets through
	require.NoError(t, err)
	time.Sleep(2 * grace)
	px.SetBlackhole(false) // the partition heals: Redis runs the first Refresh now
	time.Sleep(300 * time.Millisecond)
	_, err = other.Verify(ctx, p2.Token)
	assert.NoError(t, err, "the session the client refreshed must live")
}
