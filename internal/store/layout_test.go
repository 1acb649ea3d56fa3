package store_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

func fieldNames(t *testing.T, rdb *redis.Client, key string) []string {
	t.Helper()
	m, err := rdb.HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for f := range m {
		names = append(names, f)
	}
	slices.Sort(names)
	return names
}

// window is a session's Sign write window, its hash's "w" (seconds).
func window(t *testing.T, rdb *redis.Client, key string) time.Duration {
	t.Helper()
	w, err := rdb.HGet(context.Background(), key, "w").Int64()
	if err != nil {
		t.Fatalf("%s: w: %v", key, err)
	}
	return time.Duration(w) * time.Second
}

// TestSignLayout: Sign writes only what cannot be derived (keys.go); "w"
// is the window in which a run of the same call could still write; and a
// Sign writes an answer key only when its session could not stand for it.
func TestSignLayout(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "s:", Timeout: time.Second, Skew: 2 * time.Second})
	cases := []struct {
		name string
		args store.SignArgs
		want []string
	}{
		{"multiple", store.SignArgs{}, []string{"c", "d", "o", "w"}},
		{"single", store.SignArgs{Single: true}, []string{"c", "d", "o", "w"}},
		{"refresh", store.SignArgs{RefreshID: "rrrrrrrrrrrrrrrrrrrrr", AccessTTL: time.Minute}, []string{"a", "c", "d", "o", "r", "w"}},
		{"idle", store.SignArgs{Idle: time.Minute}, []string{"c", "d", "i", "o", "w", "x"}},
		{"meta", store.SignArgs{Meta: []byte(`{"ua":"x"}`)}, []string{"c", "d", "m", "o", "w"}},
	}
	for i, c := range cases {
		a := c.args
		a.ID, a.Nano, a.TTL, a.Issued = "u"+strconv.Itoa(i), "abcdefghijklmnopqrst"+strconv.Itoa(i), time.Hour, time.Now()
		if _, err := s.Sign(ctx, a); err != nil {
			t.Fatal(err)
		}
		if got := fieldNames(t, rdb, s.Session(a.ID, a.Nano)); !slices.Equal(got, c.want) {
			t.Errorf("%s: fields %v, want %v", c.name, got, c.want)
		}
		// Timeout 1 s + skew 2 s + 1 s of margin: 4 s (rounded up), not 60.
		if w := window(t, rdb, s.Session(a.ID, a.Nano)); w != 4*time.Second {
			t.Errorf("%s: write window %v, want the call's (4 s, rounded up)", c.name, w)
		}
		// An hour-long session stands for the answer (0) by itself.
		if n := rdb.Exists(ctx, s.UserBase(a.ID)+"op:"+a.Nano).Val(); n != 0 {
			t.Errorf("%s: a Sign that ended nothing wrote an answer key", c.name)
		}
		list, err := s.Sessions(ctx, a.ID)
		if err != nil || len(list) != 1 || list[0].Created < 0 || list[0].SeenSince != list[0].Created {
			t.Errorf("%s: Sessions %+v, %v: want last use = creation", c.name, list, err)
		}
	}
	// A single-mode Sign that ended a session keeps its answer (1) for the
	// window; so does one whose session's key could expire inside it.
	for _, a := range []store.SignArgs{
		{ID: "u1", Nano: "replacesuuuuuuuuuuuuu", TTL: time.Hour, Single: true, Issued: time.Now()},
		{ID: "short", Nano: "shortttttttttttttttt0", TTL: 1500 * time.Millisecond, Issued: time.Now()},
		{ID: "shortidle", Nano: "shortidleeeeeeeeeeee0", TTL: time.Hour, Idle: time.Second, Issued: time.Now()},
	} {
		n, err := s.Sign(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		op := s.UserBase(a.ID) + "op:" + a.Nano
		if got, _ := rdb.Get(ctx, op).Int(); got != n {
			t.Errorf("%s: answer key %d, want the answer %d", a.ID, got, n)
		}
		if left := rdb.PTTL(ctx, op).Val(); left <= 2*time.Second || left > 4*time.Second {
			t.Errorf("%s: answer key lives %v, want the call's window (3 s to 4 s)", a.ID, left)
		}
		if a.ID == "u1" && n != 1 {
			t.Errorf("the single-mode Sign ended %d sessions, want 1", n)
		}
	}
	// Without a deadline the window is 60 s, as before.
	none := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "s:"})
	a := store.SignArgs{ID: "nodl", Nano: "abcdefghijklmnopqrstu", TTL: time.Hour, Issued: time.Now()}
	if _, err := none.Sign(ctx, a); err != nil {
		t.Fatal(err)
	}
	if w := window(t, rdb, s.Session(a.ID, a.Nano)); w != time.Minute {
		t.Errorf("write window without a deadline %v, want 60 s", w)
	}
	// A run of the same Sign finds the hash: it writes nothing and
	// reports 0.
	rdb.HSet(ctx, s.Session(a.ID, a.Nano), "d", "kept")
	if n, err := none.Sign(ctx, a); err != nil || n != 0 {
		t.Fatalf("second run: %d, %v", n, err)
	}
	if d := rdb.HGet(ctx, s.Session(a.ID, a.Nano), "d").Val(); d != "kept" {
		t.Errorf("second run rewrote the session: d=%q", d)
	}
}

// TestPreviousLayout: sessions written by the previous layout ("s", "x"
// always, "o" as Unix ms) still verify, list, touch, refresh and revoke, and
// a single-mode Sign still reads their "o".
func TestPreviousLayout(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "s:", Timeout: time.Second})
	now := time.Now()
	ms := now.UnixMilli()
	old := func(id, nano string, issued int64, extra ...any) {
		key := s.Session(id, nano)
		f := append([]any{"d", `{"a":1}`, "c", ms - 1000, "s", ms - 1000, "x", ms + 60_000, "o", issued}, extra...)
		rdb.HSet(ctx, key, f...)
		rdb.PExpire(ctx, key, time.Minute)
		rdb.ZAdd(ctx, s.Index(id), redis.Z{Score: float64(ms + 60_000), Member: nano})
		rdb.PExpire(ctx, s.Index(id), time.Minute)
	}
	const n1, n2 = "aaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbb"
	old("u", n1, ms-1000)
	if ok, d, err := s.Verify(ctx, "u", n1, true); err != nil || !ok || string(d) != `{"a":1}` {
		t.Fatalf("verify: %v %s %v", ok, d, err)
	}
	list, err := s.Sessions(ctx, "u")
	if err != nil || len(list) != 1 || list[0].SeenSince < time.Second || list[0].Created < time.Second {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	// Touch never extends past the old absolute end "x".
	if ok, err := s.Touch(ctx, "u", n1, time.Hour); err != nil || !ok {
		t.Fatalf("touch: %v %v", ok, err)
	}
	if left := rdb.PTTL(ctx, s.Session("u", n1)).Val(); left > time.Minute {
		t.Errorf("touch extended past x: %v", left)
	}
	// A single-mode Sign issued before the old session's "o" is superseded;
	// one issued after it ends it.
	a := store.SignArgs{ID: "u", Nano: "ccccccccccccccccccccc", TTL: time.Hour, Single: true, Issued: now.Add(-2 * time.Second)}
	if _, err := s.Sign(ctx, a); err != store.ErrSuperseded {
		t.Fatalf("older single Sign: %v, want ErrSuperseded", err)
	}
	a.Nano, a.Issued = "ddddddddddddddddddddd", now
	if n, err := s.Sign(ctx, a); err != nil || n != 1 {
		t.Fatalf("newer single Sign: %d %v", n, err)
	}
	// ...and the new layout's relative "o" is read the same way.
	a.Nano, a.Issued = "eeeeeeeeeeeeeeeeeeeee", now.Add(-time.Second)
	if _, err := s.Sign(ctx, a); err != store.ErrSuperseded {
		t.Fatalf("single Sign older than the new-layout session: %v, want ErrSuperseded", err)
	}
	// Refresh of an old session moves its "x"; Revoke ends it.
	old("v", n2, ms, "r", "rrrrrrrrrrrrrrrrrrrrr", "a", 60_000)
	r, err := s.Refresh(ctx, store.RefreshArgs{ID: "v", Nano: n2, Presented: "rrrrrrrrrrrrrrrrrrrrr", Next: "sssssssssssssssssssss", TTL: time.Hour})
	if err != nil || r.Status != store.Rotated {
		t.Fatalf("refresh: %+v %v", r, err)
	}
	if x, _ := rdb.HGet(ctx, s.Session("v", n2), "x").Int64(); x < ms+59*60_000 {
		t.Errorf("refresh left the old x at %d", x)
	}
	if ok, err := s.Revoke(ctx, "v", n2); err != nil || !ok {
		t.Fatalf("revoke: %v %v", ok, err)
	}
}

// TestIndexLivesAsLongAsItsLongestSession: a Sign gives a new index the
// session's TTL and only ever lengthens an existing one's, in both modes and
// when the cap emptied the index just before (then it is a new index: it
// must not be left without an expiry).
func TestIndexLivesAsLongAsItsLongestSession(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "s:", Timeout: time.Second})
	sign := func(id, nano string, ttl time.Duration, single bool, max int) time.Duration {
		t.Helper()
		if _, err := s.Sign(ctx, store.SignArgs{ID: id, Nano: nano, TTL: ttl, Single: single, MaxSessions: max, Issued: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return rdb.PTTL(ctx, s.Index(id)).Val()
	}
	near := func(got, want time.Duration) bool { return got <= want && got > want-5*time.Second }
	for _, c := range []struct {
		name   string
		single bool
		max    int
		ttls   []time.Duration
		want   time.Duration
	}{
		{"multiple, longer first", false, 0, []time.Duration{time.Hour, time.Minute}, time.Hour},
		{"multiple, shorter first", false, 0, []time.Duration{time.Minute, time.Hour}, time.Hour},
		{"multiple at the cap of one (the index emptied, then new)", false, 1, []time.Duration{time.Hour, time.Minute}, time.Minute},
		{"single (the index is new each time)", true, 0, []time.Duration{time.Hour, time.Minute}, time.Minute},
	} {
		id := strings.ReplaceAll(c.name, " ", "-")
		var left time.Duration
		for i, ttl := range c.ttls {
			left = sign(id, "indexttlllllllllllll"+strconv.Itoa(i), ttl, c.single, c.max)
		}
		if !near(left, c.want) {
			t.Errorf("%s: index PTTL %v, want about %v", c.name, left, c.want)
		}
	}
}

// TestSignPrunesTheIndexWhenDue: a Sign prunes the index's expired entries
// only when the index holds sign.lua's PRUNE_AT (8) entries or more, or as
// many as the cap; expired entries never count against the cap, and
// pruning every entry away leaves a new index with its own TTL.
func TestSignPrunesTheIndexWhenDue(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	s := store.New(rdb, store.Config{Layout: store.LayoutClassic, Prefix: "p:", Timeout: time.Second})
	n := 0
	sign := func(id string, ttl time.Duration, max, policy int) error {
		n++
		_, err := s.Sign(ctx, store.SignArgs{ID: id, Nano: "prune" + strings.Repeat("0", 16-len(strconv.Itoa(n))) + strconv.Itoa(n),
			TTL: ttl, MaxSessions: max, Policy: policy, Issued: time.Now()})
		return err
	}
	card := func(id string) int64 { return rdb.ZCard(ctx, s.Index(id)).Val() }
	short := 100 * time.Millisecond

	// Without a cap: three expired entries stay under 8...
	for range 3 {
		if err := sign("u", short, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := sign("u", time.Hour, 0, 0); err != nil { // keeps the index alive
		t.Fatal(err)
	}
	time.Sleep(3 * short)
	if err := sign("u", time.Hour, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := card("u"); got != 5 {
		t.Fatalf("index holds %d entries, want 5 (3 expired kept: fewer than 8)", got)
	}
	// ... until the index holds 8: that Sign prunes.
	for card("u") < 8 {
		if err := sign("u", time.Hour, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := sign("u", time.Hour, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := card("u"); got != 6 {
		t.Errorf("index holds %d entries after the pruning Sign, want its 6 live sessions", got)
	}
	list, err := s.Sessions(ctx, "u")
	if err != nil || len(list) != 6 {
		t.Errorf("Sessions: %d, %v; want 6", len(list), err)
	}

	// With a cap of 2 and the refusing policy, two expired entries do not
	// refuse a login: the cap prunes first, and pruning emptied the index,
	// so it gets this Sign's TTL.
	for range 2 {
		if err := sign("c", short, 2, 3); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * short)
	if err := sign("c", time.Minute, 2, 3); err != nil {
		t.Fatalf("a login with only expired sessions at the cap: %v", err)
	}
	if got := card("c"); got != 1 {
		t.Errorf("capped index holds %d entries, want 1", got)
	}
	if left := rdb.PTTL(ctx, s.Index("c")).Val(); left <= 50*time.Second || left > time.Minute {
		t.Errorf("index emptied by pruning: PTTL %v, want this Sign's minute", left)
	}
	if err := sign("c", time.Minute, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := sign("c", time.Minute, 2, 3); err != store.ErrTooMany {
		t.Errorf("third live session at a cap of 2: %v, want ErrTooMany", err)
	}
}
