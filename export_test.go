package rjwt

import "time"

// WithSeenEvery sets how stale a session's last use may get before Verify
// writes it again (a minute outside tests), so tests need not wait a minute.
func WithSeenEvery(d time.Duration) Option {
	return func(c *config) error { c.seenEvery = d; return nil }
}

// CacheLen is how many sessions c's local cache remembers (tests only).
func CacheLen(c *Client) int {
	if c.cache == nil {
		return 0
	}
	return c.cache.len()
}
