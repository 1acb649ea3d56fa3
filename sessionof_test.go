package rjwt_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// SessionOf checks the signature, never the times: another client's token,
// or a tampered one, is ErrInvalidToken.
func TestSessionOf(t *testing.T) {
	c := newClient(t)
	tok, err := c.Sign(context.Background(), "so")
	require.NoError(t, err)
	session, err := c.SessionOf(tok)
	require.NoError(t, err)
	require.Equal(t, "so:", session[:3])
	other, err := rjwt.New(rjwt.WithSecret([]byte("another-secret-of-32-bytes-long!!")), rjwt.WithAddr(redisAddr))
	require.NoError(t, err)
	defer other.Close()
	_, err = other.SessionOf(tok)
	require.ErrorIs(t, err, rjwt.ErrInvalidToken)
	_, err = c.SessionOf(tok[:len(tok)-2] + "AA")
	require.ErrorIs(t, err, rjwt.ErrInvalidToken)
}
