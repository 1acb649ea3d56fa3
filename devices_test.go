package rjwt_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

func TestSessionsListDevices(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	before := time.Now()
	phone := map[string]string{"userAgent": "Phone/1.0", "ip": "192.0.2.7"}
	p, err := c.SignPair(ctx, "dev", rjwt.WithMeta(phone))
	require.NoError(t, err)
	_, err = c.Sign(ctx, "dev", rjwt.WithTTL("2 hours"))
	require.NoError(t, err)

	list, err := c.Sessions(ctx, "dev")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Nil(t, list[0].Meta, "signed without WithMeta")
	assert.Equal(t, phone, list[1].Meta)
	for _, s := range list {
		assert.WithinDuration(t, before, s.CreatedAt, 2*time.Second)
		assert.Equal(t, s.CreatedAt, s.LastSeen, "not used since it was created")
	}

	// Refresh keeps the details and is a use.
	time.Sleep(20 * time.Millisecond)
	_, err = c.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	list, err = c.Sessions(ctx, "dev")
	require.NoError(t, err)
	assert.Equal(t, phone, list[1].Meta)
	assert.True(t, list[1].LastSeen.After(list[1].CreatedAt), "refresh is a use")
}

func TestLastSeenIsWrittenLazily(t *testing.T) {
	ctx := context.Background()
	t.Run("at most once a minute by default", func(t *testing.T) {
		c := newClient(t)
		tok, err := c.Sign(ctx, "lazy")
		require.NoError(t, err)
		time.Sleep(30 * time.Millisecond)
		_, err = c.Verify(ctx, tok)
		require.NoError(t, err)
		list, err := c.Sessions(ctx, "lazy")
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, list[0].CreatedAt, list[0].LastSeen, "a use within the minute is not written")
	})
	t.Run("when the stored one is old enough", func(t *testing.T) {
		// Wide margins: a busy machine may take a hundred milliseconds
		// between two calls (Redis's clock and the host's are one here).
		const every = 400 * time.Millisecond
		c := newClient(t, rjwt.WithSeenEvery(every))
		tok, err := c.Sign(ctx, "eager")
		require.NoError(t, err)
		time.Sleep(30 * time.Millisecond)
		_, err = c.Verify(ctx, tok)
		require.NoError(t, err)
		list, err := c.Sessions(ctx, "eager")
		require.NoError(t, err)
		assert.Equal(t, list[0].CreatedAt, list[0].LastSeen, "30ms old: not written")
		time.Sleep(every)
		before := time.Now()
		_, err = c.Verify(ctx, tok)
		require.NoError(t, err)
		after := time.Now()
		list, err = c.Sessions(ctx, "eager")
		require.NoError(t, err)
		seen := list[0].LastSeen
		assert.False(t, seen.Before(before.Add(-2*time.Millisecond)) || seen.After(after.Add(2*time.Millisecond)),
			"last seen %v is the Verify's time (between %v and %v)", seen, before, after)
		assert.GreaterOrEqual(t, seen.Sub(list[0].CreatedAt), every)
	})
	t.Run("concurrent verifies", func(t *testing.T) {
		c := newClient(t, rjwt.WithSeenEvery(time.Millisecond))
		tok, err := c.Sign(ctx, "many")
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					_, err := c.Verify(ctx, tok)
					assert.NoError(t, err)
				}
			}()
		}
		wg.Wait()
		list, err := c.Sessions(ctx, "many")
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.WithinDuration(t, time.Now(), list[0].LastSeen, 100*time.Millisecond)
	})
}

func TestWithMetaIsCapped(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	big := map[string]string{"userAgent": strings.Repeat("x", rjwt.MaxMetaSize)}
	_, err := c.Sign(ctx, "meta", rjwt.WithMeta(big))
	onlySentinel(t, err, rjwt.ErrTooLarge)
	_, err = c.SignPair(ctx, "meta", rjwt.WithMeta(big))
	onlySentinel(t, err, rjwt.ErrTooLarge)
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)), "refused before Redis")
	_, err = c.Sign(ctx, "meta", rjwt.WithMeta(map[string]string{"userAgent": strings.Repeat("x", rjwt.MaxMetaSize-20)}))
	require.NoError(t, err, "just under the cap")
}

func TestRevokeOwnChecksTheOwnerExactly(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	sessionOf := func(id string) string {
		tok, err := c.Sign(ctx, id)
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		return cl.Session
	}
	a := sessionOf("a")
	ab := sessionOf("a:b")
	abc := sessionOf("a:b:c")
	star := sessionOf("*")

	// Hostile: a prefix of the owner, or an owner with more colons.
	for _, tc := range []struct{ user, session string }{
		{"a", ab}, {"a", abc}, {"a:b", abc}, {"a:b", a}, {"a:b:c", ab}, {"*", a}, {"a", star}, {"", a},
	} {
		err := c.RevokeOwn(ctx, tc.user, tc.session)
		require.Error(t, err, "%q revoked %q", tc.user, tc.session)
		if tc.user == "" {
			onlySentinel(t, err, rjwt.ErrInvalidID)
		} else {
			onlySentinel(t, err, rjwt.ErrSessionNotFound)
		}
	}
	for _, s := range []string{a, ab, abc, star} {
		id := s[:len(s)-22]
		list, err := c.Sessions(ctx, id)
		require.NoError(t, err)
		assert.Len(t, list, 1, "%q still has its session", id)
	}
	onlySentinel(t, c.RevokeOwn(ctx, "a", "a:not-a-session"), rjwt.ErrInvalidID)

	require.NoError(t, c.RevokeOwn(ctx, "a:b", ab))
	onlySentinel(t, c.RevokeOwn(ctx, "a:b", ab), rjwt.ErrSessionNotFound)
	require.NoError(t, c.RevokeOwn(ctx, "a", a))
	require.NoError(t, c.RevokeOwn(ctx, "*", star))
	list, err := c.Sessions(ctx, "a:b:c")
	require.NoError(t, err)
	assert.Len(t, list, 1, "the others' sessions live on")
}
