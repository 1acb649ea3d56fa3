package rjwt

import (
	"os"
	"time"
)

// RJWT_TEST_LAYOUT=lean (or classic) runs the package's tests on that layout:
// every client the tests make takes it unless a test says otherwise. The
// server must have hash-field expiry for lean (Redis 7.4+, Valkey 9+).
func init() {
	switch os.Getenv("RJWT_TEST_LAYOUT") {
	case "lean":
		testLayout = LayoutLean
	case "classic":
		testLayout = LayoutClassic
	}
}

// WithSeenEvery sets how stale a session's last use may get before Verify
// writes it again (a minute outside tests), so tests need not wait a minute.
func WithSeenEvery(d time.Duration) Option {
	return func(c *config) error { c.seenEvery = d; return nil }
}

// WithHostClock makes the client's host clock (the wall clock it reads
// where it reads one) disagree with the real one by offset: a host whose
// clock is ahead (positive) or behind (negative) of Redis's.
func WithHostClock(offset time.Duration) Option {
	return func(c *config) error {
		c.hostClock = func() time.Time { return time.Now().Add(offset) }
		return nil
	}
}

// CacheLen is how many sessions c's local cache remembers (tests only).
func CacheLen(c *Client) int {
	if c.cache == nil {
		return 0
	}
	return c.cache.Len()
}
