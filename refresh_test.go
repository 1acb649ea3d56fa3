package rjwt_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

func TestSignPairGivesAnAccessAndARefreshToken(t *testing.T) {
	eachTopology(t, testSignPairGivesAnAccessAndARefreshToken)
}

func testSignPairGivesAnAccessAndARefreshToken(t *testing.T, tp *topology) {
	c := tp.newClient(t)
	ctx := context.Background()
	p, err := c.SignPair(ctx, "pat", rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("7 days"),
		rjwt.WithDataToken(map[string]string{"role": "admin"}), rjwt.WithDataSession(map[string]int{"n": 1}))
	require.NoError(t, err)
	assert.Equal(t, 15*time.Minute, p.ExpiresIn)
	assert.Equal(t, 7*24*time.Hour, p.RefreshExpiresIn)

	claims, err := c.Verify(ctx, p.Token, rjwt.WithSession())
	require.NoError(t, err)
	assert.Equal(t, "pat", claims.ID)
	assert.Equal(t, 15*time.Minute, claims.TTL)
	assert.Empty(t, claims.Type)
	assert.Empty(t, claims.RefreshID, "the access token does not carry the refresh id")
	assert.JSONEq(t, `{"n":1}`, string(claims.DataSession))

	// Neither token is accepted in the other's place.
	_, err = c.Verify(ctx, p.RefreshToken)
	onlySentinel(t, err, rjwt.ErrInvalidToken)
	_, err = c.Refresh(ctx, p.Token)
	onlySentinel(t, err, rjwt.ErrInvalidToken)

	// The session lives as long as the refresh token.
	list, err := c.Sessions(ctx, "pat")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), list[0].ExpiresAt, 5*time.Second)

	b, err := json.Marshal(p)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, float64(900), m["expiresIn"])
	assert.Equal(t, float64(604800), m["refreshExpiresIn"])
	assert.Equal(t, p.Token, m["token"])
	assert.Equal(t, p.RefreshToken, m["refreshToken"])
	var back rjwt.Pair
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)
}

func TestSignPairRefusesBadRefreshTTL(t *testing.T) {
	c := newClient(t)
	for _, opts := range [][]rjwt.SignOption{
		{rjwt.WithRefreshTTL("whenever")},
		{rjwt.WithRefreshTTL("0s")},
		{rjwt.WithTTL("2 hours"), rjwt.WithRefreshTTL("1 hour")},
	} {
		_, err := c.SignPair(context.Background(), "u", opts...)
		onlySentinel(t, err, rjwt.ErrInvalidTTL)
	}
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)))
}

func TestRefreshRotatesAndSlides(t *testing.T) { eachTopology(t, testRefreshRotatesAndSlides) }

func testRefreshRotatesAndSlides(t *testing.T, tp *topology) {
	c := tp.newClient(t)
	ctx := context.Background()
	p1, err := c.SignPair(ctx, "quinn", rjwt.WithTTL("10 minutes"), rjwt.WithRefreshTTL("1 day"),
		rjwt.WithDataToken(map[string]string{"plan": "pro"}))
	require.NoError(t, err)
	c1, err := c.Verify(ctx, p1.Token)
	require.NoError(t, err)

	// Let the session's life run down, then refresh: it slides back.
	sessionKey := prefixOf(t, c) + "{quinn}:" + nanoOf(c1.Session)
	require.NoError(t, expireSession(ctx, c.Redis(), prefixOf(t, c), "quinn", nanoOf(c1.Session), time.Minute))

	time.Sleep(1100 * time.Millisecond) // a new iat, so new tokens differ
	p2, err := c.Refresh(ctx, p1.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, p1.Token, p2.Token)
	assert.NotEqual(t, p1.RefreshToken, p2.RefreshToken)
	assert.Equal(t, 10*time.Minute, p2.ExpiresIn)
	assert.Equal(t, 24*time.Hour, p2.RefreshExpiresIn)
	left, err := keyPTTL(ctx, c.Redis(), sessionKey)
	require.NoError(t, err)
	assert.InDelta(t, (24 * time.Hour).Seconds(), left.Seconds(), 5)

	c2, err := c.Verify(ctx, p2.Token)
	require.NoError(t, err)
	assert.Equal(t, c1.Session, c2.Session, "same session")
	assert.JSONEq(t, `{"plan":"pro"}`, string(c2.DataToken))
	assert.Equal(t, 10*time.Minute, c2.TTL)

	// The next rotation works from the new token.
	p3, err := c.Refresh(ctx, p2.RefreshToken)
	require.NoError(t, err)
	_, err = c.Verify(ctx, p3.Token)
	require.NoError(t, err)
}

func TestReusedRefreshTokenRevokesTheSession(t *testing.T) {
	eachTopology(t, testReusedRefreshTokenRevokesTheSession)
}

func testReusedRefreshTokenRevokesTheSession(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithRefreshGrace(0))
	ctx := context.Background()
	p1, err := c.SignPair(ctx, "rita")
	require.NoError(t, err)
	p2, err := c.Refresh(ctx, p1.RefreshToken) // the thief, say
	require.NoError(t, err)

	_, err = c.Refresh(ctx, p1.RefreshToken) // the victim comes back with the old one
	require.ErrorIs(t, err, rjwt.ErrRefreshReused)
	for _, s := range []error{rjwt.ErrInvalidToken, rjwt.ErrTokenExpired, rjwt.ErrSessionNotFound, rjwt.ErrInvalidTTL, rjwt.ErrInvalidID} {
		assert.NotErrorIs(t, err, s)
	}
	e := nextEvent(t, c, time.Second, rjwt.EventRefreshReused)
	cl, _ := c.Verify(ctx, p1.Token)
	assert.Nil(t, cl)
	assert.True(t, strings.HasPrefix(e.Session, "rita:"))

	// Every token of the session is dead.
	for _, tok := range []string{p1.Token, p2.Token} {
		_, err := c.Verify(ctx, tok)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
	}
	_, err = c.Refresh(ctx, p2.RefreshToken)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	list, err := c.Sessions(ctx, "rita")
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestStrictRefreshIsAtomicUnderConcurrency(t *testing.T) {
	eachTopology(t, testStrictRefreshIsAtomicUnderConcurrency)
}

func testStrictRefreshIsAtomicUnderConcurrency(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithRefreshGrace(0))
	ctx := context.Background()
	p, err := c.SignPair(ctx, "sam")
	require.NoError(t, err)

	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, results[i] = c.Refresh(ctx, p.RefreshToken)
		}()
	}
	close(start)
	wg.Wait()
	ok, reused, gone := 0, 0, 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, rjwt.ErrRefreshReused):
			reused++
		case errors.Is(err, rjwt.ErrSessionNotFound):
			gone++ // came after the reuse had revoked the session
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	assert.Equal(t, 1, ok, "exactly one refresh succeeds")
	assert.GreaterOrEqual(t, reused, 1, "the first late caller is taken for a thief")
	assert.Equal(t, n-1, reused+gone)
	list, err := c.Sessions(ctx, "sam")
	require.NoError(t, err)
	assert.Empty(t, list, "reuse revoked the session")
}

func TestRefreshGraceGivesConcurrentCallersTheSamePair(t *testing.T) {
	eachTopology(t, testRefreshGraceGivesConcurrentCallersTheSamePair)
}

func testRefreshGraceGivesConcurrentCallersTheSamePair(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithRefreshGrace(2*time.Second))
	ctx := context.Background()
	p, err := c.SignPair(ctx, "gail", rjwt.WithTTL("1 minute"))
	require.NoError(t, err)

	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	pairs := make([]rjwt.Pair, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			pairs[i], errs[i] = c.Refresh(ctx, p.RefreshToken)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "caller %d", i)
		assert.Equal(t, pairs[0], pairs[i], "caller %d gets the very same pair", i)
	}
	assert.NotEqual(t, p.RefreshToken, pairs[0].RefreshToken)
	_, err = c.Verify(ctx, pairs[0].Token)
	require.NoError(t, err)

	// The successor rotates on; the token before it is now two rotations old:
	// reuse, whatever the grace.
	next, err := c.Refresh(ctx, pairs[0].RefreshToken)
	require.NoError(t, err)
	_, err = c.Refresh(ctx, p.RefreshToken)
	onlySentinel(t, err, rjwt.ErrRefreshReused)
	_, err = c.Verify(ctx, next.Token)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}

func TestRefreshGraceEnds(t *testing.T) {
	c := newClient(t, rjwt.WithRefreshGrace(300*time.Millisecond))
	ctx := context.Background()
	p, err := c.SignPair(ctx, "gus")
	require.NoError(t, err)
	p2, err := c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	again, err := c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, p2, again, "within the grace: the same pair")
	time.Sleep(500 * time.Millisecond)
	_, err = c.Refresh(ctx, p.RefreshToken)
	onlySentinel(t, err, rjwt.ErrRefreshReused)
}

func TestRevokedSessionCannotRefresh(t *testing.T) { eachTopology(t, testRevokedSessionCannotRefresh) }

func testRevokedSessionCannotRefresh(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	p, err := c.SignPair(ctx, "tess")
	require.NoError(t, err)
	other, err := c.SignPair(ctx, "tess")
	require.NoError(t, err)
	cl, err := c.Verify(ctx, p.Token)
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, cl.Session))
	_, err = c.Refresh(ctx, p.RefreshToken)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	_, err = c.Refresh(ctx, other.RefreshToken)
	require.NoError(t, err, "the user's other session refreshes")

	_, err = c.Refresh(ctx, "garbage")
	onlySentinel(t, err, rjwt.ErrInvalidToken)
}

func TestSetSessionDataAndTouch(t *testing.T) { eachTopology(t, testSetSessionDataAndTouch) }

func testSetSessionDataAndTouch(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithIdleTimeout("10 seconds"))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "uma", rjwt.WithTTL("1 minute"), rjwt.WithDataSession(map[string]int{"views": 1}))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)

	require.NoError(t, c.SetSessionData(ctx, cl.Session, map[string]int{"views": 2}))
	got, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"views":2}`, string(got.DataSession))

	list, err := c.Sessions(ctx, "uma")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.WithinDuration(t, time.Now().Add(10*time.Second), list[0].ExpiresAt, 2*time.Second, "the idle window")
	require.NoError(t, c.Touch(ctx, cl.Session, time.Hour))
	list, err = c.Sessions(ctx, "uma")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Minute), list[0].ExpiresAt, 2*time.Second, "extended, but never past the token's expiry")
	require.NoError(t, c.Touch(ctx, cl.Session, 5*time.Second), "touch never shortens")
	list, err = c.Sessions(ctx, "uma")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Minute), list[0].ExpiresAt, 2*time.Second)
	assert.ErrorIs(t, c.Touch(ctx, cl.Session, time.Millisecond), rjwt.ErrInvalidTTL)

	require.NoError(t, c.Revoke(ctx, cl.Session))
	onlySentinel(t, c.SetSessionData(ctx, cl.Session, map[string]int{"views": 3}), rjwt.ErrSessionNotFound)
	onlySentinel(t, c.Touch(ctx, cl.Session, time.Hour), rjwt.ErrSessionNotFound)
	for _, k := range keysUnder(t, c.Redis(), prefixOf(t, c)) {
		assert.Contains(t, k, "}:op:", "neither call recreates the session; only Revoke's answer (kept 60s) is left")
	}
}
