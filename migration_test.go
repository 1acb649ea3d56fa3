package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// layoutPair is a classic and a lean client on one Redis and one prefix: the
// same deployment before and after a switch to the lean layout. It skips
// where the server lacks hash-field expiry.
func layoutPair(t *testing.T, opts ...rjwt.Option) (classic, lean *rjwt.Client) {
	t.Helper()
	classic = newClient(t, append(opts, rjwt.WithLayout(rjwt.LayoutClassic))...)
	lean, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithRedisClient(classic.Redis()),
		rjwt.WithPrefix(prefixOf(t, classic)), rjwt.WithLayout(rjwt.LayoutLean)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { lean.Close() })
	if _, err := lean.Layout(context.Background()); err != nil {
		require.ErrorIs(t, err, rjwt.ErrNoFieldExpiry)
		t.Skip("the server has no hash-field expiry (run with Redis 7.4+ or Valkey 9 on PATH)")
	}
	return classic, lean
}

// TestLeanClientServesClassicSessions: after a switch to the lean layout,
// the sessions the classic layout wrote keep verifying, listing, refreshing
// and revoking until they expire, and every user-wide rule (RevokeAll,
// single mode, the cap) counts them.
func TestLeanClientServesClassicSessions(t *testing.T) {
	ctx := context.Background()
	classic, lean := layoutPair(t, rjwt.WithMultiple(true), rjwt.WithRefreshGrace(0))
	l, err := classic.Layout(ctx)
	require.NoError(t, err)
	require.Equal(t, rjwt.LayoutClassic, l)

	old, err := classic.SignPair(ctx, "mig", rjwt.WithDataSession(map[string]int{"n": 1}), rjwt.WithMeta(map[string]string{"ua": "old"}))
	require.NoError(t, err)
	plain, err := classic.Sign(ctx, "mig")
	require.NoError(t, err)
	fresh, err := lean.Sign(ctx, "mig", rjwt.WithMeta(map[string]string{"ua": "new"}))
	require.NoError(t, err)

	// Verify, with data, and the list, across both layouts.
	cl, err := lean.Verify(ctx, old.Token, rjwt.WithSession())
	require.NoError(t, err, "a classic session verifies on the lean client")
	assert.JSONEq(t, `{"n":1}`, string(cl.DataSession))
	list, err := lean.Sessions(ctx, "mig")
	require.NoError(t, err)
	assert.Len(t, list, 3, "Sessions lists both layouts' sessions")
	metas := map[string]bool{}
	for _, s := range list {
		metas[s.Meta["ua"]] = true
		assert.Greater(t, s.ExpiresAt, time.Now())
	}
	assert.True(t, metas["old"] && metas["new"], "%v", list)
	_, err = classic.Verify(ctx, fresh)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "the classic layout does not see lean sessions (docs/layouts.md)")

	// Data updates and refresh rotation of a classic session.
	require.NoError(t, lean.SetSessionData(ctx, cl.Session, map[string]int{"n": 2}))
	cl, err = classic.Verify(ctx, old.Token, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":2}`, string(cl.DataSession), "written to the classic hash")
	next, err := lean.Refresh(ctx, old.RefreshToken)
	require.NoError(t, err)
	_, err = lean.Verify(ctx, next.Token)
	require.NoError(t, err)
	_, err = lean.Refresh(ctx, old.RefreshToken)
	require.ErrorIs(t, err, rjwt.ErrRefreshReused, "theft detection on a classic session")
	_, err = lean.Verify(ctx, next.Token)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "reuse ended the session")

	// Revoke one classic session, then RevokeAll counts both layouts.
	pc, err := lean.Verify(ctx, plain)
	require.NoError(t, err)
	require.NoError(t, lean.Revoke(ctx, pc.Session))
	_, err = lean.Verify(ctx, plain)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	again, err := classic.Sign(ctx, "mig")
	require.NoError(t, err)
	n, err := lean.RevokeAll(ctx, "mig")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "one classic and one lean session")
	for _, tok := range []string{again, fresh} {
		_, err := lean.Verify(ctx, tok)
		require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	}
	assert.Empty(t, keysUnder(t, lean.Redis(), prefixOf(t, classic)+"{mig}:idx"), "the classic index went with them")
}

// TestLeanSingleModeEndsClassicSessions: a single-mode login on the lean
// layout ends the user's classic sessions in the same script.
func TestLeanSingleModeEndsClassicSessions(t *testing.T) {
	ctx := context.Background()
	classic, lean := layoutPair(t)
	a, err := classic.Sign(ctx, "one")
	require.NoError(t, err)
	b, err := lean.Sign(ctx, "one")
	require.NoError(t, err)
	_, err = lean.Verify(ctx, a)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	var ended *rjwt.SessionEndedError
	require.ErrorAs(t, err, &ended, "the classic session's end reason is kept")
	_, err = lean.Verify(ctx, b)
	require.NoError(t, err)
	list, err := lean.Sessions(ctx, "one")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

// TestLeanCapCountsClassicSessions: the cap counts both layouts' sessions
// and ends the nearest to expiry, whichever layout holds it.
func TestLeanCapCountsClassicSessions(t *testing.T) {
	ctx := context.Background()
	classic, lean := layoutPair(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(2))
	first, err := classic.Sign(ctx, "cap", rjwt.WithTTL("10 minutes"))
	require.NoError(t, err)
	second, err := lean.Sign(ctx, "cap", rjwt.WithTTL("20 minutes"))
	require.NoError(t, err)
	third, err := lean.Sign(ctx, "cap", rjwt.WithTTL("30 minutes"))
	require.NoError(t, err)
	_, err = lean.Verify(ctx, first)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "the classic session was nearest to expiry")
	for _, tok := range []string{second, third} {
		_, err := lean.Verify(ctx, tok)
		require.NoError(t, err)
	}
}

// TestLayoutChoice: LayoutAuto takes the lean layout where the server has
// hash-field expiry, but not for a client that asks for keyspace events;
// an explicit choice stands; a bad value is refused.
func TestLayoutChoice(t *testing.T) {
	ctx := context.Background()
	_, lean := layoutPair(t) // skips without hash-field expiry
	require.NotNil(t, lean)
	layoutOf := func(opts ...rjwt.Option) rjwt.Layout {
		c, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(redisAddr)}, opts...)...)
		require.NoError(t, err)
		defer c.Close()
		l, err := c.Layout(ctx)
		require.NoError(t, err)
		return l
	}
	assert.Equal(t, rjwt.LayoutLean, layoutOf(rjwt.WithLayout(rjwt.LayoutAuto)))
	assert.Equal(t, rjwt.LayoutClassic, layoutOf(rjwt.WithKeyspaceEvents(true)), "auto: keyspace events need the classic layout")
	assert.Equal(t, rjwt.LayoutLean, layoutOf(rjwt.WithKeyspaceEvents(true), rjwt.WithLayout(rjwt.LayoutLean)))
	assert.Equal(t, rjwt.LayoutClassic, layoutOf(rjwt.WithLayout(rjwt.LayoutClassic)))
	_, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithLayout(rjwt.Layout(7)))
	require.Error(t, err)
}
