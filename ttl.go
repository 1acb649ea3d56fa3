package rjwt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	str2duration "github.com/xhit/go-str2duration/v2"
)

// ttlUnits maps every unit word rjwt accepts to the unit go-str2duration
// knows. Years are handled apart: they become 365 days each.
var ttlUnits = map[string]string{
	"ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"d": "d", "day": "d", "days": "d",
	"w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
	"y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}

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
	norm, err := normalizeTTL(s)
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

// normalizeTTL rewrites "1 year 2 hours" as "365d2h", the compact form
// go-str2duration parses.
func normalizeTTL(s string) (string, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidTTL)
	}
	var out strings.Builder
	i := 0
	for i < len(in) {
		// number
		start := i
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
			i++
		}
		num := in[start:i]
		if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
			return "", fmt.Errorf("%w: %q: expected a number at %q", ErrInvalidTTL, s, in[start:])
		}
		for i < len(in) && in[i] == ' ' {
			i++
		}
		// unit
		start = i
		for i < len(in) && in[i] >= 'a' && in[i] <= 'z' {
			i++
		}
		word := in[start:i]
		unit, ok := ttlUnits[word]
		if !ok {
			if word == "" {
				return "", fmt.Errorf("%w: %q: a number needs a unit (e.g. %q)", ErrInvalidTTL, s, num+" seconds")
			}
			return "", fmt.Errorf("%w: %q: unknown unit %q", ErrInvalidTTL, s, word)
		}
		if unit == "y" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f*365 > 1e9 {
				return "", fmt.Errorf("%w: %q: too large", ErrInvalidTTL, s)
			}
			num, unit = strconv.FormatFloat(f*365, 'f', -1, 64), "d"
		}
		out.WriteString(num)
		out.WriteString(unit)
		for i < len(in) && (in[i] == ' ' || in[i] == ',') {
			i++
		}
		if strings.HasPrefix(in[i:], "and ") {
			i += len("and ")
		}
	}
	return out.String(), nil
}
