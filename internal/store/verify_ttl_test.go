package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// TestVerifyTTLAgreesWithVerify: the cache's read (verify_ttl.lua) and
// Verify's (verify.lua) apply one liveness rule, in every state a session's
// two keys can be in.
func TestVerifyTTLAgreesWithVerify(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Prefix: "s:", Timeout: time.Second})
	const nano = "abcdefghijklmnopqrstu"
	cases := []struct {
		name  string
		setup func(idx, hash string)
		live  bool
		data  string
		left  time.Duration // upper bound; -1: none
	}{
		{"live with data", func(idx, hash string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", `{"a":1}`)
			rdb.PExpire(ctx, hash, time.Hour)
			rdb.PExpire(ctx, idx, 2*time.Hour)
		}, true, `{"a":1}`, time.Hour},
		{"live, empty data, index expires first", func(idx, hash string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "")
			rdb.PExpire(ctx, hash, time.Hour)
			rdb.PExpire(ctx, idx, time.Minute)
		}, true, "", time.Minute},
		{"live, no expiry", func(idx, hash string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "x")
		}, true, "x", -1},
		{"no index entry", func(idx, hash string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: "other"})
			rdb.HSet(ctx, hash, "d", "x")
		}, false, "", 0},
		{"no hash", func(idx, hash string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
		}, false, "", 0},
		{"nothing", func(idx, hash string) {}, false, "", 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "u" + string(rune('a'+i))
			tc.setup(s.Index(id), s.Session(id, nano))
			live, data, err := s.Verify(ctx, id, nano, false)
			if err != nil {
				t.Fatal(err)
			}
			liveData, gotData, err := s.Verify(ctx, id, nano, true)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := s.VerifyTTL(ctx, rdb, id, nano)
			if err != nil {
				t.Fatal(err)
			}
			if live != tc.live || liveData != tc.live || tr.Live != tc.live {
				t.Fatalf("live: verify %v, verify with data %v, verify_ttl %v; want %v", live, liveData, tr.Live, tc.live)
			}
			if !tc.live {
				return
			}
			if string(gotData) != tc.data || string(tr.Data) != tc.data || !tr.HasData {
				t.Fatalf("data: verify %q, verify_ttl %q (has %v); want %q", gotData, tr.Data, tr.HasData, tc.data)
			}
			_ = data
			switch {
			case tc.left < 0 && tr.Left != -1:
				t.Fatalf("left %v, want none", tr.Left)
			case tc.left > 0 && (tr.Left <= tc.left-time.Second || tr.Left > tc.left):
				t.Fatalf("left %v, want just under %v", tr.Left, tc.left)
			}
		})
	}
}
