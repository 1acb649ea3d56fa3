package store

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

func TestRedisClockUsesASampleForASecond(t *testing.T) {
	c := newRedisClock()
	if _, ok := c.now(); ok {
		t.Fatal("a clock without a sample told the time")
	}
	redisNow := time.Now().Add(-time.Hour) // Redis an hour behind this host
	at := c.since()
	c.learn(redisNow, at, at)
	got, ok := c.now()
	if !ok {
		t.Fatal("a fresh sample was not used")
	}
	if d := got - redisNow.UnixMilli(); d < 0 || d > 100 {
		t.Errorf("told %d ms after the sample, want Redis's time (the host's is an hour ahead)", d)
	}
	old := c.since() - clockSampleFor
	c.learn(redisNow, old, old)
	if _, ok := c.now(); ok {
		t.Error("a sample a second old was used")
	}
	future := c.since() + time.Minute // a sample the monotonic clock has not reached
	c.learn(redisNow, future, future)
	if _, ok := c.now(); ok {
		t.Error("a sample from the future was used")
	}
}

// TestCheckReadsAskRedisTheTimeOncePerSecond: Verify's reads send TIME only
// when the clock's sample is a second old, and the time they tell is
// Redis's.
func TestCheckReadsAskRedisTheTimeOncePerSecond(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := New(rdb, Config{Prefix: "t:", Timeout: time.Second, SeenEvery: time.Minute})
	const nano = "abcdefghijklmnopqrstu"
	if _, err := s.Sign(ctx, SignArgs{ID: "u", Nano: nano, TTL: time.Hour, Issued: time.Now()}); err != nil {
		t.Fatal(err)
	}
	calls := func() int {
		for _, line := range strings.Split(rdb.Info(ctx, "commandstats").Val(), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_time:calls="); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				return n
			}
		}
		return 0
	}
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
	told, ok := s.clock.now()
	real := rdb.Time(ctx).Val().UnixMilli()
	if !ok || told-real > 50 || real-told > 50 {
		t.Errorf("the clock tells %d (%v), Redis %d", told, ok, real)
	}
}
