package rjwt_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// A reissued DPoP-bound session stays bound to the same key: its new tokens
// carry cnf.jkt, verify only with a proof by that key, and refresh only with
// one; the hash keeps the binding.
func TestReissueKeepsTheProofBinding(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	k := dpopKey(t, "ES256")
	pair := boundPair(t, c, k)
	claims, err := c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
	require.NoError(t, err)

	next, err := c.Reissue(ctx, claims.Session)
	require.NoError(t, err)
	require.NotEmpty(t, next.RefreshToken)
	got, err := c.Verify(ctx, next.Token, rjwt.WithProof(apiProof(k, next.Token)))
	require.NoError(t, err)
	require.NotNil(t, got.Confirmation, "the reissued token is bound")
	require.Equal(t, k.JKT, got.Confirmation.JKT)
	require.NotEqual(t, claims.Session, got.Session)
	_, err = c.Verify(ctx, next.Token)
	require.ErrorIs(t, err, rjwt.ErrInvalidProof, "without a proof")
	other := dpopKey(t, "ES256")
	_, err = c.Verify(ctx, next.Token, rjwt.WithProof(apiProof(other, next.Token)))
	require.ErrorIs(t, err, rjwt.ErrInvalidProof, "with another key's proof")
	j, err := fieldOf(ctx, c.Redis(), prefixOf(t, c), "alice", nanoOf(got.Session), "j")
	require.NoError(t, err)
	require.Equal(t, k.JKT, j)
	_, err = c.Refresh(ctx, next.RefreshToken)
	require.ErrorIs(t, err, rjwt.ErrInvalidProof, "a refresh without the key's proof")
	_, err = c.Refresh(ctx, next.RefreshToken, rjwt.WithRefreshProof(loginProof(k)))
	require.NoError(t, err)
}
