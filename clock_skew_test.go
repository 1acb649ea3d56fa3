package rjwt_test

import (
	"context"

	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// One clock, Redis's: a host whose clock disagrees with Redis's by minutes
// signs, refreshes and revokes as any other, and the tokens it gets verify
// there and on a host whose clock is right; the tokens of the right host
// verify on the wrong one. (A host's clock is simulated by WithHostClock:
// every place the client would read its wall clock reads that one.)
func TestHostClockOffByMinutes(t *testing.T) {
	for _, off := range []time.Duration{-30 * time.Second, -2 * time.Minute, -10 * time.Minute, 30 * time.Second} {
		t.Run(fmt.Sprint(off), func(t *testing.T) { testHostClockOff(t, off) })
	}
}

func testHostClockOff(t *testing.T, off time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	skewed := newClient(t, rjwt.WithHostClock(off), rjwt.WithMultiple(true))
	right := newClient(t, rjwt.WithPrefix(prefixOf(t, skewed)), rjwt.WithMultiple(true))
	bothVerify := func(what, tok string) {
		t.Helper()
		for _, c := range []*rjwt.Client{skewed, right} {
			_, err := c.Verify(ctx, tok, rjwt.WithSession())
			require.NoError(t, err, "%s on the %s host", what, name(c == skewed))
		}
	}
	// Calls with a deadline, as a server's are: the late-run refusal is
	// judged by Redis's clock.
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }

	for _, c := range []*rjwt.Client{skewed, right} {
		cctx, ccancel := call()
		tok, err := c.Sign(cctx, "clock", rjwt.WithTTL("15 minutes"))
		ccancel()
		require.NoError(t, err, "Sign on the %s host", name(c == skewed))
		bothVerify("a token signed on the "+name(c == skewed)+" host", tok)

		cctx, ccancel = call()
		pair, err := c.SignPair(cctx, "clock")
		ccancel()
		require.NoError(t, err, "SignPair on the %s host", name(c == skewed))
		bothVerify("a pair's access token", pair.Token)

		for _, r := range []*rjwt.Client{skewed, right} {
			cctx, ccancel = call()
			next, err := r.Refresh(cctx, pair.RefreshToken)
			ccancel()
			require.NoError(t, err, "Refresh on the %s host of a pair from the %s host", name(r == skewed), name(c == skewed))
			bothVerify("a refreshed access token", next.Token)
			pair = next
		}
	}
	cctx, ccancel := call()
	n, err := skewed.RevokeAll(cctx, "clock")
	ccancel()
	require.NoError(t, err)
	require.Equal(t, 4, n, "RevokeAll on the skewed host ends the four sessions")
	sessions, err := right.Sessions(ctx, "clock")
	require.NoError(t, err)
	require.Empty(t, sessions)
}

func name(skewed bool) string {
	if skewed {
		return "skewed"
	}
	return "right"
}
