package rjwt

import (
	"os"
	"time"
)

// RJWT_TEST_LAYOUT=lean runs the package's tests on the lean layout: every
// client the tests make takes it unless a test says otherwise or asks for
// keyspace events (then LayoutAuto: classic). The server must have
// hash-field expiry (Redis 7.4+, Valkey 9+). Without it the tests run on the
// classic layout on every server, so that the tests that read Redis's keys
// (layout_helpers_test.go) know which layout they read.
func init() {
	testLayout = LayoutClassic
	if os.Getenv("RJWT_TEST_LAYOUT") == "lean" {
		testLayout = LayoutLean
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
