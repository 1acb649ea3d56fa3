package store

import (
	"sync/atomic"
	"time"
)

// redisClock tells Redis's time without asking Redis each time. Verify's
// reads need Redis's clock only to judge whether a write is due (the last
// use older than SeenEvery, an idle extension, how long the cache may
// answer), and the seen script that then runs judges again by TIME itself;
// so the reads send TIME only when the last sample is older than
// clockSampleFor, and otherwise add the time elapsed since that sample on
// this host's monotonic clock. The host's wall clock never enters: a host
// clock that jumps, or one that disagrees with Redis's, changes nothing.
//
// The error is at most the sample's round trip plus the drift of the
// monotonic clock over clockSampleFor, a few milliseconds against
// SeenEvery's seconds; a Redis whose clock jumps is followed within
// clockSampleFor.
type redisClock struct {
	base time.Time // the monotonic reference
	last atomic.Pointer[clockSample]
}

// clockSampleFor is how long a TIME sample is used before another is asked.
const clockSampleFor = time.Second

// clockSample is Redis's time (Unix ms) at mono since base.
type clockSample struct {
	redisMs int64
	mono    time.Duration
}

func newRedisClock() *redisClock { return &redisClock{base: time.Now()} }

// now is Redis's time in Unix ms, and false when no sample is recent enough.
func (c *redisClock) now() (int64, bool) {
	s := c.last.Load()
	if s == nil {
		return 0, false
	}
	el := time.Since(c.base) - s.mono
	if el < 0 || el >= clockSampleFor {
		return 0, false
	}
	return s.redisMs + el.Milliseconds(), true
}

// learn records a TIME reply: redis is what it said, sent when the command
// left and recv when the reply came (Redis read its clock in between; the
// middle is taken).
func (c *redisClock) learn(redis time.Time, sent, recv time.Duration) {
	c.last.Store(&clockSample{redisMs: redis.UnixMilli(), mono: sent + (recv-sent)/2})
}

// since is the time elapsed since the reference, for learn.
func (c *redisClock) since() time.Duration { return time.Since(c.base) }
