package main

import (
	"strconv"
	"time"
)

// human writes a duration as operators read it: its two largest units,
// truncated to the second: "6d23h", "23h59m", "5m3s", "42s", "0s". A week
// less six seconds is "6d23h", not Go's "167h59m54s".
func human(d time.Duration) string {
	if d < 0 {
		return "-" + human(-d)
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	hours, s := s/3600, s%3600
	mins, secs := s/60, s%60
	two := func(a int64, au string, b int64, bu string) string {
		out := strconv.FormatInt(a, 10) + au
		if b > 0 {
			out += strconv.FormatInt(b, 10) + bu
		}
		return out
	}
	switch {
	case days > 0:
		return two(days, "d", hours, "h")
	case hours > 0:
		return two(hours, "h", mins, "m")
	case mins > 0:
		return two(mins, "m", secs, "s")
	}
	return strconv.FormatInt(secs, 10) + "s"
}
