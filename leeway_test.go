package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// TestExpWithinLeewayLeavesItToTheSession: a token whose exp passed a second
// ago is within the default leeway, so the session in Redis decides: it
// verifies while the session lives and fails once it is revoked. Beyond the
// leeway it is ErrTokenExpired whatever Redis holds.
func TestExpWithinLeewayLeavesItToTheSession(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "skew")
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok)
	require.NoError(t, err)

	claims.IssuedAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	claims.ExpiresAt = &jwt.NumericDate{Time: time.Now().Add(-time.Second)}
	justExpired := forge(t, jwt.SigningMethodHS256, claims, testSecret)
	claims.ExpiresAt = &jwt.NumericDate{Time: time.Now().Add(-rjwt.DefaultLeeway - 2*time.Second)}
	longExpired := forge(t, jwt.SigningMethodHS256, claims, testSecret)

	got, err := c.Verify(ctx, justExpired)
	require.NoError(t, err)
	require.Equal(t, claims.Session, got.Session)
	_, err = c.Verify(ctx, longExpired)
	onlySentinel(t, err, rjwt.ErrTokenExpired)

	require.NoError(t, c.Revoke(ctx, claims.Session))
	_, err = c.Verify(ctx, justExpired)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}
