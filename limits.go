package rjwt

import "fmt"

// LimitPolicy is what a multiple-mode Sign does when the user already holds
// WithMaxSessions' cap of live sessions. Every policy is applied inside the
// Sign's one atomic script, so concurrent Signs of one user never leave more
// than the cap live.
type LimitPolicy int

// The limit policies.
const (
	LimitEndNearestExpiry LimitPolicy = iota // the default: end the sessions nearest to expiry
	LimitEndOldest                           // end the sessions created first
	LimitEndLeastRecent                      // end the sessions used longest ago
	LimitRefuse                              // refuse the new login with ErrTooManySessions
)

// String names the policy as its constant.
func (p LimitPolicy) String() string {
	switch p {
	case LimitEndNearestExpiry:
		return "LimitEndNearestExpiry"
	case LimitEndOldest:
		return "LimitEndOldest"
	case LimitEndLeastRecent:
		return "LimitEndLeastRecent"
	case LimitRefuse:
		return "LimitRefuse"
	}
	return fmt.Sprintf("LimitPolicy(%d)", int(p))
}

// WithLimitPolicy sets what a multiple-mode Sign does at WithMaxSessions'
// cap:
//
//   - LimitEndNearestExpiry (the default): end the sessions nearest to
//     their expiry.
//   - LimitEndOldest: end the sessions whose login is oldest (by its issue
//     time, which Reissue keeps).
//   - LimitEndLeastRecent: end the sessions used longest ago, by the
//     last-use record Verify keeps: it is written at most once a minute
//     per session, and by Refresh, so the order has a minute's resolution
//     (uses within the minute after the record do not move it). Ties go
//     to the smaller session id.
//   - LimitRefuse: end nothing and refuse the new login with
//     ErrTooManySessions (nothing is written).
//
// The two ordering policies read each of the user's sessions (one HMGET
// each, under the cap) in the Sign's script, only when the user is at the
// cap. Ended sessions answer Verify with the reason "ended by the session
// cap" (SessionEndedError). Single mode ignores the policy.
func WithLimitPolicy(p LimitPolicy) Option {
	return func(c *config) error {
		if p < LimitEndNearestExpiry || p > LimitRefuse {
			return fmt.Errorf("rjwt: WithLimitPolicy: unknown policy %d", int(p))
		}
		c.limitPolicy = p
		return nil
	}
}
