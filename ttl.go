package rjwt

import (
	"fmt"
	"time"

	str2duration "github.com/xhit/go-str2duration/v2"

	"github.com/rjwt/rjwt/internal/ttl"
)

// MaxTTL is the longest TTL rjwt accepts: 100 years.
const MaxTTL = 100 * 365 * 24 * time.Hour

// ParseTTL turns a human TTL string into a duration. It accepts what users of
// redis-jwt write: "50 seconds", "15 minutes", "5 hours", "3 days", "2 weeks",
// "1 year" (365 days), singular or plural, short units (ms, s, sec, secs, m,
// min, mins, h, hr, hrs, d, w, wk, y, yr, yrs), with or without a space, case
// insensitive, decimals ("1.5 hours"), and compound forms ("1h30m", "2d12h",
// "1 hour 30 minutes").
//
// A bare number has no unit and is refused, as are strings that do not parse,
// durations under one second or over MaxTTL, zero, negative values and
// durations that overflow: all with ErrInvalidTTL.
func ParseTTL(s string) (time.Duration, error) {
	norm, err := ttl.Normalize(s)
	if err != nil {
		return 0, err
	}
	d, err := str2duration.ParseDuration(norm)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrInvalidTTL, s, err)
	}
	if d < time.Second {
		return 0, fmt.Errorf("%w: %q is under one second", ErrInvalidTTL, s)
	}
	if d > MaxTTL {
		return 0, fmt.Errorf("%w: %q is over the %d-year limit", ErrInvalidTTL, s, MaxTTL/(365*24*time.Hour))
	}
	return d, nil
}
