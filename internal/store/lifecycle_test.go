package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// TestReissueTwiceMakesOneSession: a second run of the same Reissue (a
// retry after a lost reply) answers the first's new session and writes
// nothing; once that session ended, a run answers "not live", never a
// second session.
func TestReissueTwiceMakesOneSession(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "r:", Timeout: time.Second, Skew: 2 * time.Second})
	old, nu := "ooooooooooooooooooooo", "nnnnnnnnnnnnnnnnnnnnn"
	if _, err := s.Sign(ctx, store.SignArgs{ID: "u", Nano: old, Data: []byte(`1`), TTL: time.Hour, RefreshID: "aaaaaaaaaaaaaaaaaaaaa",
		AccessTTL: time.Minute, Issued: time.Now(), AuthTime: 1700000000, AMR: "pwd otp"}); err != nil {
		t.Fatal(err)
	}
	a := store.ReissueArgs{ID: "u", Old: old, New: nu, RefreshID: "bbbbbbbbbbbbbbbbbbbbb"}
	first, err := s.Reissue(ctx, a)
	if err != nil || !first.Live {
		t.Fatalf("first run: %+v, %v", first, err)
	}
	if first.AuthTime != 1700000000 || first.AMR != "pwd otp" || first.Access != time.Minute || first.RefreshID != a.RefreshID {
		t.Fatalf("first run kept the wrong login: %+v", first)
	}
	if d := time.Hour - first.Life; d < 0 || d > 5*time.Second {
		t.Fatalf("life %v, want the old session's remaining hour", first.Life)
	}
	second, err := s.Reissue(ctx, a)
	if err != nil || second != first {
		t.Fatalf("second run: %+v, %v; want %+v", second, err, first)
	}
	if n := rdb.ZCard(ctx, "r:{u}:idx").Val(); n != 1 {
		t.Fatalf("%d sessions indexed, want 1", n)
	}
	if ok, err := s.Revoke(ctx, "u", nu); err != nil || !ok {
		t.Fatalf("revoke: %v, %v", ok, err)
	}
	third, err := s.Reissue(ctx, a)
	if err != nil || third.Live {
		t.Fatalf("a run after the new session ended: %+v, %v; want not live", third, err)
	}
	if n := rdb.Exists(ctx, "r:{u}:"+nu, "r:{u}:"+old).Val(); n != 0 {
		t.Fatalf("%d of the sessions came back", n)
	}
	if why, _ := s.Why(ctx, "u", old); why != "e" {
		t.Fatalf("old session's reason %q, want e", why)
	}
}

// TestSignRefusesAtTheCap: the refusing policy writes nothing.
func TestSignRefusesAtTheCap(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "l:", Timeout: time.Second, Skew: 2 * time.Second})
	for i, nano := range []string{"111111111111111111111", "222222222222222222222", "333333333333333333333"} {
		_, err := s.Sign(ctx, store.SignArgs{ID: "u", Nano: nano, TTL: time.Hour, MaxSessions: 2, Policy: 3, Issued: time.Now()})
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && err != store.ErrTooMany {
			t.Fatalf("third Sign: %v, want ErrTooMany", err)
		}
	}
	if n := rdb.Exists(ctx, "l:{u}:333333333333333333333", "l:{u}:op:333333333333333333333").Val(); n != 0 {
		t.Fatal("a refused Sign wrote")
	}
}
