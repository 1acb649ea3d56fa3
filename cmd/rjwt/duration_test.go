package main

import (
	"testing"
	"time"
)

func TestHumanDurations(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		7*24*time.Hour - 6*time.Second:        "6d23h",
		7 * 24 * time.Hour:                    "7d",
		24*time.Hour + 30*time.Minute:         "1d",
		23*time.Hour + 59*time.Minute:         "23h59m",
		time.Hour + 20*time.Second:            "1h",
		15 * time.Minute:                      "15m",
		14*time.Minute + 59*time.Second:       "14m59s",
		42*time.Second + 900*time.Millisecond: "42s",
		0:                                     "0s",
		-3 * time.Minute:                      "-3m",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
}
