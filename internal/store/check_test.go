package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

// TestCheckReadsAgreeWithTheSeenScript: Check's common path (plain reads,
// the seen script only when a write is due) answers and writes what the
// seen script alone does, in every state a session can be in.
func TestCheckReadsAgreeWithTheSeenScript(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	now := func() int64 { return rdb.Time(ctx).Val().UnixMilli() }
	const every = time.Minute
	cases := []struct {
		name  string
		setup func(idx, hash, nano string)
	}{
		{"live, seen just now", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", `{"a":1}`, "s", now())
			rdb.PExpire(ctx, hash, time.Hour)
		}},
		{"live, last use stale", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "", "s", now()-2*every.Milliseconds())
			rdb.PExpire(ctx, hash, time.Hour)
		}},
		{"live, no last use", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "x")
		}},
		{"idle, not due", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "", "s", now(), "i", 60_000, "x", now()+3_600_000)
			rdb.PExpire(ctx, hash, 50*time.Second)
		}},
		{"idle, extension due", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "", "s", now(), "i", 60_000, "x", now()+3_600_000)
			rdb.PExpire(ctx, hash, 20*time.Second)
		}},
		{"idle, near its end", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "", "s", now(), "i", 60_000, "x", now()+20_000)
			rdb.PExpire(ctx, hash, 20*time.Second)
		}},
		{"new layout, created just now, no last use", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "", "c", now(), "o", -1)
			rdb.PExpire(ctx, hash, time.Hour)
		}},
		{"new layout, created long ago, no last use", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, hash, "d", "", "c", now()-2*every.Milliseconds(), "o", -1)
			rdb.PExpire(ctx, hash, time.Hour)
		}},
		{"no index entry", func(idx, hash, nano string) {
			rdb.HSet(ctx, hash, "d", "")
		}},
		{"no hash", func(idx, hash, nano string) {
			rdb.ZAdd(ctx, idx, redis.Z{Score: 1, Member: nano})
		}},
	}
	for _, mode := range []struct{ auto, idle bool }{{false, true}, {true, true}, {false, false}, {true, false}} {
		auto := mode.auto
		s := New(rdb, Config{Prefix: "c:", Timeout: time.Second, AutoPipeline: auto, SeenEvery: every, Idle: mode.idle})
		for i, tc := range cases {
			var got [2]CheckResult
			var state [2][]any
			for j, user := range []string{"script", "reads"} {
				nano := "abcdefghijklmnopqrst" + string(rune('a'+i))
				hash, idx := s.Session(user, nano), s.Index(user)
				rdb.Del(ctx, hash, idx)
				tc.setup(idx, hash, nano)
				var err error
				if j == 0 {
					got[j], err = s.checkScript(ctx, user, nano, true, every, true)
				} else {
					got[j], err = s.Check(ctx, user, nano, true)
				}
				if err != nil {
					t.Fatalf("%s: %s: %v", tc.name, user, err)
				}
				state[j] = append(rdb.HMGet(ctx, hash, "s", "i", "x").Val(), rdb.PTTL(ctx, hash).Val())
			}
			if got[0].Live != got[1].Live || string(got[0].Data) != string(got[1].Data) {
				t.Errorf("%s (auto %v): script %+v, reads %+v", tc.name, auto, got[0], got[1])
			}
			if d := got[0].Fresh - got[1].Fresh; mode.idle && (d > time.Second || d < -time.Second) {
				t.Errorf("%s (auto %v): fresh %v vs %v", tc.name, auto, got[0].Fresh, got[1].Fresh)
			}
			// the last use: both written (within a second) or both left
			s0, _ := msField(state[0][0])
			s1, _ := msField(state[1][0])
			l0, l1 := state[0][3].(time.Duration), state[1][3].(time.Duration)
			if (state[0][0] == nil) != (state[1][0] == nil) || s0-s1 > 1000 || s1-s0 > 1000 || l0-l1 > time.Second || l1-l0 > time.Second {
				t.Errorf("%s (auto %v): after the script %v, after the reads %v", tc.name, auto, state[0], state[1])
			}
		}
	}
}

// oneNano is the session storeWithOneSession signs, for user "u".
const oneNano = "abcdefghijklmnopqrstu"

// storeWithOneSession starts a redis-server and a Store on it (prefix, 1 s
// timeout, last use written at most once a minute) holding one fresh,
// hour-long session: user "u", nanoid oneNano.
func storeWithOneSession(t *testing.T, prefix string) (*redistest.Server, *redis.Client, *Store) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s := New(rdb, Config{Layout: LayoutClassic, Prefix: prefix, Timeout: time.Second, SeenEvery: time.Minute})
	if _, err := s.Sign(context.Background(), SignArgs{ID: "u", Nano: oneNano, TTL: time.Hour, Issued: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return srv, rdb, s
}

// TestCheckReadsNeedNoWriteForAFreshSession: a session Sign just wrote has
// no last use, only its creation, which stands for it: its first Verify is
// plain reads, with no second round trip for the seen script.
func TestCheckReadsNeedNoWriteForAFreshSession(t *testing.T) {
	_, rdb, s := storeWithOneSession(t, "f:")
	ctx := context.Background()
	r, due, err := s.checkReads(ctx, "u", oneNano, false, time.Minute)
	if err != nil || !r.Live || due {
		t.Fatalf("checkReads of a fresh session: %+v, due %v, %v", r, due, err)
	}
	rdb.HSet(ctx, s.Session("u", oneNano), "c", rdb.Time(ctx).Val().UnixMilli()-2*time.Minute.Milliseconds())
	if _, due, err := s.checkReads(ctx, "u", oneNano, false, time.Minute); err != nil || !due {
		t.Fatalf("checkReads of a session created two minutes ago and never used: due %v, %v", due, err)
	}
}

// TestCheckSharesPipelines: concurrent Checks through the batcher each get
// their own answer, and a caller whose context ends stops waiting.
func TestCheckSharesPipelines(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := New(rdb, Config{Prefix: "p:", Timeout: time.Second, AutoPipeline: true})
	const nano = "abcdefghijklmnopqrstu"
	for i := range 50 {
		if i%2 == 0 {
			user := "u" + string(rune('a'+i))
			rdb.ZAdd(ctx, s.Index(user), redis.Z{Score: 1, Member: nano})
			rdb.HSet(ctx, s.Session(user, nano), "d", user, "s", rdb.Time(ctx).Val().UnixMilli())
		}
	}
	var wg sync.WaitGroup
	for round := range 20 {
		for i := range 50 {
			wg.Go(func() {
				user := "u" + string(rune('a'+i))
				r, err := s.Check(ctx, user, nano, true)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Live != (i%2 == 0) || (r.Live && string(r.Data) != user) {
					t.Errorf("round %d: %s: %+v", round, user, r)
				}
			})
		}
	}
	wg.Wait()
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Check(done, "ua", nano, false); err == nil {
		t.Error("a cancelled call succeeded")
	}
}
