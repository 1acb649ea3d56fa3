package rjwttest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwttest"
)

// TestLifecycleOnTheEmbeddedRedis: Reissue, RevokeOthers, the limit
// policies and the reasons work on the test kit's embedded Redis too.
func TestLifecycleOnTheEmbeddedRedis(t *testing.T) {
	ctx := context.Background()
	c := rjwttest.New(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(3), rjwt.WithLimitPolicy(rjwt.LimitEndOldest))
	p, err := c.SignPair(ctx, "u", rjwt.WithAMR("pwd"), rjwt.WithDataSession(1))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.Verify(ctx, p.Token)
	if err != nil {
		t.Fatal(err)
	}
	np, err := c.Reissue(ctx, cl.Session, rjwt.WithAMR("pwd", "otp"))
	if err != nil {
		t.Fatal(err)
	}
	ncl, err := c.Verify(ctx, np.Token, rjwt.WithSession(), rjwt.RequireAuthWithin(time.Minute))
	if err != nil || len(ncl.AMR) != 2 || string(ncl.DataSession) != "1" {
		t.Fatalf("reissued: %+v, %v", ncl, err)
	}
	if _, err := c.Refresh(ctx, np.RefreshToken); err != nil {
		t.Fatal(err)
	}
	var ended *rjwt.SessionEndedError
	if _, err := c.Verify(ctx, p.Token); !errors.As(err, &ended) || ended.Reason != rjwt.EndReissued {
		t.Fatalf("old token: %v", err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = c.Sign(ctx, "u") }()
	}
	wg.Wait()
	list, err := c.Sessions(ctx, "u")
	if err != nil || len(list) != 3 {
		t.Fatalf("%d sessions, %v; want the cap, 3", len(list), err)
	}
	n, err := c.RevokeOthers(ctx, list[0].Session)
	if err != nil || n != 2 {
		t.Fatalf("RevokeOthers: %d, %v", n, err)
	}
}
