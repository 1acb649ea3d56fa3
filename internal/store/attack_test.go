package store_test

import (
	"context"
	"strconv"
	"strings"
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

// TestAttackRevocationOutOfMemoryStillLeavesItsTombstone: Revoke runs when
// Redis is out of memory under noeviction (allow-oom), and so does the
// tombstone it writes for a session inside its Sign's window: a replay of
// that Sign, once memory is back, does not bring the session back.
func TestAttackRevocationOutOfMemoryStillLeavesItsTombstone(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	s := store.New(rdb, store.Config{Prefix: "s:", Skew: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := store.SignArgs{ID: "u", Nano: "oomoomoomoomoomoomoo1", TTL: time.Hour, Issued: time.Now()}
	if _, err := s.Sign(ctx, a); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 10000)
	full := 0
	for ; rdb.Set(ctx, "fill"+strconv.Itoa(full), big, 0).Err() == nil; full++ {
	}
	if ok, err := s.Revoke(ctx, "u", a.Nano); err != nil || !ok {
		t.Fatalf("revoke out of memory: %v, %v", ok, err)
	}
	if rdb.Exists(ctx, s.UserBase("u")+"op:"+a.Nano).Val() != 1 {
		t.Fatal("no tombstone written out of memory")
	}
	for i := range full {
		rdb.Del(ctx, "fill"+strconv.Itoa(i))
	}
	if _, err := s.Sign(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := s.Verify(ctx, "u", a.Nano, false); ok {
		t.Error("a replay after memory came back revived the session revoked out of memory")
	}
}

// TestAttackSignReplayOnACluster: the tombstones are written in the user's
// slot (the scripts build their names from the user's key base), so on a
// Cluster every way of ending a session still stops a replay of its Sign.
func TestAttackSignReplayOnACluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer rdb.Close()
	s := store.New(rdb, store.Config{Prefix: "s:", Skew: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []string{"alice", "bob", "carol"} {
		sign := func(a store.SignArgs, want int) {
			t.Helper()
			if n, err := s.Sign(ctx, a); err != nil || n != want {
				t.Fatalf("%s %s: %d, %v; want %d", id, a.Nano, n, err, want)
			}
		}
		a := store.SignArgs{ID: id, Nano: "aaaaaaaaaaaaaaaaaaaa1", TTL: time.Hour, Issued: time.Now()}
		sign(a, 0)
		b := store.SignArgs{ID: id, Nano: "aaaaaaaaaaaaaaaaaaaa2", TTL: time.Hour, MaxSessions: 1, Issued: time.Now()}
		sign(b, 1) // the cap ends a
		c := store.SignArgs{ID: id, Nano: "aaaaaaaaaaaaaaaaaaaa3", TTL: time.Hour, Single: true, Issued: time.Now()}
		sign(c, 1) // single mode ends b
		if ok, err := s.Revoke(ctx, id, c.Nano); err != nil || !ok {
			t.Fatalf("revoke: %v, %v", ok, err)
		}
		d := store.SignArgs{ID: id, Nano: "aaaaaaaaaaaaaaaaaaaa4", TTL: time.Hour, Issued: time.Now()}
		sign(d, 0)
		if n, err := s.RevokeAll(ctx, id); err != nil || n != 1 {
			t.Fatalf("revoke all: %d, %v", n, err)
		}
		for _, x := range []store.SignArgs{a, b, c, d} {
			if _, err := s.Sign(ctx, x); err != nil {
				t.Fatal(err)
			}
			if ok, _, err := s.Verify(ctx, id, x.Nano, false); err != nil || ok {
				t.Errorf("%s %s: a replay of its Sign revived it (%v, %v)", id, x.Nano, ok, err)
			}
		}
	}
}
