package rjwt_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// TestLimitPolicies: each policy at the cap, in order.
func TestLimitPolicies(t *testing.T) {
	ctx := context.Background()
	sign := func(t *testing.T, c *rjwt.Client, user string, ttl string) string {
		tok, err := c.Sign(ctx, user, rjwt.WithTTL(ttl))
		require.NoError(t, err)
		return tok
	}
	alive := func(c *rjwt.Client, tok string) bool { _, err := c.Verify(ctx, tok); return err == nil }
	t.Run("nearest expiry", func(t *testing.T) {
		c := newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(2))
		a := sign(t, c, "u", "3 hours")
		b := sign(t, c, "u", "1 hour")
		d := sign(t, c, "u", "2 hours")
		assert.True(t, alive(c, a))
		assert.False(t, alive(c, b), "the one nearest to expiry ended")
		assert.True(t, alive(c, d))
	})
	t.Run("oldest", func(t *testing.T) {
		c := newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(2), rjwt.WithLimitPolicy(rjwt.LimitEndOldest))
		a := sign(t, c, "u", "1 hour")
		time.Sleep(5 * time.Millisecond)
		b := sign(t, c, "u", "3 hours")
		time.Sleep(5 * time.Millisecond)
		d := sign(t, c, "u", "2 hours")
		assert.False(t, alive(c, a), "the oldest ended")
		_, err := c.Verify(ctx, a)
		var ended *rjwt.SessionEndedError
		require.True(t, errors.As(err, &ended))
		assert.Equal(t, rjwt.EndSessionCap, ended.Reason)
		assert.True(t, alive(c, b))
		assert.True(t, alive(c, d))
	})
	t.Run("least recent", func(t *testing.T) {
		c := newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(2), rjwt.WithLimitPolicy(rjwt.LimitEndLeastRecent),
			rjwt.WithSeenEvery(time.Millisecond))
		a := sign(t, c, "u", "1 hour")
		time.Sleep(5 * time.Millisecond)
		b := sign(t, c, "u", "3 hours")
		time.Sleep(5 * time.Millisecond)
		assert.True(t, alive(c, a)) // a is now the more recently used
		time.Sleep(5 * time.Millisecond)
		d := sign(t, c, "u", "2 hours")
		assert.True(t, alive(c, a))
		assert.False(t, alive(c, b), "the least recently used ended")
		assert.True(t, alive(c, d))
	})
	t.Run("refuse", func(t *testing.T) {
		c := newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(2), rjwt.WithLimitPolicy(rjwt.LimitRefuse))
		a := sign(t, c, "u", "1 hour")
		b := sign(t, c, "u", "1 hour")
		_, err := c.Sign(ctx, "u")
		onlySentinel(t, err, rjwt.ErrTooManySessions)
		assert.True(t, alive(c, a))
		assert.True(t, alive(c, b))
		list, err := c.Sessions(ctx, "u")
		require.NoError(t, err)
		assert.Len(t, list, 2)
	})
	_, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithLimitPolicy(rjwt.LimitPolicy(9)))
	require.Error(t, err)
}

// TestLimitPoliciesUnderConcurrency: 50 concurrent Signs never leave more
// than the cap live; with LimitRefuse exactly the cap, the rest refused.
func TestLimitPoliciesUnderConcurrency(t *testing.T) {
	eachOfSingleAndCluster(t, testLimitPoliciesUnderConcurrency)
}

func testLimitPoliciesUnderConcurrency(t *testing.T, tp *topology) {
	const capN, n = 5, 50
	ctx := context.Background()
	for _, p := range []rjwt.LimitPolicy{rjwt.LimitEndNearestExpiry, rjwt.LimitEndOldest, rjwt.LimitEndLeastRecent, rjwt.LimitRefuse} {
		t.Run(p.String(), func(t *testing.T) {
			c := tp.newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(capN), rjwt.WithLimitPolicy(p))
			toks := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					toks[i], errs[i] = c.Sign(ctx, "crowd")
				}()
			}
			close(start)
			wg.Wait()
			live, refused := 0, 0
			for i := range n {
				if errs[i] != nil {
					onlySentinel(t, errs[i], rjwt.ErrTooManySessions)
					refused++
					continue
				}
				if _, err := c.Verify(ctx, toks[i]); err == nil {
					live++
				}
			}
			list, err := c.Sessions(ctx, "crowd")
			require.NoError(t, err)
			assert.LessOrEqual(t, live, capN)
			assert.Len(t, list, live)
			if p == rjwt.LimitRefuse {
				assert.Equal(t, capN, live, "exactly the cap")
				assert.Equal(t, n-capN, refused)
			} else {
				assert.Equal(t, capN, live)
				assert.Zero(t, refused)
			}
		})
	}
}
