package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// TestAttackSignReplayInsideItsWindowNeverRevivesARevokedSession: a run of
// a Sign can still write until its caller's deadline plus the skew (by
// Redis's clock), so a run of the same call (go-redis's retry after a lost
// reply, a copy that sat in a network queue) may arrive after the session it
// created was ended. Every way of ending a session inside that window must
// leave something that the run finds, for the whole window, however long
// (here 2 minutes, past the 60 s an answer key once lived): Revoke,
// RevokeAll, a newer single-mode login, the multiple-mode cap, and Refresh
// ending a session whose refresh token was reused (a copy of its Sign still
// in a network queue while the caller's retry succeeded, the tokens were
// used and stolen: the stolen session must stay ended).
func TestAttackSignReplayInsideItsWindowNeverRevivesARevokedSession(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	s := store.New(rdb, store.Config{Prefix: "s:", Skew: 2 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	dl, _ := ctx.Deadline()
	const victim = "abcdefghijklmnopqrstu"
	for _, c := range []struct {
		name    string
		single  bool
		max     int
		refresh string
		end     func(id string) error
	}{
		{"revoke", false, 0, "", func(id string) error { _, err := s.Revoke(ctx, id, victim); return err }},
		{"revoke all", false, 0, "", func(id string) error { _, err := s.RevokeAll(ctx, id); return err }},
		{"a newer single-mode login", true, 0, "", func(id string) error {
			_, err := s.Sign(ctx, store.SignArgs{ID: id, Nano: "newerloginnnnnnnnnnnn", TTL: time.Hour, Single: true, Issued: time.Now()})
			return err
		}},
		{"the cap", false, 1, "", func(id string) error {
			_, err := s.Sign(ctx, store.SignArgs{ID: id, Nano: "newerloginnnnnnnnnnnn", TTL: 2 * time.Hour, MaxSessions: 1, Issued: time.Now()})
			return err
		}},
		{"a reused refresh token", false, 0, "r0", func(id string) error {
			for _, p := range []struct{ presented, next string }{{"r0", "r1"}, {"r0", "r2"}} {
				if _, err := s.Refresh(ctx, store.RefreshArgs{ID: id, Nano: victim, Presented: p.presented, Next: p.next, TTL: time.Hour}); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "victim-" + strconv.Itoa(len(c.name))
			a := store.SignArgs{ID: id, Nano: victim, TTL: time.Hour, Single: c.single, MaxSessions: c.max, Issued: time.Now()}
			if c.refresh != "" {
				a.RefreshID, a.AccessTTL = c.refresh, time.Minute
			}
			if _, err := s.Sign(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := c.end(id); err != nil {
				t.Fatal(err)
			}
			if ok, _, err := s.Verify(ctx, id, victim, false); err != nil || ok {
				t.Fatalf("the session was not ended: %v, %v", ok, err)
			}
			// What the replay will find lives as long as the window.
			left := rdb.PTTL(ctx, s.UserBase(id)+"op:"+victim).Val()
			if window := time.Until(dl.Add(2 * time.Minute)); left < window {
				t.Errorf("the ended session's tombstone lives %v, but a run of its Sign still writes for %v", left, window)
			}
			if n, err := s.Sign(ctx, a); err != nil || n != 0 {
				t.Errorf("the replay: %d, %v; want 0 (the first run's answer)", n, err)
			}
			if ok, _, err := s.Verify(ctx, id, victim, false); err != nil || ok {
				t.Errorf("a replay of the Sign inside its window brought the ended session back (verify: %v, %v)", ok, err)
			}
			if rdb.Exists(ctx, s.Session(id, victim)).Val() != 0 {
				t.Errorf("the replay wrote the session's hash again")
			}
		})
	}
}

// TestAttackMixedModeDelayedSingleSignEndsANewerLogin: the previous layout
// wrote "o" (the issue time) in both modes, so a single-mode Sign that sat
// in a queue found any login of the user issued after it, in either mode,
// and was refused (ErrSuperseded: the newer login wins). The new layout
// writes "o" only in single mode: a session signed in multiple mode (a
// client of the fleet still or already WithMultiple on the same prefix, the
// rjwt command, a service account) has none, and a delayed single-mode Sign
// issued before it now ends it instead.
func TestAttackMixedModeDelayedSingleSignEndsANewerLogin(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Prefix: "s:", Timeout: time.Second, Skew: 5 * time.Second})
	now := time.Now()
	newer := store.SignArgs{ID: "mixed", Nano: "nnnnnnnnnnnnnnnnnnnnn", TTL: time.Hour, Issued: now}
	if _, err := s.Sign(ctx, newer); err != nil {
		t.Fatal(err)
	}
	late := store.SignArgs{ID: "mixed", Nano: "lllllllllllllllllllll", TTL: time.Hour, Single: true, Issued: now.Add(-time.Second)}
	n, err := s.Sign(ctx, late)
	if err != store.ErrSuperseded {
		t.Errorf("a single-mode Sign issued before the user's newer login: %d, %v; want ErrSuperseded", n, err)
	}
	if ok, _, err := s.Verify(ctx, newer.ID, newer.Nano, false); err != nil || !ok {
		t.Errorf("the newer login was ended by an older one: %v, %v", ok, err)
	}
}
