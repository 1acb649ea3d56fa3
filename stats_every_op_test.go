package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// Every public call that touches Redis is counted (and so seen by Hooks and
// rjwtotel): the session-data calls, Sessions and Touch too.
func TestStatsCountEveryOperation(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	pair, err := c.SignPair(ctx, "counted", rjwt.WithDataSession(map[string]int{"n": 0}))
	require.NoError(t, err)
	tok, err := c.Sign(ctx, "counted")
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	_, err = c.Sessions(ctx, "counted")
	require.NoError(t, err)
	require.NoError(t, c.SetSessionData(ctx, claims.Session, map[string]int{"n": 1}))
	require.NoError(t, c.UpdateSessionData(ctx, claims.Session, rjwt.SetField("m", 2)))
	_, err = c.IncrSessionData(ctx, claims.Session, "n", 1)
	require.NoError(t, err)
	require.NoError(t, c.Touch(ctx, claims.Session, time.Minute))
	_, err = c.Refresh(ctx, pair.RefreshToken)
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, claims.Session))
	_, err = c.RevokeAll(ctx, "counted")
	require.NoError(t, err)
	st := c.Stats()
	for _, op := range rjwt.Ops() {
		require.Equal(t, uint64(1), st.Op(op).Get(rjwt.OutcomeOK), "%s counted once", op)
	}
}
