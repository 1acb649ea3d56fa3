package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Verify's read of a session: the reads without a script, the seen
// script when a write is due, and the read-only fallback.

// Verify reports whether session id:nano is live (its index entry and its
// hash both exist) and, with withData, returns its private data (nil when
// it has none). It is Check without Fresh.
func (s *Store) Verify(ctx context.Context, id, nano string, withData bool) (bool, []byte, error) {
	r, err := s.Check(ctx, id, nano, withData)
	return r.Live, r.Data, err
}

// CheckResult is what Check found.
type CheckResult struct {
	Live bool
	Data []byte // with withData: the private data, nil when none
	// Fresh is how long the session stays live for sure without another
	// Check reaching Redis (barring a revocation): until its key expires,
	// or with an idle timeout until an extension is due. A cache may answer
	// for the session that long. 0 when unknown: from the read-only
	// fallback, and from the reads of a store without Config.Idle.
	Fresh time.Duration
}

// Check reports whether session id:nano is live and records the use: the
// session's last use when the one stored is older than SeenEvery, and with
// an idle timeout an extension of its life when less than half the window
// is left (never past its absolute end). One round trip (the seen script);
// where Redis refuses that script's writes (a read-only replica, or out of
// memory on a server that cannot read script flags) a second one runs the
// read-only verify script and nothing is recorded. Safe to run twice.
//
// The common path reads without a script (checkReads): the seen script runs
// only when the reads find a write due, and then checks again itself.
func (s *Store) Check(ctx context.Context, id, nano string, withData bool) (CheckResult, error) {
	every := s.every()
	r, due, err := s.checkReads(ctx, id, nano, withData, every)
	if err != nil || !due {
		return r, err
	}
	if !r.Live { // the reads could not tell (a Cluster master's clock)
		return s.checkScript(ctx, id, nano, withData, every, true)
	}
	sr, err := s.checkScript(ctx, id, nano, withData, every, false)
	if err != nil && writeRefused(err) {
		// Where the script's writes are refused, the reads are the
		// answer (what the read-only verify script would say): nothing
		// is recorded.
		r.Fresh = 0
		return r, nil
	}
	return sr, err
}

// Record is Check for a caller that already knows a write is due (the
// local cache's read found an idle extension due): the seen script at once,
// without Check's reads first. One round trip (two where Redis refuses the
// script's writes); safe to run twice.
func (s *Store) Record(ctx context.Context, id, nano string) (CheckResult, error) {
	return s.checkScript(ctx, id, nano, false, s.every(), true)
}

// every is how stale a last use may get before Verify writes it again.
func (s *Store) every() time.Duration {
	if s.seenEvery <= 0 {
		return time.Minute
	}
	return s.seenEvery
}

// checkScript is Check in one round trip of the seen script. With fallback,
// where Redis refuses the script's writes the read-only verify script
// answers in a second round trip; without, that refusal is returned.
func (s *Store) checkScript(ctx context.Context, id, nano string, withData bool, every time.Duration, fallback bool) (CheckResult, error) {
	base := s.UserBase(id)
	flag := "0"
	if withData {
		flag = "1"
	}
	keys := []string{base + indexSuffix, base + nano}
	cmd, err := s.runPiped(ctx, "verify", seenScript, keys, nano, flag, every.Milliseconds())
	if err != nil {
		if !fallback || !writeRefused(err) {
			return CheckResult{}, err
		}
		return s.verifyReadOnly(ctx, keys, nano, flag)
	}
	res, _ := cmd.Slice()
	if len(res) == 1 {
		return CheckResult{}, nil
	}
	if len(res) == 3 {
		fresh, _ := res[1].(int64)
		r := CheckResult{Live: true, Fresh: time.Duration(fresh) * time.Millisecond}
		if d, _ := res[2].(string); d != "" {
			r.Data = []byte(d)
		}
		return r, nil
	}
	return CheckResult{}, fmt.Errorf("rjwt: verify: unexpected reply %v", cmd.Val())
}

// Session hash fields Check reads (keys.go has the layout).
const (
	fieldData     = "d"
	fieldSeen     = "s"
	fieldIdle     = "i"
	fieldAbsolute = "x"
	fieldCreated  = "c"
)

// classicReads is Check's common path without a script on the classic
// layout (checkReads, lean.go, picks the layout's): one pipeline (through
// the batcher, when there is one; read-only, so safe to share and to retry)
// of ZSCORE of the index entry, HMGET of the hash's data, last use, idle
// timeout, absolute end and creation (the last use until one is written),
// TIME when the clock's sample is a second old and no other call is
// refreshing it (redisClock: Redis's time is otherwise told from the last
// sample) and, for a client with an idle
// timeout (Config.Idle), PTTL of the hash (Redis's clock and the key's TTL,
// for the decisions seen.lua makes). It reports due when seen.lua would write
// (the last use is SeenEvery old, or an idle extension is due, or a field
// it cannot read): the caller then runs the script, which checks again
// atomically. due with Live false means the reads could not tell (no clock
// for a Cluster master): the script decides alone.
//
// The reads are not atomic, and need not be: Redis runs them in order, the
// index entry's first. A session's two keys are created together (Sign) and
// never recreated under the same nanoid, and a revocation removes both at
// once; so a hash read present after an index entry read present means both
// existed at the time of the ZSCORE, which is when this Verify takes effect.
// An index entry or hash removed (revoked, expired, evicted) before its read
// fails the call closed.
//
// On a Cluster the reads go in a Cluster pipeline (one slot: one node), and
// TIME, which names no key and would go to any node there, is asked apart
// of the key's master when its clock needs a sample (about once a second
// per master); when that fails the seen script decides, as it did for every
// Verify before.
func (s *Store) classicReads(ctx context.Context, id, nano string, withData bool, every time.Duration) (CheckResult, bool, error) {
	key, idx := s.Session(id, nano), s.index(id)
	clock, now, ask, refresh, ok := s.readsClock(ctx, key)
	if !ok {
		return CheckResult{}, true, nil
	}
	if refresh {
		defer clock.done() // this call refreshes the stale sample
	}
	c := checkCalls.Get().(*checkCall)
	c.args = [...]any{"zscore", idx, nano, "hmget", key, fieldData, fieldSeen, fieldIdle, fieldAbsolute, fieldCreated, "time", "pttl", nil}
	c.args[12] = c.args[4] // the key, boxed once
	c.ttl = s.idle
	c.time = ask
	_, err := s.retry(ctx, "verify", seenScript, c.attempt(s, clock))
	if err != nil {
		// Not put back: a caller whose context ended leaves its commands
		// in a pipeline that may still answer into them.
		return CheckResult{}, false, err
	}
	// Every command has its answer: c is the pool's again once read.
	defer checkCalls.Put(c)
	zs, hm, pt := &c.zs, &c.hm, &c.pt
	if c.time && c.tm.Err() == nil {
		now = c.tm.Val().UnixMilli()
		clock.learn(c.tm.Val(), c.recv)
	}
	if zs.Err() == redis.Nil {
		return CheckResult{}, false, nil
	}
	h := hm.Val()
	if len(h) != 5 {
		return CheckResult{}, false, fmt.Errorf("rjwt: verify: unexpected reply %v", h)
	}
	d, ok := h[0].(string)
	if !ok {
		return CheckResult{}, false, nil
	}
	r := CheckResult{Live: true}
	if withData && d != "" {
		r.Data = []byte(d)
	}
	last := h[1] // the last use, else the creation (as seen.lua reads them)
	if last == nil {
		last = h[4]
	}
	seen, ok := msField(last)
	due := !ok || now-seen >= every.Milliseconds()
	if !c.ttl {
		// No TTL read: a session with an idle timeout is the seen
		// script's to judge; others stay live until their key expires,
		// which the next Verify sees (Fresh stays 0: unknown).
		return r, due || h[2] != nil, nil
	}
	left := pt.Val()
	fresh := left
	if h[2] != nil && left >= 0 {
		extend, until, ok := idleExtension(h[2], h[3], left, now)
		if !ok || extend {
			return r, true, nil // an extension is due, or the seen script decides
		}
		fresh = until
	}
	r.Fresh = time.Duration(max(fresh, 0)) * time.Millisecond
	return r, due, nil
}

// idleExtension judges, as seen.lua does, a session with an idle timeout
// (its "i" field) and maybe an absolute end ("x"), whose key has left ms to
// live at Redis's time now: extend when less than half the idle window is
// left and an extension would lengthen its life; else until is how long
// (ms) it stays live without one. ok is false for a field that does not
// read (the seen script then decides).
func idleExtension(idleField, endField any, left, now int64) (extend bool, until int64, ok bool) {
	idle, ok := msField(idleField)
	if !ok {
		return false, 0, false
	}
	stop := now + idle
	if endField != nil {
		x, ok := msField(endField)
		if !ok {
			return false, 0, false
		}
		stop = min(stop, x)
	}
	if stop-now <= left {
		return false, left, true // at its end: no extension will lengthen it
	}
	if 2*left < idle {
		return true, 0, true
	}
	return false, left - idle/2, true // until the next extension is due
}

// checkCall holds checkReads' commands and their arguments, in one
// allocation, reused (checkCalls) once every command is answered.
type checkCall struct {
	args [13]any
	ttl  bool          // PTTL is read too
	time bool          // TIME is read too (redisClock asked for it)
	recv time.Duration // when the reply came (redisClock.since)
	zs   redis.FloatCmd
	hm   redis.SliceCmd
	tm   redis.TimeCmd
	pt   redis.IntCmd
	cmds [4]redis.Cmder
}

// readsClock is the clock Verify's reads of key judge by and its time: a
// Cluster master's (ok false while it has none: the seen script decides),
// else the store's, with ask when the reads must ask TIME and refresh when
// this call refreshes the store's stale sample (it then calls clock.done).
func (s *Store) readsClock(ctx context.Context, key string) (clock *redisClock, now int64, ask, refresh, ok bool) {
	if s.cluster != nil {
		clock, now, ok = s.clusterClock(ctx, key)
		return clock, now, false, false, ok
	}
	now, ok, ask = s.clock.now()
	return s.clock, now, ask, ask && ok, true
}

// clusterClock is Redis's time by the clock of key's master on a Cluster
// (the master the client's slot map names: no round trip), asking that
// master's TIME apart when its sample is stale: off the call's path while
// the stale sample still serves, on it (one call at a time) when there is
// none. ok is false when it cannot tell: the caller then leaves the
// decision to the seen script.
func (s *Store) clusterClock(ctx context.Context, key string) (clock *redisClock, now int64, ok bool) {
	node, err := s.cluster.MasterForKey(ctx, key)
	if err != nil {
		return nil, 0, false
	}
	addr := node.Options().Addr
	v, found := s.clocks.Load(addr)
	if !found {
		v, _ = s.clocks.LoadOrStore(addr, newRedisClock(&s.tokens))
	}
	clock = v.(*redisClock)
	now, ok, ask := clock.now()
	switch {
	case !ask:
		return clock, now, ok
	case ok:
		// A stale sample still serves: this call holds the refresh and
		// does it off its own path.
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			defer clock.done()
			askTime(context.Background(), node, clock)
		}()
		return clock, now, true
	case !clock.refreshing.CompareAndSwap(false, true):
		return clock, 0, false // another call is asking: the script decides this one
	}
	defer clock.done()
	if t, ok := askTime(ctx, node, clock); ok {
		return clock, t, true
	}
	return clock, 0, false
}

// askTime asks a Cluster master's TIME for its clock, bounded short
// (clusterTimeBound) so that a master that is slow or gone (a user's
// Cluster client may retry its dial for half a second) costs little: then
// the caller leaves the decision to the seen script.
func askTime(ctx context.Context, node *redis.Client, clock *redisClock) (int64, bool) {
	ctx, cancel := context.WithTimeout(ctx, clusterTimeBound)
	defer cancel()
	t, err := node.Time(ctx).Result()
	if err != nil {
		return 0, false
	}
	clock.learn(t, clock.since())
	return t.UnixMilli(), true
}

// clusterTimeBound bounds a Cluster master's TIME (clusterClock).
const clusterTimeBound = 250 * time.Millisecond

// checkCalls recycles checkCall: about 1 KB a Verify, a third of its
// garbage.
var checkCalls = sync.Pool{New: func() any { return new(checkCall) }}

// attempt sends the reads once, on fresh commands.
func (c *checkCall) attempt(s *Store, clock *redisClock) func(context.Context, *redis.Script, string) (*redis.Cmd, error) {
	return func(ctx context.Context, _ *redis.Script, _ string) (*redis.Cmd, error) {
		c.zs = *redis.NewFloatCmd(ctx, c.args[0:3:3]...)
		c.hm = *redis.NewSliceCmd(ctx, c.args[3:10:10]...)
		c.cmds[0], c.cmds[1] = &c.zs, &c.hm
		cmds := c.cmds[:2]
		if c.time {
			c.tm = *redis.NewTimeCmd(ctx, c.args[10:11:11]...)
			cmds = append(cmds, &c.tm)
		}
		if c.ttl {
			c.pt = *redis.NewIntCmd(ctx, c.args[11:13:13]...)
			cmds = append(cmds, &c.pt)
		}
		if s.batch != nil {
			if err := s.batch.do(ctx, cmds...); err != nil {
				return nil, err
			}
		} else {
			process(ctx, s.rdb, cmds)
		}
		c.recv = clock.since()
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil && err != redis.Nil {
				return nil, err
			}
		}
		return nil, nil
	}
}

// msField reads a time or duration in ms as the scripts write it (a Lua
// number: an integer, or in exponent form).
func msField(v any) (int64, bool) {
	str, ok := v.(string)
	if !ok {
		return 0, false
	}
	if n, err := strconv.ParseInt(str, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

// writeRefused reports a Redis that will not run a script that writes: a
// read-only replica, or out of memory.
func writeRefused(err error) bool {
	return codesWriteRefused[ReplyCode(err)]
}

// verifyReadOnly is Check with the read-only script: nothing is recorded.
func (s *Store) verifyReadOnly(ctx context.Context, keys []string, nano, flag string) (CheckResult, error) {
	cmd, err := s.run(ctx, "verify", verifyScript, keys, nano, flag)
	if err != nil {
		return CheckResult{}, err
	}
	switch v := cmd.Val().(type) {
	case int64:
		return CheckResult{Live: v == 1}, nil
	case []any:
		if len(v) == 1 {
			if d, ok := v[0].(string); ok {
				if d == "" {
					return CheckResult{Live: true}, nil
				}
				return CheckResult{Live: true, Data: []byte(d)}, nil
			}
		}
	}
	return CheckResult{}, fmt.Errorf("rjwt: verify: unexpected reply %v", cmd.Val())
}
