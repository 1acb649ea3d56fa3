package store_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// TestRecordFields reads records as lib/lean.lua writes them.
func TestRecordFields(t *testing.T) {
	t0 := int64(1_796_691_230_288)
	head := func(ext bool) string {
		b := []byte{byte(t0 >> 40), byte(t0 >> 32), byte(t0 >> 24), byte(t0 >> 16), byte(t0 >> 8), byte(t0)}
		if ext {
			b[0] |= 0x80
		}
		return string(b)
	}
	c := strconv.FormatInt(t0-5000, 10)
	cases := []struct {
		name string
		rec  string
		want map[string]string
		ok   bool
	}{
		{"plain", head(false) + `{"a":1}`, map[string]string{"d": `{"a":1}`, "c": strconv.FormatInt(t0, 10), "o": "0", "w": "60"}, true},
		{"no data", head(false), map[string]string{"d": "", "c": strconv.FormatInt(t0, 10), "o": "0", "w": "60"}, true},
		{"extended", head(true) + "C13:" + c + "W3:120m10:{\"u\":\":.\"}r3:abc." + "x.y",
			map[string]string{"d": "x.y", "c": c, "o": "5000", "w": "125", "m": `{"u":":."}`, "r": "abc"}, true},
		{"short", "abc", nil, false},
		{"ext without end", head(true) + "r3:abc", nil, false},
		{"length past the end", head(true) + "r9:abc.", nil, false},
	}
	for _, tc := range cases {
		got, ok := store.RecordFields(tc.rec)
		if ok != tc.ok || (ok && !maps.Equal(got, tc.want)) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// leanStore is a store on the lean layout, or a skip where the server has
// no hash-field expiry.
func leanStore(t *testing.T, rdb *redis.Client, cfg store.Config) *store.Store {
	t.Helper()
	cfg.Layout = store.LayoutLean
	s := store.New(rdb, cfg)
	if _, err := s.Layout(context.Background()); err != nil {
		if !errors.Is(err, store.ErrNoFieldExpiry) {
			t.Fatal(err)
		}
		t.Skip("the server has no hash-field expiry")
	}
	return s
}

// TestLeanRecordHoldsTheClassicFields: a lean Sign keeps the same fields as
// a classic one (the same script wrote them), in a record of 6 bytes plus
// the data when there is nothing else, with the session's expiry on its
// field.
func TestLeanRecordHoldsTheClassicFields(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	cfg := store.Config{Prefix: "s:", Timeout: time.Second, Skew: 2 * time.Second}
	lean := leanStore(t, rdb, cfg)
	cfg.Layout = store.LayoutClassic
	classic := store.New(rdb, cfg)
	data := []byte(`{"plan":"free","role":"user"}`)
	cases := []store.SignArgs{
		{},
		{Single: true},
		{RefreshID: "rrrrrrrrrrrrrrrrrrrrr", AccessTTL: time.Minute},
		{Idle: time.Minute},
		{Meta: []byte(`{"ua":"x:1.0"}`), AuthTime: 1_700_000_000, AMR: "pwd otp", JKT: "thumb"},
	}
	for i, a := range cases {
		a.Nano, a.TTL, a.Issued, a.Data = "abcdefghijklmnopqrst"+strconv.Itoa(i), time.Hour, time.Now(), data
		a.ID = "c" + strconv.Itoa(i)
		if _, err := classic.Sign(ctx, a); err != nil {
			t.Fatal(err)
		}
		want := rdb.HGetAll(ctx, classic.Session(a.ID, a.Nano)).Val()
		a.ID = "l" + strconv.Itoa(i)
		if _, err := lean.Sign(ctx, a); err != nil {
			t.Fatal(err)
		}
		rec, err := rdb.HGet(ctx, lean.Lean(a.ID), a.Nano).Result()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := store.RecordFields(rec)
		if !ok {
			t.Fatalf("case %d: record %q does not parse", i, rec)
		}
		if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, slices.Sorted(maps.Keys(want))) {
			t.Errorf("case %d: lean fields %v, classic %v", i, names, slices.Sorted(maps.Keys(want)))
		}
		for name, v := range want {
			switch name {
			case "c", "x": // Redis's time at each Sign
				g, _ := strconv.ParseInt(got[name], 10, 64)
				w, _ := strconv.ParseInt(v, 10, 64)
				if g < w-1000 || g > w+1000 {
					t.Errorf("case %d: %s = %s, classic %s", i, name, got[name], v)
				}
			case "o", "w": // relative to "c", which lean keeps within a second of the issue time
			default:
				if got[name] != v {
					t.Errorf("case %d: %s = %q, classic %q", i, name, got[name], v)
				}
			}
		}
		if i == 0 && len(rec) != 6+len(data) {
			t.Errorf("a plain session's record is %d bytes, want 6 + %d", len(rec), len(data))
		}
		left := rdb.HPTTL(ctx, lean.Lean(a.ID), a.Nano).Val()
		if len(left) != 1 || left[0] < 59_000 || left[0] > 3_600_000 {
			t.Errorf("case %d: field TTL %v", i, left)
		}
		if n := rdb.Exists(ctx, classic.Session(a.ID, a.Nano), classic.Index(a.ID)).Val(); n != 0 {
			t.Errorf("case %d: the lean Sign wrote %d classic keys", i, n)
		}
		if ttl := rdb.PTTL(ctx, lean.Lean(a.ID)).Val(); ttl != -1 {
			t.Errorf("case %d: the lean hash has an expiry of its own (%v)", i, ttl)
		}
	}
}

// TestLeanOutOfMemoryRefusesWhole: under noeviction at maxmemory a lean
// Sign writes nothing (the script carries no allow-oom flag: Redis refuses
// it before it runs), and Revoke still frees.
func TestLeanOutOfMemoryRefusesWhole(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := leanStore(t, rdb, store.Config{Prefix: "oom:"})
	a := store.SignArgs{ID: "u", Nano: "abcdefghijklmnopqrstu", TTL: time.Hour, Issued: time.Now(), Data: []byte("{}")}
	if _, err := s.Sign(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	used := rdb.InfoMap(ctx, "memory").Val()["Memory"]["used_memory"]
	if err := rdb.ConfigSet(ctx, "maxmemory", used).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.ConfigSet(ctx, "maxmemory", "0")
	b := a
	b.Nano = "bbcdefghijklmnopqrstu"
	if _, err := s.Sign(ctx, b); err == nil || !errors.Is(err, store.ErrUnavailable) && !isOOM(err) {
		t.Fatalf("Sign out of memory: %v, want a refusal", err)
	}
	if n := rdb.HLen(ctx, s.Lean("u")).Val(); n != 1 {
		t.Fatalf("the refused Sign left %d fields, want 1", n)
	}
	ok, err := s.Revoke(ctx, "u", a.Nano)
	if err != nil || !ok {
		t.Fatalf("Revoke out of memory: %v %v", ok, err)
	}
	if n := rdb.Exists(ctx, s.Lean("u")).Val(); n != 0 {
		t.Fatal("the lean hash outlived its last session")
	}
}

func isOOM(err error) bool { return err != nil && store.ReplyCode(err) == "OOM" }
