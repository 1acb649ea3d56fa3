package store

import (
	"context"
	"slices"
	"sync/atomic"
	"time"
)

// redisClock tells Redis's time without asking Redis each time. Verify's
// reads need Redis's clock only to judge whether a write is due (the last
// use older than SeenEvery, an idle extension), and the seen script that
// then runs judges again by TIME itself; whether a session is live never
// depends on it. So the reads send TIME about once a second, and otherwise
// add the time elapsed since the last sample on this host's monotonic
// clock. The host's wall clock never enters: a host clock that jumps, or
// one that disagrees with Redis's, changes nothing.
//
// A sample is dated by the arrival of its reply, so the estimate is never
// ahead of Redis's clock (Redis read it earlier): it lags by at most the
// sample's round trip, plus, for a call that retries, the time since the
// call began. Lagging is the safe side: a write judged not yet due comes
// with a later Verify, and the seen script never extends a session past
// what its own TIME allows. A Redis whose clock jumps (a failover to a
// host whose clock differs) is followed within clockSampleFor.
type redisClock struct {
	base       time.Time   // the monotonic reference
	tokens     *tokenClock // also told every sample: the clock tokens are stamped by
	last       atomic.Pointer[clockSample]
	refreshing atomic.Bool // one call is asking TIME for a stale sample
}

const (
	// clockSampleFor is how long a sample is used before a call asks TIME.
	clockSampleFor = time.Second
	// clockSampleMax is how long a sample is used at all: past
	// clockSampleFor one call refreshes it while the others go on with it,
	// so a burst of calls sends one TIME, not one each.
	clockSampleMax = 2 * time.Second
)

// clockSample is Redis's time (Unix ms) at mono since base.
type clockSample struct {
	redisMs int64
	mono    time.Duration
}

func newRedisClock(tokens *tokenClock) *redisClock {
	return &redisClock{base: time.Now(), tokens: tokens}
}

// now is Redis's time in Unix ms, with ok false when there is no usable
// sample; ask is true when this call should send TIME: with no usable
// sample every caller asks, and a stale one is refreshed by the one caller
// that gets ask with ok, which holds the refresh and must call done once
// it has learnt the answer or given up.
func (c *redisClock) now() (ms int64, ok, ask bool) {
	s := c.last.Load()
	if s == nil {
		return 0, false, true
	}
	el := time.Since(c.base) - s.mono
	if el < 0 || el >= clockSampleMax {
		return 0, false, true
	}
	ms = s.redisMs + el.Milliseconds()
	if el >= clockSampleFor {
		return ms, true, c.refreshing.CompareAndSwap(false, true)
	}
	return ms, true, false
}

// learn records a TIME reply that arrived at recv (since base).
func (c *redisClock) learn(redis time.Time, recv time.Duration) {
	c.last.Store(&clockSample{redisMs: redis.UnixMilli(), mono: recv})
	if c.tokens != nil {
		c.tokens.learn(redis, c.base.Add(recv))
	}
}

// done ends the refresh the caller holds.
func (c *redisClock) done() { c.refreshing.Store(false) }

// since is the time elapsed since the reference, for learn.
func (c *redisClock) since() time.Duration { return time.Since(c.base) }

// tokenClock is the one clock tokens are stamped (iat, nbf, exp, a Sign's
// issue time) and judged by, on every host: Redis's. Its reading is the
// latest TIME sample of any master carried forward on this host's monotonic
// clock, which drifts from Redis's by parts per million, so a sample stays
// good for tokenSampleFor; the host's wall clock never enters. A fleet whose
// hosts disagree by minutes then issues tokens every host accepts, and
// refuses a late call by Redis's time, not by the host's.
type tokenClock struct {
	last       atomic.Pointer[tokenSample]
	refreshing atomic.Bool // one call is asking TIME for an old sample
}

// tokenSample is Redis's time redisMs (Unix ms) when this host's monotonic
// clock read at.
type tokenSample struct {
	redisMs int64
	at      time.Time
}

const (
	// tokenSampleFor is how long a sample stamps tokens before one call
	// asks TIME again, off its own path (Verify's reads renew it every
	// second on a host that verifies).
	tokenSampleFor = time.Minute
	// tokenSampleMax is how long a sample stamps tokens at all.
	tokenSampleMax = 10 * time.Minute
)

func (c *tokenClock) learn(redis time.Time, at time.Time) {
	c.last.Store(&tokenSample{redisMs: redis.UnixMilli(), at: at})
}

// now is Redis's time; ok is false without a sample younger than
// tokenSampleMax; old is true for the one caller that should renew an
// older sample than tokenSampleFor (it then calls done).
func (c *tokenClock) now() (t time.Time, ok, old bool) {
	s := c.last.Load()
	if s == nil {
		return time.Time{}, false, false
	}
	el := time.Since(s.at) // monotonic
	if el < 0 || el >= tokenSampleMax {
		return time.Time{}, false, false
	}
	old = el >= tokenSampleFor && c.refreshing.CompareAndSwap(false, true)
	return time.UnixMilli(s.redisMs).Add(el), true, old
}

func (c *tokenClock) done() { c.refreshing.Store(false) }

// Now is Redis's time as this client last learnt it (a TIME reply of any
// master, carried forward on this host's monotonic clock), or this host's
// clock when it has no sample younger than ten minutes (tokenSampleMax). No round trip.
func (s *Store) Now() time.Time {
	if t, ok, old := s.tokens.now(); ok {
		if old {
			s.tokens.done() // Clock renews it, not a call that has no Redis round trip
		}
		return t
	}
	return s.hostNow()
}

// Clock is Now, for the calls that write: with no sample younger than ten
// minutes it asks Redis's TIME first (one round trip: the first Sign of a
// client that has not verified yet), and with one older than a minute one
// call renews it off its own path.
func (s *Store) Clock(ctx context.Context) (time.Time, error) {
	if t, ok, old := s.tokens.now(); ok {
		if old {
			s.bg.Add(1)
			go func() {
				defer s.bg.Done()
				defer s.tokens.done()
				ctx, cancel := context.WithTimeout(context.Background(), s.timeoutOr(time.Second))
				defer cancel()
				s.Time(ctx) //nolint:errcheck // the old sample still serves
			}()
		}
		return t, nil
	}
	if err := s.Time(ctx); err != nil {
		return time.Time{}, err
	}
	return s.Now(), nil
}

// Time asks Redis's TIME (on a Cluster, of any node go-redis picks) and
// learns it: the health check's probe, which keeps the clocks fresh.
func (s *Store) Time(ctx context.Context) error {
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	t, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	s.tokens.learn(t, time.Now()) // dated by the reply's arrival, as every sample
	return nil
}

// timeoutOr is the call timeout, or d without one.
func (s *Store) timeoutOr(d time.Duration) time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return d
}

// Offset is how far Redis's clock is ahead of this host's (negative:
// behind), as last learnt; ok is false without a sample.
func (s *Store) Offset() (time.Duration, bool) {
	t, ok, old := s.tokens.now()
	if old {
		s.tokens.done()
	}
	if !ok {
		return 0, false
	}
	return t.Sub(s.hostNow()), true
}

// KeepClocks forgets the clocks of Cluster masters that are not at addrs
// (go-redis's addresses): the topology watcher calls it after each walk
// that listed the masters, so that a master gone (failed over, removed)
// leaves no sample behind, and one that comes back at its address starts
// from a TIME of its own.
func (s *Store) KeepClocks(addrs []string) {
	s.clocks.Range(func(k, _ any) bool {
		if !slices.Contains(addrs, k.(string)) {
			s.clocks.Delete(k)
		}
		return true
	})
}
