// Package ttl reads the human TTL strings rjwt accepts ("15 minutes", "1h30m",
// "1 year"): rjwt.ParseTTL is its public face.
package ttl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is rjwt.ErrInvalidTTL.
var ErrInvalid = errors.New("rjwt: invalid TTL")

// units maps every unit word rjwt accepts to the unit go-str2duration
// knows. Years are handled apart: they become 365 days each.
var units = map[string]string{
	"ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms", "milliseconds": "ms",
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"d": "d", "day": "d", "days": "d",
	"w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
	"y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}

// Normalize rewrites "1 year 2 hours" as "365d2h", the compact form
// go-str2duration parses; what it cannot read is an error wrapping ErrInvalid
// (rjwt.ErrInvalidTTL).
func Normalize(s string) (string, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
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
			return "", fmt.Errorf("%w: %q: expected a number at %q", ErrInvalid, s, in[start:])
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
		unit, ok := units[word]
		if !ok {
			if word == "" {
				return "", fmt.Errorf("%w: %q: a number needs a unit (e.g. %q)", ErrInvalid, s, num+" seconds")
			}
			return "", fmt.Errorf("%w: %q: unknown unit %q", ErrInvalid, s, word)
		}
		if unit == "y" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f*365 > 1e9 {
				return "", fmt.Errorf("%w: %q: too large", ErrInvalid, s)
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
