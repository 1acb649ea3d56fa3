package rjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

func TestEveryTokenHasItsOwnJTI(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	seen := map[string]string{}
	record := func(what, token string) {
		t.Helper()
		jti, _ := payload(t, token)["jti"].(string)
		require.Len(t, jti, 21, "%s has a jti", what)
		if other, dup := seen[jti]; dup {
			t.Fatalf("%s has the jti of %s", what, other)
		}
		seen[jti] = what
	}
	a, err := c.Sign(ctx, "una")
	require.NoError(t, err)
	b, err := c.Sign(ctx, "una")
	require.NoError(t, err)
	record("first Sign", a)
	record("second Sign", b)

	p1, err := c.SignPair(ctx, "una", rjwt.WithTTL("1 minute"))
	require.NoError(t, err)
	record("pair's access token", p1.Token)
	record("pair's refresh token", p1.RefreshToken)

	// Refreshed at once, within the same second: new strings all the same.
	p2, err := c.Refresh(ctx, p1.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, p1.Token, p2.Token, "a refresh in the same second gives a new access token")
	record("refreshed access token", p2.Token)
	record("refreshed refresh token", p2.RefreshToken)

	c1, err := c.Verify(ctx, p1.Token)
	require.NoError(t, err)
	c2, err := c.Verify(ctx, p2.Token)
	require.NoError(t, err)
	assert.Equal(t, c1.Session, c2.Session, "one session, several tokens")
	assert.Equal(t, "una", c2.Subject)

	// The grace replay builds the very same pair again: same jtis.
	again, err := c.Refresh(ctx, p1.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, p2, again)
}

// TestTokensFromBeforeUniqueJTIsStillWork: tokens signed before each token
// had its own jti (jti = the session's nanoid, no "sub") verify and refresh.
func TestTokensFromBeforeUniqueJTIsStillWork(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	p, err := c.SignPair(ctx, "old:timer", rjwt.WithTTL("1 minute"))
	require.NoError(t, err)
	oldStyle := func(token string) string {
		m := jwt.MapClaims(payload(t, token))
		m["jti"] = nanoOf(m["rjwt"].(string))
		delete(m, "sub")
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString(testSecret)
		require.NoError(t, err)
		return s
	}
	cl, err := c.Verify(ctx, oldStyle(p.Token))
	require.NoError(t, err)
	assert.Equal(t, "old:timer", cl.ID)
	next, err := c.Refresh(ctx, oldStyle(p.RefreshToken))
	require.NoError(t, err)
	cl2, err := c.Verify(ctx, next.Token)
	require.NoError(t, err)
	assert.Equal(t, cl.Session, cl2.Session)
}

func TestIssuerAndAudienceSeparateServices(t *testing.T) {
	auth := newClient(t, rjwt.WithIssuer("https://auth.example"), rjwt.WithAudience("api"))
	prefix := rjwt.WithPrefix(prefixOf(t, auth))
	api := newClient(t, prefix, rjwt.WithIssuer("https://auth.example"), rjwt.WithAudience("api"))
	billing := newClient(t, prefix, rjwt.WithIssuer("https://auth.example"), rjwt.WithAudience("billing"))
	other := newClient(t, prefix, rjwt.WithIssuer("https://other.example"))
	anyone := newClient(t, prefix)
	ctx := context.Background()

	p, err := auth.SignPair(ctx, "ivy")
	require.NoError(t, err)
	pl := payload(t, p.Token)
	assert.Equal(t, "https://auth.example", pl["iss"])
	assert.Equal(t, []any{"api"}, pl["aud"])

	_, err = api.Verify(ctx, p.Token)
	require.NoError(t, err)
	_, err = anyone.Verify(ctx, p.Token)
	require.NoError(t, err, "a client without WithIssuer or WithAudience checks neither")
	_, err = billing.Verify(ctx, p.Token)
	onlySentinel(t, err, rjwt.ErrInvalidToken)
	_, err = other.Verify(ctx, p.Token)
	onlySentinel(t, err, rjwt.ErrInvalidToken)
	_, err = billing.Refresh(ctx, p.RefreshToken)
	onlySentinel(t, err, rjwt.ErrInvalidToken)

	// Refresh signs with the refreshing client's issuer and audience.
	next, err := api.Refresh(ctx, p.RefreshToken)
	require.NoError(t, err)
	cl, err := api.Verify(ctx, next.Token)
	require.NoError(t, err)
	assert.Equal(t, "https://auth.example", cl.Issuer)
	assert.Equal(t, jwt.ClaimStrings{"api"}, cl.Audience)
	assert.WithinDuration(t, time.Now().Add(time.Hour), cl.ExpiresAt.Time, 5*time.Second)
}
