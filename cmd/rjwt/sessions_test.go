package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rjwt/rjwt"
)

func TestSessionsListsLiveSessionsSoonestFirst(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	_, long := sign(t, c, "alice", "1 hour")
	_, short := sign(t, c, "alice", "10 minutes")
	sign(t, c, "bob", "1 hour")

	r := runCmd(t, "-redis", redisAddr, "-prefix", p, "sessions", "alice").want(t, exitOK)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, 2 sessions and a count; got\n%s", r.stdout)
	}
	if !strings.HasPrefix(lines[1], short+" ") || !strings.HasPrefix(lines[2], long+" ") {
		t.Errorf("want %s then %s (soonest to expire first); got\n%s", short, long, r.stdout)
	}
	// Aligned columns: each row's expiry and TTL start under their headers.
	exp, ttl := strings.Index(lines[0], "EXPIRES"), strings.Index(lines[0], "TTL")
	for _, l := range lines[1:3] {
		if l[exp-1] != ' ' || l[exp] == ' ' || l[ttl-1] != ' ' || l[ttl] == ' ' {
			t.Errorf("columns not aligned with the header:\n%s\n%s", lines[0], l)
		}
	}
	if !strings.Contains(lines[1], " 10m ") && !strings.Contains(lines[1], " 9m59s ") {
		t.Errorf("TTL left of a 10-minute session: %q", lines[1])
	}
	if lines[3] != "2 live session(s)" {
		t.Errorf("count line %q", lines[3])
	}

	r = runCmd(t, "-redis", redisAddr, "-prefix", p, "-json", "sessions", "alice").want(t, exitOK)
	var got struct {
		User     string
		Count    int
		Sessions []struct {
			Session    string
			ExpiresAt  string
			TTLSeconds int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v: %q", err, r.stdout)
	}
	if got.User != "alice" || got.Count != 2 || len(got.Sessions) != 2 || got.Sessions[0].Session != short || got.Sessions[1].Session != long {
		t.Errorf("JSON %+v", got)
	}
	if s := got.Sessions[0]; s.TTLSeconds < 590 || s.TTLSeconds > 600 || s.ExpiresAt == "" {
		t.Errorf("10-minute session: %+v", s)
	}
}

func TestSessionsOfAUserWithNone(t *testing.T) {
	t.Parallel()
	// REDIS_URL stands in for -redis.
	env := inv{env: []string{"REDIS_URL=redis://" + redisAddr + "/0"}}
	r := env.run(t, "-prefix", prefix(t), "sessions", "nobody").want(t, exitOK)
	if r.stdout != "no live sessions for \"nobody\"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	r = env.run(t, "-prefix", prefix(t), "-json", "sessions", "nobody").want(t, exitOK)
	if r.stdout != `{"user":"nobody","count":0,"sessions":[]}`+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	token, session := sign(t, c, "alice", "1 hour")
	_, other := sign(t, c, "alice", "1 hour")
	args := []string{"-redis", redisAddr, "-prefix", p}

	r := runCmd(t, append(args, "revoke", session)...).want(t, exitOK)
	if r.stdout != "revoked 1 session: "+session+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if _, err := c.Verify(context.Background(), token); !errors.Is(err, rjwt.ErrSessionNotFound) {
		t.Errorf("the revoked session's token still verifies: %v", err)
	}

	// Again: not found, exit 1, in text and JSON.
	r = runCmd(t, append(args, "revoke", session)...).want(t, exitFailed)
	if !strings.Contains(r.stderr, "not found") || r.stdout != "" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	r = runCmd(t, append(args, "-json", "revoke", session)...).want(t, exitFailed)
	var fail struct{ Error, Status string }
	if err := json.Unmarshal([]byte(r.stdout), &fail); err != nil || fail.Status != "failed" || !strings.Contains(fail.Error, "not found") {
		t.Errorf("JSON failure %q (%v)", r.stdout, err)
	}

	// Not a session name at all.
	r = runCmd(t, append(args, "revoke", "alice")...).want(t, exitFailed)
	if !strings.Contains(r.stderr, "not a session name") {
		t.Errorf("stderr %q", r.stderr)
	}

	r = runCmd(t, append(args, "-json", "revoke", other)...).want(t, exitOK)
	if r.stdout != `{"session":"`+other+`","revoked":1}`+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	for range 3 {
		sign(t, c, "bob", "1 hour")
	}
	carol, _ := sign(t, c, "carol", "1 hour")
	args := []string{"-redis", redisAddr, "-prefix", p}

	r := runCmd(t, append(args, "-json", "revoke-all", "bob")...).want(t, exitOK)
	if r.stdout != `{"user":"bob","revoked":3}`+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if list, err := c.Sessions(context.Background(), "bob"); err != nil || len(list) != 0 {
		t.Errorf("bob still has %d sessions (%v)", len(list), err)
	}
	if _, err := c.Verify(context.Background(), carol); err != nil {
		t.Errorf("another user's session was revoked: %v", err)
	}
	// Nothing left to revoke is a count of 0, not a failure.
	r = runCmd(t, append(args, "revoke-all", "bob")...).want(t, exitOK)
	if r.stdout != "revoked 0 session(s) of \"bob\"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestSessionsShowTheDeviceList(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "dora", rjwt.WithMeta(map[string]string{"device": "phone", "ip": "10.0.0.7"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, "-redis", redisAddr, "-prefix", p, "sessions", "dora").want(t, exitOK)
	for _, want := range []string{"CREATED", "LAST SEEN", "DEVICE", "device=phone ip=10.0.0.7"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in\n%s", want, r.stdout)
		}
	}
	r = runCmd(t, "-redis", redisAddr, "-prefix", p, "-json", "sessions", "dora").want(t, exitOK)
	var got struct {
		Sessions []struct {
			CreatedAt, LastSeen *time.Time
			Meta                map[string]string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 1 || got.Sessions[0].CreatedAt == nil || got.Sessions[0].LastSeen == nil || got.Sessions[0].Meta["device"] != "phone" {
		t.Errorf("JSON %s", r.stdout)
	}
}
