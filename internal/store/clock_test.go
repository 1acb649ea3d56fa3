package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rjwt/rjwt/internal/redistest"
)

func TestRedisClockUsesASampleForASecond(t *testing.T) {
	c := newRedisClock(nil)
	if _, ok, ask := c.now(); ok || !ask {
		t.Fatal("a clock without a sample told the time, or did not ask for it")
	}
	redisNow := time.Now().Add(-time.Hour) // Redis an hour behind this host
	c.learn(redisNow, c.since())
	got, ok, ask := c.now()
	if !ok || ask {
		t.Fatalf("a fresh sample: ok %v, ask %v", ok, ask)
	}
	if d := got - redisNow.UnixMilli(); d < 0 || d > 100 {
		t.Errorf("told %d ms after the sample, want Redis's time (the host's is an hour ahead)", d)
	}

	// Stale: one caller asks, the others go on with the sample meanwhile.
	c.learn(redisNow, c.since()-clockSampleFor)
	if _, ok, ask := c.now(); !ok || !ask {
		t.Fatalf("a stale sample: ok %v, ask %v; want the first caller to ask", ok, ask)
	}
	for range 10 {
		if _, ok, ask := c.now(); !ok || ask {
			t.Fatalf("a stale sample being refreshed: ok %v, ask %v; want no second TIME", ok, ask)
		}
	}
	c.done() // the refresh failed: the next caller asks again
	if _, _, ask := c.now(); !ask {
		t.Fatal("after a failed refresh no caller asks")
	}
	c.learn(redisNow, c.since())
	if _, _, ask := c.now(); ask {
		t.Fatal("a refreshed sample is asked for again")
	}

	// Too old, or from the future: not used at all, every caller asks.
	for _, mono := range []time.Duration{c.since() - clockSampleMax, c.since() + time.Minute} {
		c.learn(redisNow, mono)
		for range 2 {
			if _, ok, ask := c.now(); ok || !ask {
				t.Errorf("a sample at %v (now %v): ok %v, ask %v", mono, c.since(), ok, ask)
			}
		}
	}
}

// TestCheckReadsAskRedisTheTimeOncePerSecond: Verify's reads send TIME only
// when the clock's sample is a second old, and the time they tell is
// Redis's.
func TestCheckReadsAskRedisTheTimeOncePerSecond(t *testing.T) {
	srv, rdb, s := storeWithOneSession(t, "t:")
	ctx := context.Background()
	const nano = oneNano
	calls := func() int { return redistest.CommandCalls(t, srv.Addr(), "time") }
	before := calls()
	start := time.Now()
	for range 300 {
		if r, _, err := s.checkReads(ctx, "u", nano, false, time.Minute); err != nil || !r.Live {
			t.Fatalf("checkReads: %+v, %v", r, err)
		}
	}
	elapsed := time.Since(start)
	sent := calls() - before
	if limit := int(elapsed/clockSampleFor) + 1; sent < 1 || sent > limit {
		t.Errorf("300 checks in %v sent TIME %d times, want 1 to %d", elapsed, sent, limit)
	}
	// Never ahead of Redis: between two TIMEs asked after it, and behind
	// the later one by no more than a round trip or so.
	if _, _, err := s.checkReads(ctx, "u", nano, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	lo := rdb.Time(ctx).Val().UnixMilli()
	told, ok, _ := s.clock.now()
	hi := rdb.Time(ctx).Val().UnixMilli()
	if !ok || told > hi || told < lo-100 {
		t.Errorf("the clock tells %d (%v); Redis said %d then %d", told, ok, lo, hi)
	}

	// A burst of concurrent checks on a stale sample sends one TIME.
	s.clock.learn(time.UnixMilli(lo), s.clock.since()-clockSampleFor)
	before = calls()
	start = time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 20 {
				if _, _, err := s.checkReads(ctx, "u", nano, false, time.Minute); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// (one more per second the burst lasts, on a slow machine)
	if sent, limit := calls()-before, 1+int(time.Since(start)/clockSampleFor); sent < 1 || sent > limit {
		t.Errorf("640 concurrent checks on a stale sample sent TIME %d times, want 1 (at most %d)", sent, limit)
	}
}
