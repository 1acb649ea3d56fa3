package rjwt

import (
	"errors"
	"testing"
	"time"
)

func TestParseTTL(t *testing.T) {
	day := 24 * time.Hour
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"50 seconds", 50 * time.Second},
		{"1 second", time.Second},
		{"1s", time.Second},
		{"30sec", 30 * time.Second},
		{"30 secs", 30 * time.Second},
		{"10 minutes", 10 * time.Minute},
		{"1 minute", time.Minute},
		{"15m", 15 * time.Minute},
		{"15 min", 15 * time.Minute},
		{"15mins", 15 * time.Minute},
		{"5 hours", 5 * time.Hour},
		{"1 hour", time.Hour},
		{"2h", 2 * time.Hour},
		{"2 hr", 2 * time.Hour},
		{"3hrs", 3 * time.Hour},
		{"3 days", 3 * day},
		{"1 day", day},
		{"2d", 2 * day},
		{"2 weeks", 14 * day},
		{"1w", 7 * day},
		{"1 wk", 7 * day},
		{"1 year", 365 * day},
		{"2 years", 730 * day},
		{"1y", 365 * day},
		{"1 yr", 365 * day},
		{"2yrs", 730 * day},
		{"1.5 hours", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"2d12h", 60 * time.Hour},
		{"1 hour 30 minutes", 90 * time.Minute},
		{"1 hour, 30 minutes", 90 * time.Minute},
		{"1 hour and 30 minutes", 90 * time.Minute},
		{"  10 Minutes ", 10 * time.Minute},
		{"1500ms", 1500 * time.Millisecond},
		{"1 HOUR", time.Hour},
	}
	for _, tc := range valid {
		got, err := ParseTTL(tc.in)
		if err != nil {
			t.Errorf("ParseTTL(%q): unexpected error %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseTTL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}

	invalid := []string{
		"", "   ", "abc", "10", "0", "0 seconds", "0s", "-5 minutes", "-1h",
		"500ms", "999 milliseconds", "10 lightyears", "ten minutes", "1..5h",
		".5h", "5.h", "1 hour x", "h", "1h-", "100000000000 years",
		"99999999999999999999 seconds", "9223372036s", "101 years", "1e3s", "1;DROP",
	}
	for _, in := range invalid {
		got, err := ParseTTL(in)
		if !errors.Is(err, ErrInvalidTTL) {
			t.Errorf("ParseTTL(%q) = %v, %v; want ErrInvalidTTL", in, got, err)
		}
	}
}
