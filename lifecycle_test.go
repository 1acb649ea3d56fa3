package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// The topologies the lifecycle's concurrency bars name: one node and a
// Cluster.
func eachOfSingleAndCluster(t *testing.T, fn func(t *testing.T, tp *topology)) {
	for _, name := range []string{"single", "cluster"} {
		t.Run(name, func(t *testing.T) { fn(t, useTopology(t, name)) })
	}
}

func TestAuthContextSurvivesRefresh(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	at := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	p, err := c.SignPair(ctx, "ac", rjwt.WithAuthTime(at), rjwt.WithAMR("pwd", "otp"))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, p.Token)
	require.NoError(t, err)
	require.NotNil(t, cl.AuthTime)
	assert.Equal(t, at.Unix(), cl.AuthTime.Unix())
	assert.Equal(t, []string{"pwd", "otp"}, cl.AMR)
	pl := payload(t, p.Token)
	assert.Equal(t, float64(at.Unix()), pl["auth_time"])
	assert.Equal(t, []any{"pwd", "otp"}, pl["amr"])

	p2, err := c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	cl2, err := c.Verify(ctx, p2.Token)
	require.NoError(t, err)
	require.NotNil(t, cl2.AuthTime)
	assert.Equal(t, at.Unix(), cl2.AuthTime.Unix(), "auth_time survives Refresh")
	assert.Equal(t, []string{"pwd", "otp"}, cl2.AMR, "amr survives Refresh")

	_, err = c.Verify(ctx, p2.Token, rjwt.RequireAuthWithin(time.Hour))
	require.NoError(t, err)
	_, err = c.Verify(ctx, p2.Token, rjwt.RequireAuthWithin(time.Minute))
	onlySentinel(t, err, rjwt.ErrStepUpRequired)
	var su *rjwt.StepUpError
	require.True(t, errors.As(err, &su))
	assert.Equal(t, time.Minute, su.MaxAge)
	assert.InDelta(t, (10 * time.Minute).Seconds(), su.AuthAge.Seconds(), 5)
}

func TestAuthTimeDefaultsToTheSign(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "ac2")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok, rjwt.RequireAuthWithin(time.Second))
	require.NoError(t, err)
	require.NotNil(t, cl.AuthTime)
	assert.Equal(t, cl.IssuedAt.Unix(), cl.AuthTime.Unix())
	assert.Nil(t, cl.AMR)
	assert.NotContains(t, payload(t, tok), "amr")
}

func TestAuthContextIsValidated(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	for name, opt := range map[string]rjwt.SignOption{
		"zero time":     rjwt.WithAuthTime(time.Time{}),
		"future time":   rjwt.WithAuthTime(time.Now().Add(time.Hour)),
		"empty method":  rjwt.WithAMR("pwd", ""),
		"long method":   rjwt.WithAMR(string(make([]byte, rjwt.MaxAMRLength+1))),
		"quote":         rjwt.WithAMR(`p"wd`),
		"space":         rjwt.WithAMR("p wd"),
		"too many":      rjwt.WithAMR("a", "b", "c", "d", "e", "f", "g", "h", "i"),
		"non-ASCII amr": rjwt.WithAMR("pwé"),
	} {
		_, err := c.Sign(ctx, "bad-ac", opt)
		onlySentinel(t, err, rjwt.ErrInvalidAuthContext)
		_ = name
	}
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)), "nothing written")
}

func TestRequireAuthWithinRefusesATokenWithoutAuthTime(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "old-token")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	cl.AuthTime = nil // a token from before auth_time
	forged := forge(t, jwt.SigningMethodHS256, cl, testSecret)
	_, err = c.Verify(ctx, forged)
	require.NoError(t, err)
	_, err = c.Verify(ctx, forged, rjwt.RequireAuthWithin(time.Hour))
	onlySentinel(t, err, rjwt.ErrStepUpRequired)
}

func TestReissueKeepsTheLogin(t *testing.T) { eachOfSingleAndCluster(t, testReissueKeepsTheLogin) }

func testReissueKeepsTheLogin(t *testing.T, tp *topology) {
	c := tp.newClient(t)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	p, err := c.SignPair(ctx, "re", rjwt.WithTTL("10 minutes"), rjwt.WithRefreshTTL("2 days"),
		rjwt.WithDataSession(map[string]int{"n": 7}), rjwt.WithMeta(map[string]string{"ua": "phone"}),
		rjwt.WithAuthTime(at), rjwt.WithAMR("pwd"))
	require.NoError(t, err)
	old, err := c.Verify(ctx, p.Token)
	require.NoError(t, err)

	np, err := c.Reissue(ctx, old.Session, rjwt.WithAMR("pwd", "otp"))
	require.NoError(t, err)
	require.NotEmpty(t, np.RefreshToken, "the old session had a refresh token")
	assert.Equal(t, 10*time.Minute, np.ExpiresIn, "the old access TTL")
	assert.InDelta(t, (48 * time.Hour).Seconds(), np.RefreshExpiresIn.Seconds(), 5, "the remaining life")

	_, err = c.Verify(ctx, p.Token)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	var ended *rjwt.SessionEndedError
	require.True(t, errors.As(err, &ended))
	assert.Equal(t, rjwt.EndReissued, ended.Reason)

	cl, err := c.Verify(ctx, np.Token, rjwt.WithSession())
	require.NoError(t, err)
	assert.NotEqual(t, old.Session, cl.Session)
	assert.JSONEq(t, `{"n":7}`, string(cl.DataSession))
	assert.Equal(t, at.Unix(), cl.AuthTime.Unix())
	assert.Equal(t, []string{"pwd", "otp"}, cl.AMR)
	list, err := c.Sessions(ctx, "re")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, cl.Session, list[0].Session)
	assert.Equal(t, map[string]string{"ua": "phone"}, list[0].Meta)

	rp, err := c.Refresh(ctx, np.RefreshToken)
	require.NoError(t, err, "the reissued refresh token works")
	rc, err := c.Verify(ctx, rp.Token)
	require.NoError(t, err)
	assert.Equal(t, cl.Session, rc.Session)
	assert.Equal(t, at.Unix(), rc.AuthTime.Unix())

	_, err = c.Reissue(ctx, old.Session)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}

func TestReissueOfASessionWithoutRefreshToken(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "re2", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	other, err := c.Sign(ctx, "re2")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	np, err := c.Reissue(ctx, cl.Session, rjwt.WithDataSession("admin"))
	require.NoError(t, err)
	assert.Empty(t, np.RefreshToken)
	assert.InDelta(t, time.Hour.Seconds(), np.ExpiresIn.Seconds(), 5)
	nc, err := c.Verify(ctx, np.Token, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `"admin"`, string(nc.DataSession))
	_, err = c.Verify(ctx, other)
	require.NoError(t, err, "the user's other session is untouched")
	_, err = c.Reissue(ctx, cl.Session)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	st := c.Stats()
	assert.Equal(t, rjwt.OpStats{OK: 1, Revoked: 1}, st.Reissue)
	assert.Equal(t, st.Reissue, st.Op(rjwt.OpReissue))
	assert.Equal(t, "revoke_others", rjwt.OpRevokeOthers.String())
}

func TestReissueInSingleModeIsTheSameLogin(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "re3")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	np, err := c.Reissue(ctx, cl.Session)
	require.NoError(t, err)
	_, err = c.Verify(ctx, np.Token)
	require.NoError(t, err)
	// A later login still replaces it, as it would the original.
	newer, err := c.Sign(ctx, "re3")
	require.NoError(t, err)
	_, err = c.Verify(ctx, np.Token)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	_, err = c.Verify(ctx, newer)
	require.NoError(t, err)
}

func TestRevokeOthersKeepsThisSession(t *testing.T) {
	eachOfSingleAndCluster(t, testRevokeOthersKeepsThisSession)
}

func testRevokeOthersKeepsThisSession(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	var toks []string
	for i := 0; i < 4; i++ {
		tok, err := c.Sign(ctx, "ro")
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	bystander, err := c.Sign(ctx, "ro2")
	require.NoError(t, err)
	me, err := c.Verify(ctx, toks[2])
	require.NoError(t, err)
	n, err := c.RevokeOthers(ctx, me.Session)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for i, tok := range toks {
		_, err := c.Verify(ctx, tok)
		if i == 2 {
			require.NoError(t, err)
			continue
		}
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
		var ended *rjwt.SessionEndedError
		require.True(t, errors.As(err, &ended))
		assert.Equal(t, rjwt.EndOtherDevice, ended.Reason)
		assert.Contains(t, err.Error(), "ended by a logout of other devices")
	}
	_, err = c.Verify(ctx, bystander)
	require.NoError(t, err, "another user's session is untouched")
	n, err = c.RevokeOthers(ctx, me.Session)
	require.NoError(t, err)
	assert.Zero(t, n)

	require.NoError(t, c.Revoke(ctx, me.Session))
	_, err = c.RevokeOthers(ctx, me.Session)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}

// TestRevokeOthersRacingASign: either order's outcome, never a mix.
func TestRevokeOthersRacingASign(t *testing.T) {
	eachOfSingleAndCluster(t, testRevokeOthersRacingASign)
}

func testRevokeOthersRacingASign(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	orders := map[string]int{}
	for round := 0; round < 30; round++ {
		user := fmt.Sprintf("race-%d", round)
		keep, err := c.Sign(ctx, user)
		require.NoError(t, err)
		_, err = c.Sign(ctx, user)
		require.NoError(t, err)
		me, err := c.Verify(ctx, keep)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var n int
		var newTok string
		var rErr, sErr error
		wg.Add(2)
		go func() { defer wg.Done(); n, rErr = c.RevokeOthers(ctx, me.Session) }()
		go func() { defer wg.Done(); newTok, sErr = c.Sign(ctx, user) }()
		wg.Wait()
		require.NoError(t, rErr)
		require.NoError(t, sErr)
		_, vErr := c.Verify(ctx, newTok)
		list, err := c.Sessions(ctx, user)
		require.NoError(t, err)
		switch n {
		case 2: // the Sign ran first: its session was ended with the other
			onlySentinel(t, vErr, rjwt.ErrSessionNotFound)
			assert.Len(t, list, 1)
			orders["sign first"]++
		case 1: // RevokeOthers ran first: the new session lives
			require.NoError(t, vErr)
			assert.Len(t, list, 2)
			orders["revoke first"]++
		default:
			t.Fatalf("RevokeOthers ended %d sessions", n)
		}
	}
	t.Logf("orders seen: %v", orders)
}

func TestEndReasons(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, rjwt.WithMultiple(true))
	reason := func(tok string) rjwt.EndReason {
		_, err := c.Verify(ctx, tok)
		var e *rjwt.SessionEndedError
		require.True(t, errors.As(err, &e), "%v", err)
		return e.Reason
	}
	a, _ := c.Sign(ctx, "why")
	b, _ := c.Sign(ctx, "why")
	ca, _ := c.Verify(ctx, a)
	require.NoError(t, c.Revoke(ctx, ca.Session))
	assert.Equal(t, rjwt.EndRevoked, reason(a))
	_, err := c.RevokeAll(ctx, "why")
	require.NoError(t, err)
	assert.Equal(t, rjwt.EndRevokedAll, reason(b))

	s := newClient(t, rjwt.WithRefreshGrace(0))
	x, _ := s.Sign(ctx, "why2")
	_, _ = s.Sign(ctx, "why2")
	_, err = s.Verify(ctx, x)
	var e *rjwt.SessionEndedError
	require.True(t, errors.As(err, &e))
	assert.Equal(t, rjwt.EndNewerLogin, e.Reason)
	assert.Contains(t, err.Error(), "ended by a newer login")

	p, err := s.SignPair(ctx, "why3")
	require.NoError(t, err)
	_, err = s.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	_, err = s.Refresh(ctx, p.RefreshToken)
	require.ErrorIs(t, err, rjwt.ErrRefreshReused)
	_, err = s.Verify(ctx, p.Token)
	require.True(t, errors.As(err, &e))
	assert.Equal(t, rjwt.EndRefreshReuse, e.Reason)
}

// TestSentinelsAreDistinct: every sentinel, the lifecycle's included, is
// none of the others; the lifecycle's error types are their one sentinel.
func TestSentinelsAreDistinct(t *testing.T) {
	all := []error{rjwt.ErrInvalidToken, rjwt.ErrTokenExpired, rjwt.ErrSessionNotFound, rjwt.ErrInvalidTTL,
		rjwt.ErrInvalidID, rjwt.ErrUnavailable, rjwt.ErrTooLarge, rjwt.ErrRefreshReused, rjwt.ErrNoSigningKey,
		rjwt.ErrDataType, rjwt.ErrKeyNotFound, rjwt.ErrNoData, rjwt.ErrClosed,
		rjwt.ErrStepUpRequired, rjwt.ErrTooManySessions, rjwt.ErrLoginSuperseded, rjwt.ErrInvalidAuthContext}
	for i, a := range all {
		for j, b := range all {
			if i != j {
				assert.False(t, errors.Is(a, b), "%v is %v", a, b)
			}
		}
	}
	typed := map[error]error{
		&rjwt.StepUpError{MaxAge: time.Minute}:                    rjwt.ErrStepUpRequired,
		&rjwt.SessionEndedError{Reason: rjwt.EndRevoked}:          rjwt.ErrSessionNotFound,
		fmt.Errorf("wrapped: %w", &rjwt.SessionEndedError{}):      rjwt.ErrSessionNotFound,
		fmt.Errorf("wrapped: %w", &rjwt.StepUpError{AuthAge: -1}): rjwt.ErrStepUpRequired,
	}
	for err, want := range typed {
		for _, s := range all {
			assert.Equal(t, s == want, errors.Is(err, s), "%v and %v", err, s)
		}
	}
}

// TestConcurrentReissuesMakeOneSession: of ten Reissues of one session at
// once, one makes the new session; the rest find the old one ended.
func TestConcurrentReissuesMakeOneSession(t *testing.T) {
	eachOfSingleAndCluster(t, func(t *testing.T, tp *topology) {
		c := tp.newClient(t, rjwt.WithIdleTimeout("30 minutes"))
		ctx := context.Background()
		p, err := c.SignPair(ctx, "twice")
		require.NoError(t, err)
		cl, err := c.Verify(ctx, p.Token)
		require.NoError(t, err)
		var wg sync.WaitGroup
		results := make([]error, 10)
		pairs := make([]rjwt.Pair, 10)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); pairs[i], results[i] = c.Reissue(ctx, cl.Session) }()
		}
		wg.Wait()
		won := 0
		for i, err := range results {
			if err == nil {
				won++
				nc, err := c.Verify(ctx, pairs[i].Token)
				require.NoError(t, err)
				fields, err := sessionFields(ctx, c.Redis(), prefixOf(t, c), "twice", nanoOf(nc.Session))
				require.NoError(t, err)
				assert.Contains(t, fields, "i", "the idle timeout is kept")
				assert.Contains(t, fields, "x", "and the absolute end")
				continue
			}
			onlySentinel(t, err, rjwt.ErrSessionNotFound)
		}
		assert.Equal(t, 1, won)
		list, err := c.Sessions(ctx, "twice")
		require.NoError(t, err)
		assert.Len(t, list, 1)
	})
}

// TestLifecycleWithTheLocalCache: a client's own Reissue and RevokeOthers
// drop the ended sessions from its local cache at once, and another
// process's are seen through Redis's invalidations.
func TestLifecycleWithTheLocalCache(t *testing.T) {
	srv := redistest.Start(t)
	c := cachedClient(t, srv.Addr(), rjwt.WithMultiple(true))
	other := plainClient(t, srv.Addr(), rjwt.WithMultiple(true))
	waitReady(t, c)
	ctx := context.Background()
	a, err := c.Sign(ctx, "cached")
	require.NoError(t, err)
	b, err := c.Sign(ctx, "cached")
	require.NoError(t, err)
	ca, err := c.Verify(ctx, a)
	require.NoError(t, err)
	_, err = c.Verify(ctx, b) // cached now
	require.NoError(t, err)
	n, err := c.RevokeOthers(ctx, ca.Session)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = c.Verify(ctx, b)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	np, err := c.Reissue(ctx, ca.Session)
	require.NoError(t, err)
	_, err = c.Verify(ctx, a)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	nc, err := c.Verify(ctx, np.Token) // cached now
	require.NoError(t, err)
	_, err = other.Reissue(ctx, nc.Session)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := c.Verify(ctx, np.Token); return errors.Is(err, rjwt.ErrSessionNotFound) },
		5*time.Second, 10*time.Millisecond, "another process's Reissue reaches the cache")
}
