package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// TestAttackSignAnswerKeyExpiresInsideItsWriteWindow: a run of a Sign can
// still write until its caller's deadline plus the skew (by Redis's clock),
// so its answer key must live at least that long: a run of the same call
// (go-redis's retry after a lost reply, a copy that sat in a network queue)
// that finds neither the answer key nor the session (revoked since) creates
// the session again. sign.lua caps the key at 60 s, so with a deadline plus
// skew past a minute (WithLeeway(2*time.Minute), WithTimeout(90*time.Second)
// or a caller's context.WithTimeout(ctx, 2*time.Minute)) the key expires
// while a run is still accepted: from 60 s to 120 s after the first run, a
// replay resurrects the revoked session. (The end of the test plays what
// Redis does at 60 s, when the key expires, instead of waiting a minute.)
func TestAttackSignAnswerKeyExpiresInsideItsWriteWindow(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	s := store.New(rdb, store.Config{Prefix: "s:", Skew: 2 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	dl, _ := ctx.Deadline()
	a := store.SignArgs{ID: "victim", Nano: "abcdefghijklmnopqrstu", TTL: time.Hour, Issued: time.Now()}
	if _, err := s.Sign(ctx, a); err != nil {
		t.Fatal(err)
	}
	op := s.UserBase(a.ID) + "op:" + a.Nano
	left := rdb.PTTL(ctx, op).Val()
	// A run is accepted until dl + skew (Redis's clock = this host's here).
	window := time.Until(dl.Add(2 * time.Minute))
	if left < window {
		t.Errorf("Sign's answer key lives %v, but a run of the same Sign still writes for %v", left, window)
	}
	if ok, err := s.Revoke(ctx, a.ID, a.Nano); err != nil || !ok {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if left < window {
		// What Redis does when the key's PTTL runs out, while the window is
		// still open: a replay now recreates the revoked session.
		rdb.Del(ctx, op)
		if _, err := s.Sign(ctx, a); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := s.Verify(ctx, a.ID, a.Nano, false); err != nil || ok {
			t.Errorf("a replay of the Sign inside its window brought the revoked session back (verify: %v, %v)", ok, err)
		}
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
