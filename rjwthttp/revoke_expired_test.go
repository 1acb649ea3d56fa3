package rjwthttp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// RFC 7009: an access token that has expired still names a session its
// refresh token keeps alive; presented for revocation, that session ends.
func TestRevocationOfAnExpiredAccessToken(t *testing.T) {
	c := newClient(t, rjwt.WithLeeway(0))
	auth := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer gw" }
	srv := httptest.NewServer(rjwthttp.RevocationHandler(c, auth))
	defer srv.Close()
	ctx := t.Context()
	pair, err := c.SignPair(ctx, "exp", rjwt.WithTTL("1 second"), rjwt.WithRefreshTTL("1 hour"))
	require.NoError(t, err)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := c.Verify(ctx, pair.Token)
		if err != nil {
			require.ErrorIs(t, err, rjwt.ErrTokenExpired)
			break
		}
		require.True(t, time.Now().Before(deadline), "the access token never expired")
	}
	require.Equal(t, 200, form(t, srv.URL, "Bearer gw", url.Values{"token": {pair.Token}}).status)
	_, err = c.Refresh(ctx, pair.RefreshToken)
	require.ErrorIs(t, err, rjwt.ErrSessionNotFound, "the session the expired token named has ended")
}
