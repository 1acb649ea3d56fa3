package rjwt

import "time"

// WithSeenEvery sets how stale a session's last use may get before Verify
// writes it again (a minute outside tests), so tests need not wait a minute.
func WithSeenEvery(d time.Duration) Option {
	return func(c *config) error { c.seenEvery = d; return nil }
}
