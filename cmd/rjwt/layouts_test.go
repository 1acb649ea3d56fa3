package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rjwt/rjwt"
)

// TestCommandsReadBothLayouts: on a server with hash-field expiry, sessions,
// inspect and stats see a user's classic and lean sessions alike.
func TestCommandsReadBothLayouts(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	classic := app(t, redisAddr, p)
	lean := app(t, redisAddr, p, rjwt.WithLayout(rjwt.LayoutLean))
	if _, err := lean.Layout(context.Background()); err != nil {
		if !errors.Is(err, rjwt.ErrNoFieldExpiry) {
			t.Fatal(err)
		}
		t.Skip("the server has no hash-field expiry")
	}
	_, old := sign(t, classic, "alice", "1 hour")
	token, fresh := sign(t, lean, "alice", "10 minutes")

	r := runCmd(t, "-redis", redisAddr, "-prefix", p, "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stdout, old) || !strings.Contains(r.stdout, fresh) || !strings.Contains(r.stdout, "2 live session(s)") {
		t.Errorf("sessions of both layouts:\n%s", r.stdout)
	}
	r = inv{env: []string{"RJWT_SECRET=" + string(secret)}}.run(t, "-redis", redisAddr, "-prefix", p, "inspect", token).want(t, exitOK)
	if got := line(r.stdout, "redis"); !strings.HasPrefix(got, "live, TTL ") {
		t.Errorf("inspect of a lean session: redis %q\n%s", got, r.stdout)
	}
	s := stats(t, redisAddr, p)
	if s.Sessions != 2 || s.Users != 1 || s.Indexes != 1 || s.LeanHashes != 1 || s.OtherKeys != 0 {
		t.Errorf("stats %+v: want 2 sessions of 1 user, a classic index and a lean hash", s)
	}
}
