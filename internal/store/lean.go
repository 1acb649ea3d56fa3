package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The lean layout: one hash per user, a field per session with its own
// expiry (keys.go has the layout; scripts/lib/lean.lua maps every script
// onto it, so that each rule is written once, in the classic scripts).

// Layout is a key layout.
type Layout int

// The layouts.
const (
	// LayoutAuto takes the lean layout where every master has hash-field
	// expiry (Redis 7.4 and later, Valkey 9), else the classic one: decided
	// by a probe (COMMAND INFO) at the first call that needs Redis.
	LayoutAuto Layout = iota
	// LayoutClassic keeps a hash per session and a sorted-set index per
	// user, on every server. It does not see sessions written by the lean
	// layout.
	LayoutClassic
	// LayoutLean keeps one hash per user with a field per session. Calls
	// fail when the server lacks hash-field expiry. It still reads, lists,
	// refreshes and revokes the sessions the classic layout wrote.
	LayoutLean
)

func (l Layout) String() string {
	switch l {
	case LayoutAuto:
		return "auto"
	case LayoutClassic:
		return "classic"
	case LayoutLean:
		return "lean"
	}
	return "Layout(" + strconv.Itoa(int(l)) + ")"
}

// ErrNoFieldExpiry: the lean layout was asked for on a server without
// hash-field expiry.
var ErrNoFieldExpiry = errors.New("the lean layout needs hash-field expiry (Redis 7.4+, Valkey 9+), which the server lacks")

// layoutState is the layout a store runs, decided once.
type layoutState struct {
	want Layout
	now  atomic.Int32 // 0 undecided, else the Layout
	mu   sync.Mutex   // one probe at a time
}

func (l *layoutState) init(want Layout) {
	l.want = want
	if want == LayoutClassic {
		l.now.Store(int32(LayoutClassic))
	}
}

// Layout is the layout the store runs, probing the server when it has not
// decided yet (one round trip per master, once).
func (s *Store) Layout(ctx context.Context) (Layout, error) {
	lean, err := s.isLean(ctx)
	if err != nil {
		return LayoutAuto, s.layoutErr("layout", err)
	}
	if lean {
		return LayoutLean, nil
	}
	return LayoutClassic, nil
}

// isLean says whether the store runs the lean layout, probing once. An
// error (Redis unreachable) leaves it undecided: the next call probes again.
func (s *Store) isLean(ctx context.Context) (bool, error) {
	if v := Layout(s.layout.now.Load()); v != LayoutAuto {
		return v == LayoutLean, nil
	}
	s.layout.mu.Lock()
	defer s.layout.mu.Unlock()
	if v := Layout(s.layout.now.Load()); v != LayoutAuto {
		return v == LayoutLean, nil
	}
	if err := s.avail.Err(); err != nil {
		return false, err
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	ok, err := fieldExpiry(ctx, s.rdb)
	if err != nil {
		return false, err
	}
	switch {
	case ok:
		s.layout.now.Store(int32(LayoutLean))
	case s.layout.want == LayoutLean:
		return false, ErrNoFieldExpiry
	default:
		s.layout.now.Store(int32(LayoutClassic))
	}
	return ok, nil
}

// layoutErr is the error of operation op whose layout could not be
// decided: ErrNoFieldExpiry as it is, else a Redis failure (Wrap).
func (s *Store) layoutErr(op string, err error) error {
	if errors.Is(err, ErrNoFieldExpiry) {
		return fmt.Errorf("rjwt: %s: %w", op, err)
	}
	return s.Wrap(op, err)
}

// fieldExpiry probes rdb (every master of a Cluster) for the hash-field
// expiry commands the lean layout uses. A server that answers with an error
// (an unknown COMMAND INFO) has none; an unreachable one is an error.
func fieldExpiry(ctx context.Context, rdb redis.UniversalClient) (bool, error) {
	probe := func(ctx context.Context, c interface {
		Do(context.Context, ...any) *redis.Cmd
	}) (bool, error) {
		res, err := c.Do(ctx, "COMMAND", "INFO", "HPEXPIRE", "HPEXPIREAT", "HPEXPIRETIME", "HPTTL").Slice()
		var reply redis.Error
		if errors.As(err, &reply) && !retryable(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		for _, r := range res {
			if r == nil {
				return false, nil
			}
		}
		return len(res) == 4, nil
	}
	cluster, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return probe(ctx, rdb)
	}
	var none atomic.Bool
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		ok, err := probe(ctx, c)
		if !ok {
			none.Store(true)
		}
		return err
	})
	if err != nil {
		return false, err
	}
	return !none.Load(), nil
}

// Lean is the key of user id's lean hash: prefix + "{" + id + "}", the key
// base without its last ':' (no classic key ends with the tag).
func (k Keys) Lean(id string) string {
	base := k.UserBase(id)
	return base[:len(base)-1]
}

// record is one session's lean record (lib/lean.lua has the format), read
// as the classic fields.
type record struct {
	issued int64
	ext    map[byte]string
	data   string
}

// decodeRecord reads a record; ok is false for one that does not parse.
func decodeRecord(rec string) (r record, ok bool) {
	if len(rec) < 6 {
		return r, false
	}
	b := []byte(rec[:6])
	r.issued = int64(b[0]&0x7f)<<40 | int64(b[1])<<32 | int64(b[2])<<24 | int64(b[3])<<16 | int64(b[4])<<8 | int64(b[5])
	pos := 6
	if b[0]&0x80 != 0 {
		r.ext = make(map[byte]string, 4)
		for {
			if pos >= len(rec) {
				return r, false
			}
			if rec[pos] == '.' {
				pos++
				break
			}
			tag := rec[pos]
			colon := pos + 1
			for colon < len(rec) && rec[colon] != ':' {
				colon++
			}
			n, err := strconv.Atoi(rec[pos+1 : min(colon, len(rec))])
			if err != nil || n < 0 || colon+1+n > len(rec) {
				return r, false
			}
			r.ext[tag] = rec[colon+1 : colon+1+n]
			pos = colon + 1 + n
		}
	}
	r.data = rec[pos:]
	return r, true
}

// created is the classic "c": Redis's time at creation.
func (r record) created() int64 {
	if c, ok := r.ext['C']; ok {
		if n, ok := msField(c); ok {
			return n
		}
	}
	return r.issued
}

// field is the classic field name's value as HMGET returns it: a string,
// or nil when the session has none.
func (r record) field(name string) any {
	switch name {
	case "d":
		return r.data
	case "c":
		return strconv.FormatInt(r.created(), 10)
	case "o":
		return strconv.FormatInt(r.issued-r.created(), 10)
	case "w":
		w := int64(60)
		if v, ok := r.ext['W']; ok {
			w, _ = msField(v)
		}
		c := r.created()
		return strconv.FormatInt(int64(math.Ceil(float64(r.issued+w*1000-c)/1000)), 10)
	}
	if len(name) == 1 {
		if v, ok := r.ext[name[0]]; ok {
			return v
		}
	}
	return nil
}

// leanReads is checkReads on the lean layout: one pipeline of HGET of the
// session's field, HPTTL of it for a store with Config.Idle (as
// classicReads reads PTTL), ZSCORE of the classic index (a session
// signed before the switch: the classic reads then answer, in a second
// round trip) and TIME when the clock asks for it. A field is the session
// and its index entry at once: present, the session is live. Read-only and
// safe to retry.
func (s *Store) leanReads(ctx context.Context, id, nano string, withData bool, every time.Duration) (CheckResult, bool, error) {
	lk, idx := s.Lean(id), s.index(id)
	clock, now, ask, refresh, ok := s.readsClock(ctx, lk)
	if !ok {
		return CheckResult{}, true, nil
	}
	if refresh {
		defer clock.done()
	}
	var hg *redis.StringCmd
	var pt *redis.IntSliceCmd
	var zs *redis.FloatCmd
	var tm *redis.TimeCmd
	var recv time.Duration
	_, err := s.retry(ctx, "verify", seenScript, func(ctx context.Context, _ *redis.Script, _ string) (*redis.Cmd, error) {
		hg = redis.NewStringCmd(ctx, "hget", lk, nano)
		zs = redis.NewFloatCmd(ctx, "zscore", idx, nano)
		cmds := []redis.Cmder{hg, zs}
		if s.idle {
			pt = redis.NewIntSliceCmd(ctx, "hpttl", lk, "fields", 1, nano)
			cmds = append(cmds, pt)
		}
		if ask {
			tm = redis.NewTimeCmd(ctx, "time")
			cmds = append(cmds, tm)
		}
		if s.batch != nil {
			if err := s.batch.do(ctx, cmds...); err != nil {
				return nil, err
			}
		} else {
			process(ctx, s.rdb, cmds)
		}
		recv = clock.since()
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil && err != redis.Nil {
				return nil, err
			}
		}
		return nil, nil
	})
	if err != nil {
		return CheckResult{}, false, err
	}
	if tm != nil && tm.Err() == nil {
		now = tm.Val().UnixMilli()
		clock.learn(tm.Val(), recv)
	}
	if hg.Err() == redis.Nil {
		if zs.Err() == nil { // a classic session
			return s.classicReads(ctx, id, nano, withData, every)
		}
		return CheckResult{}, false, nil
	}
	rec, ok := decodeRecord(hg.Val())
	if !ok {
		return CheckResult{}, true, nil // the seen script decides (and fails loudly)
	}
	r := CheckResult{Live: true}
	if withData && rec.data != "" {
		r.Data = []byte(rec.data)
	}
	last := rec.field("s")
	if last == nil {
		last = rec.field("c")
	}
	seen, ok := msField(last)
	due := !ok || now-seen >= every.Milliseconds()
	if pt == nil {
		// No TTL read (as classicReads without Config.Idle): a session
		// with an idle timeout is the seen script's to judge.
		return r, due || rec.field("i") != nil, nil
	}
	left := int64(-2)
	if v := pt.Val(); len(v) == 1 {
		left = v[0]
	}
	fresh := left
	if i := rec.field("i"); i != nil && left >= 0 {
		extend, until, ok := idleExtension(i, rec.field("x"), left, now)
		if !ok || extend {
			return r, true, nil
		}
		fresh = until
	}
	r.Fresh = time.Duration(max(fresh, 0)) * time.Millisecond
	return r, due, nil
}

// leanLive is Live on the lean layout: HGET of the session's field, and the
// classic reads for a session signed before the switch.
func (s *Store) leanLive(ctx context.Context, id, nano string) (bool, string, bool, error) {
	rec, err := s.rdb.HGet(ctx, s.Lean(id), nano).Result()
	if errors.Is(err, redis.Nil) {
		return false, "", false, nil
	}
	if err != nil {
		return false, "", true, s.Wrap("introspect", err)
	}
	r, ok := decodeRecord(rec)
	if !ok {
		return false, "", true, fmt.Errorf("rjwt: introspect: a session record that does not parse")
	}
	rti, _ := r.field("r").(string)
	return true, rti, true, nil
}

// checkReads is Check's common path without a script, on the store's
// layout.
func (s *Store) checkReads(ctx context.Context, id, nano string, withData bool, every time.Duration) (CheckResult, bool, error) {
	lean, err := s.isLean(ctx)
	if err != nil {
		return CheckResult{}, false, s.layoutErr("verify", err)
	}
	if lean {
		return s.leanReads(ctx, id, nano, withData, every)
	}
	return s.classicReads(ctx, id, nano, withData, every)
}

// RecordFields reads a lean record (a field of a user's lean hash) as the
// classic layout's hash fields: "d", "c", "o", "w" always, the others the
// session has. ok is false for a value that is not a record.
func RecordFields(rec string) (fields map[string]string, ok bool) {
	r, ok := decodeRecord(rec)
	if !ok {
		return nil, false
	}
	fields = map[string]string{}
	for _, name := range []string{"d", "c", "o", "w"} {
		fields[name] = r.field(name).(string)
	}
	for tag, v := range r.ext {
		if tag != 'C' && tag != 'W' {
			fields[string(tag)] = v
		}
	}
	return fields, true
}
