// Package store owns rjwt's Redis schema: the key names (keys.go), every Lua
// script (scripts/*.lua, each naming its KEYS and ARGV in its first lines),
// one Go method per operation, what each operation does when it runs twice,
// and which failures are retried. The root package validates input, makes
// and checks tokens, and calls one method here per Redis operation.
//
// Every write is safe to run twice, because go-redis (a client given with
// WithRedisClient keeps its own MaxRetries) may send a command again after a
// reply was lost: Sign and Refresh take ids chosen by the caller before the
// call and recognise their own earlier run; Revoke and RevokeAll keep their
// answer for 60 seconds under a request id, so a second run reports what the
// first did; SetData, UpdateData and Touch set the same values again;
// IncrData keeps its answer 60 seconds under a request id, as Revoke does.
//
// Retries. On a client rjwt built, go-redis does not retry (MaxRetries -1)
// and this package does, up to the configured count, only when a call's
// connection broke (EOF, reset) or Redis answered "try again" (LOADING,
// TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY), never after a timeout (the
// call's time is spent) and never once Redis is known down.
//
// Fail fast. A refused dial, or the event monitor's failed health check,
// marks Redis down: calls then fail at once with ErrUnavailable wrapping the
// cause, without touching the network, until the monitor's probe sees Redis
// answer (MarkUp). On a Cluster one dead master is not Redis down: a failure
// there has go-redis reload its slot map at once (topology.go), calls for
// other masters' slots go on, and only the monitor marks the whole cluster
// down, when no master answers its probe.
//
// Replica acknowledgement (ack.go, opt-in): Revoke, RevokeAll and a Refresh
// that found a reused token WAIT, on the connection that wrote, until
// Config.ReplicaAck replicas have the revocation.
//
// Clocks. Index scores, pruning and expiries use Redis's clock (TIME inside
// the scripts); no host's clock reaches Redis.
//
// Memory. Scripts that write carry no allow-oom flag, so Redis refuses them
// whole when it is out of memory under noeviction (nothing is written);
// Revoke and RevokeAll carry allow-oom (they free memory), and so does
// Verify's seen script, whose writes (a last-use time, an idle extension)
// replace values and never grow memory. Sessions and the read-only verify
// script (no-writes) run out of memory and on replicas. Verify reads with
// plain commands (checkReads) and runs the seen script only when a write
// is due; where the script is refused (a read-only replica, an
// out-of-memory Redis that cannot read script flags) the reads answer, and
// on a Cluster, where Verify always runs the script, the verify script.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gonanoid "github.com/matoous/go-nanoid/v2"
	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua scripts/lib/*.lua
var scriptFS embed.FS

// script is one Lua script, with its flags (the "#!lua flags=..." first
// line that Redis 7 reads) and without them, for servers that cannot parse
// the line: Redis 6 and the embedded Redis of the demo (miniredis). Without
// flags Redis still refuses, when out of memory, a script's first write if
// it is a write that can grow memory, and every script that writes makes
// such a write first, so a full Redis still gets nothing.
type script struct {
	flagged, plain *redis.Script
	// the sources, for EVAL after NOSCRIPT on the autopipeline (redis.Script
	// does not expose them)
	flaggedSrc, plainSrc string
}

// load reads scripts/<name>.lua and puts the functions of scripts/lib/<lib>.lua
// for each lib right after its flags line (Lua has no include: a rule that
// several scripts apply is written once, there).
func load(name string, libs ...string) script {
	b, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic("store: missing script " + name)
	}
	flags, body, _ := strings.Cut(string(b), "\n")
	for _, lib := range libs {
		l, err := scriptFS.ReadFile("scripts/lib/" + lib + ".lua")
		if err != nil {
			panic("store: missing script library " + lib)
		}
		body = string(l) + body
	}
	src := flags + "\n" + body
	plain := "--\n" + body
	return script{flagged: redis.NewScript(src), plain: redis.NewScript(plain), flaggedSrc: src, plainSrc: plain}
}

// isShebangRefused reports the error of a server that cannot read a
// script's flags line.
func isShebangRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Error compiling script") && strings.Contains(err.Error(), "'#'")
}

var (
	signScript      = load("sign", "tomb")
	verifyScript    = load("verify")
	seenScript      = load("seen")
	revokeScript    = load("revoke", "tomb")
	revokeAllScript = load("revoke_all", "tomb")
	sessionsScript  = load("sessions")
	refreshScript   = load("refresh", "tomb")
	setDataScript   = load("set_data")
	touchScript     = load("touch")
	updateScript    = load("update_data")
	verifyTTLScript = load("verify_ttl")
)

// Config configures a Store.
type Config struct {
	Prefix string
	// Timeout bounds each call whose context has no deadline; 0: none.
	Timeout time.Duration
	// MaxRetries is how often a call is sent again after a retryable
	// failure (see the package doc); 0 for clients that retry themselves.
	MaxRetries int
	// SeenEvery is how stale a session's last use may get before Verify
	// writes it again; 0 means a minute.
	SeenEvery time.Duration
	// AutoPipeline makes concurrent Verify, Sessions and Sign calls share
	// pipelines (batch.go): one write and one read of the socket for a
	// whole batch instead of one round trip each.
	AutoPipeline bool
	// Skew is how far hosts' clocks may disagree (the client's leeway):
	// Sign and Refresh refuse to run in Redis later than their caller's
	// deadline plus Skew, by Redis's clock.
	Skew time.Duration
	// ReplicaAck, when above 0, makes revocations wait (WAIT) until that many
	// replicas acknowledged them, for up to AckTimeout (ack.go). 0: off.
	ReplicaAck int
	AckTimeout time.Duration
	// Idle says that the client signs sessions with an idle timeout: Verify's
	// reads then include the session key's TTL, to extend it when due.
	// Without it they do not, and a session that has one (signed by another
	// client) goes through the seen script.
	Idle bool
	// Changed, when set, is called by every write before it returns (also
	// when it failed: a lost reply may hide a write that happened) with the
	// session it may have changed, or nano "" for any session of the user:
	// the one place a local cache learns of this client's own writes, so
	// that its next read sees them.
	Changed func(id, nano string)
	// HostNow is this host's wall clock (nil: time.Now), read only where
	// Redis's time is not known (tests set one that is off).
	HostNow func() time.Time
}

// Store runs rjwt's operations against one Redis (single node, Sentinel or
// Cluster).
type Store struct {
	Keys
	rdb        redis.UniversalClient
	timeout    time.Duration
	maxRetries int
	seenEvery  time.Duration
	avail      availability
	plain      atomic.Bool          // the server cannot read script flags
	batch      *batcher             // nil without Config.AutoPipeline
	cluster    *redis.ClusterClient // rdb, when it is a Cluster client
	ack        int
	ackTimeout time.Duration
	skew       time.Duration
	idle       bool
	clock      *redisClock // Redis's time for checkReads
	clocks     sync.Map    // on a Cluster: master address → *redisClock
	tokens     tokenClock  // Redis's time for tokens: every clock's samples
	onChange   func(id, nano string)
	bg         sync.WaitGroup // the clock refreshes off a call's path; Close waits
	hostNow    func() time.Time
}

// New makes a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Store {
	cluster, _ := rdb.(*redis.ClusterClient)
	s := &Store{
		Keys:       Keys{Prefix: cfg.Prefix},
		rdb:        rdb,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		seenEvery:  cfg.SeenEvery,
		avail:      availability{kick: make(chan struct{}, 1)},
		cluster:    cluster,
		ack:        cfg.ReplicaAck,
		ackTimeout: cfg.AckTimeout,
		skew:       cfg.Skew,
		idle:       cfg.Idle,
		onChange:   cfg.Changed,
		hostNow:    cfg.HostNow,
	}
	if s.hostNow == nil {
		s.hostNow = time.Now
	}
	s.clock = newRedisClock(&s.tokens)
	// No shared pipelines on a Cluster: go-redis finishes a Cluster pipeline
	// only when every node's part is done, so one dead master would hold
	// the calls for every other master's slots until their deadlines.
	if cfg.AutoPipeline && cluster == nil {
		s.batch = &batcher{rdb: rdb, timeout: cfg.Timeout}
	}
	return s
}

// changed tells Config.Changed that a write of this client's may have
// changed session id:nano (nano "": any session of user id).
func (s *Store) changed(id, nano string) {
	if s.onChange != nil {
		s.onChange(id, nano)
	}
}

// Close waits for the store's background work (a clock's TIME asked off a
// call's path, bounded by the call timeout; a batch in flight ends with its
// pipeline). The Redis client is the caller's.
func (s *Store) Close() error {
	s.bg.Wait()
	return nil
}

// Timeout is the bound of calls without a deadline (0: none).
func (s *Store) Timeout() time.Duration { return s.timeout }

// Redis is the client the store uses.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Bound applies the default timeout to a context without a deadline.
func (s *Store) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// MarkDown makes calls fail fast (ErrUnavailable wrapping cause) until
// MarkUp. The event monitor calls it when its health check fails; calls do
// when a dial is refused.
func (s *Store) MarkDown(cause error) { s.avail.MarkDown(cause) }

// MarkUp lets calls reach Redis again; the monitor calls it when a probe
// succeeds.
func (s *Store) MarkUp() { s.avail.MarkUp() }

// IsDown reports whether calls fail fast now.
func (s *Store) IsDown() bool { return s.avail.IsDown() }

// Kicked receives when a call found Redis down: the monitor probes at once.
func (s *Store) Kicked() <-chan struct{} { return s.avail.kick }

// Available is nil while calls may reach Redis, else the error they fail
// with.
func (s *Store) Available() error { return s.avail.Err() }

// Wrap turns a Redis failure of operation op into rjwt's error: one that
// wraps ErrUnavailable and the cause when Redis could not be reached, did
// not answer in time or refuses to work for now; else one that wraps the
// Redis error. A refused dial also marks Redis down, except on a Cluster,
// where a failure that may mean a changed topology has the client reload its
// slot map instead (see observe).
func (s *Store) Wrap(op string, err error) error {
	s.observe(err)
	return wrap(op, err)
}

func wrap(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("rjwt: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("rjwt: %s: redis: %w", op, err)
}

// run runs a script with the store's bound, retries and fail-fast rule.
func (s *Store) run(ctx context.Context, op string, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	return s.runOn(ctx, nil, op, sc, keys, args...)
}

// runPiped is run through the batcher, when there is one: for scripts that
// are read-only or safe to run twice, since a pipeline that go-redis retries
// after a dropped connection runs every command in it again (a client given
// with WithRedisClient keeps its MaxRetries).
func (s *Store) runPiped(ctx context.Context, op string, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	if s.batch == nil {
		return s.run(ctx, op, sc, keys, args...)
	}
	return s.runOn(ctx, pipedScripter{s.batch}, op, sc, keys, args...)
}

// pipedScripter sends a script through the batcher and waits for it only
// as long as the caller's context allows.
type pipedScripter struct{ b *batcher }

func (p pipedScripter) eval(ctx context.Context, name, script string, keys []string, args []any) *redis.Cmd {
	all := make([]any, 0, 3+len(keys)+len(args))
	all = append(all, name, script, len(keys))
	for _, k := range keys {
		all = append(all, k)
	}
	all = append(all, args...)
	cmd := redis.NewCmd(ctx, all...)
	if err := p.b.do(ctx, cmd); err != nil {
		// cmd stays in its pipeline; its late answer is dropped.
		late := redis.NewCmd(ctx, all...)
		late.SetErr(err)
		return late
	}
	return cmd
}

// scripter is what runOn needs of a client: go-redis's Scripter's two calls.
type scripter interface {
	evalSha(ctx context.Context, sc *redis.Script, src string, keys []string, args []any) *redis.Cmd
}

func (p pipedScripter) evalSha(ctx context.Context, sc *redis.Script, src string, keys []string, args []any) *redis.Cmd {
	cmd := p.eval(ctx, "evalsha", sc.Hash(), keys, args)
	if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		return p.eval(ctx, "eval", src, keys, args)
	}
	return cmd
}

// clientScripter runs a script the way redis.Script.Run does: EVALSHA, and
// EVAL after NOSCRIPT.
type clientScripter struct{ c redis.Scripter }

func (c clientScripter) evalSha(ctx context.Context, sc *redis.Script, _ string, keys []string, args []any) *redis.Cmd {
	return sc.Run(ctx, c.c, keys, args...)
}

// runOn is run on a given connection (nil: the store's client).
func (s *Store) runOn(ctx context.Context, via scripter, op string, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	if via == nil {
		via = clientScripter{s.rdb}
	}
	return s.retry(ctx, op, sc, func(ctx context.Context, run *redis.Script, src string) (*redis.Cmd, error) {
		cmd := via.evalSha(ctx, run, src, keys, args)
		return cmd, cmd.Err()
	})
}

// retry makes attempts at one operation with the store's bound, retries and
// fail-fast rule: attempt runs the script (flagged, or plain for a server
// that cannot read flags) once. An *AckError is returned as it is: the
// operation happened, and running it again would not make it acknowledged.
func (s *Store) retry(ctx context.Context, op string, sc script, attempt func(context.Context, *redis.Script, string) (*redis.Cmd, error)) (*redis.Cmd, error) {
	if err := s.avail.Err(); err != nil {
		return nil, fmt.Errorf("rjwt: %s: %w", op, err)
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	for n := 0; ; n++ {
		run, src := sc.flagged, sc.flaggedSrc
		if s.plain.Load() {
			run, src = sc.plain, sc.plainSrc
		}
		cmd, err := attempt(ctx, run, src)
		if err == nil || errors.Is(err, redis.Nil) {
			return cmd, nil
		}
		if _, ok := err.(*AckError); ok {
			return nil, err
		}
		if isShebangRefused(err) && !s.plain.Load() {
			s.plain.Store(true)
			n--
			continue
		}
		if n >= s.maxRetries || !retryable(err) || s.avail.IsDown() || ctx.Err() != nil {
			return nil, s.Wrap(op, err)
		}
		if n > 0 { // the first retry goes at once: a pooled connection died
			t := time.NewTimer(min(time.Duration(n)*10*time.Millisecond, 100*time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, s.Wrap(op, err)
			case <-t.C:
			}
		}
	}
}

// SignArgs are what Sign writes.
type SignArgs struct {
	ID, Nano    string
	Data        []byte
	TTL         time.Duration // the session's life in Redis
	Single      bool          // end the user's other sessions
	RefreshID   string        // for a session with a refresh token
	AccessTTL   time.Duration // with RefreshID
	MaxSessions int           // multiple mode: most sessions per user (0: no limit)
	Idle        time.Duration // idle timeout (0: none)
	Meta        []byte        // device details, a JSON object (nil: none)
	Issued      time.Time     // when the caller issued the Sign (its tokens' iat)
}

// Sign creates session a.ID:a.Nano and returns how many other sessions of
// the user it ended (single mode, or the limit in multiple mode). One round
// trip. Run twice inside its write window (the call's deadline plus the
// skew plus 1 s, in which a run can still write; 60 s without a deadline),
// the second run changes nothing and returns the first's answer, even if
// the session was revoked or replaced meanwhile: it finds the session's
// hash, or the tombstone that whatever ended it wrote, or the answer the
// first run kept (see sign.lua). It never brings an ended session back.
func (s *Store) Sign(ctx context.Context, a SignArgs) (int, error) {
	if a.Single || a.MaxSessions > 0 {
		defer s.changed(a.ID, "") // it may end the user's other sessions
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	base := s.UserBase(a.ID)
	single, access := "0", ""
	if a.Single {
		single = "1"
	}
	if a.RefreshID != "" {
		access = strconv.FormatInt(a.AccessTTL.Milliseconds(), 10)
	}
	cmd, err := s.runPiped(ctx, "sign", signScript, []string{base + indexSuffix, base + a.Nano, base + opInfix + a.Nano},
		a.Nano, a.Data, a.TTL.Milliseconds(), single, base, a.RefreshID, access, a.MaxSessions, a.Idle.Milliseconds(), a.Meta,
		a.Issued.UnixMilli(), s.notAfter(ctx))
	if err != nil {
		return 0, err
	}
	n, _ := cmd.Int()
	switch n {
	case -1:
		return 0, s.errLate("sign")
	case -2:
		return 0, ErrSuperseded
	}
	return n, nil
}

// ErrSuperseded: a single-mode Sign found a session of the user issued
// after it (a newer login that succeeded while this one was delayed), and
// did nothing.
var ErrSuperseded = errors.New("a newer login of the user replaced this one")

// notAfter is when, by Redis's clock plus the tolerated skew, the caller
// of ctx has given up: a script that starts later writes nothing (0: no
// deadline). The caller's deadline is carried over as the time it has left,
// added to Redis's time (Now): a host whose clock disagrees with Redis's is
// judged by when its call reached Redis, not by its clock.
func (s *Store) notAfter(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	now, err := s.Clock(ctx) // a round trip only without a sample
	if err != nil {
		now = s.hostNow() // the call itself will say what is wrong
	}
	return now.Add(time.Until(dl) + s.skew).UnixMilli()
}

// Now is Redis's time as this client last learnt it (a TIME reply of any
// master, carried forward on this host's monotonic clock), or this host's
// clock when it has no sample younger than a minute. No round trip.
func (s *Store) Now() time.Time {
	if t, ok, old := s.tokens.now(); ok {
		if old {
			s.tokens.done() // Clock renews it, not a call that has no Redis round trip
		}
		return t
	}
	return s.hostNow()
}

// Clock is Now, for the calls that write: with no sample younger than ten
// minutes it asks Redis's TIME first (one round trip: the first Sign of a
// client that has not verified yet), and with one older than a minute one
// call renews it off its own path.
func (s *Store) Clock(ctx context.Context) (time.Time, error) {
	if t, ok, old := s.tokens.now(); ok {
		if old {
			s.bg.Add(1)
			go func() {
				defer s.bg.Done()
				defer s.tokens.done()
				ctx, cancel := context.WithTimeout(context.Background(), s.timeoutOr(time.Second))
				defer cancel()
				s.Time(ctx) //nolint:errcheck // the old sample still serves
			}()
		}
		return t, nil
	}
	if err := s.Time(ctx); err != nil {
		return time.Time{}, err
	}
	return s.Now(), nil
}

// Time asks Redis's TIME (on a Cluster, of any node go-redis picks) and
// learns it: the health check's probe, which keeps the clocks fresh.
func (s *Store) Time(ctx context.Context) error {
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	t, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	s.tokens.learn(t, time.Now()) // dated by the reply's arrival, as every sample
	return nil
}

// timeoutOr is the call timeout, or d without one.
func (s *Store) timeoutOr(d time.Duration) time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return d
}

// Offset is how far Redis's clock is ahead of this host's (negative:
// behind), as last learnt; ok is false without a sample.
func (s *Store) Offset() (time.Duration, bool) {
	t, ok, old := s.tokens.now()
	if old {
		s.tokens.done()
	}
	if !ok {
		return 0, false
	}
	return t.Sub(s.hostNow()), true
}

// errLate is the error of a call whose command reached Redis after its
// caller had given up (it sat in a partitioned network's queue): Redis did
// nothing. The caller sees it only when the reply, too, came late.
func (s *Store) errLate(op string) error {
	clocks := ""
	if off, ok := s.Offset(); ok && (off > s.skew || off < -s.skew) {
		way := "behind"
		if off < 0 {
			way, off = "ahead of", -off
		}
		clocks = fmt.Sprintf(" (this host's clock is %v %s Redis's)", off.Round(time.Millisecond), way)
	}
	return fmt.Errorf("rjwt: %s: %w: the call reached Redis after its deadline, by Redis's clock%s; nothing was done", op, ErrUnavailable, clocks)
}

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

// checkReads is Check's common path without a script: one pipeline (through
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
func (s *Store) checkReads(ctx context.Context, id, nano string, withData bool, every time.Duration) (CheckResult, bool, error) {
	key, idx := s.Session(id, nano), s.index(id)
	clock := s.clock
	var now int64
	var ask bool
	if s.cluster != nil {
		var ok bool
		if clock, now, ok = s.clusterClock(ctx, key); !ok {
			return CheckResult{}, true, nil
		}
	} else {
		var ok bool
		now, ok, ask = clock.now()
		if ask && ok {
			defer clock.done() // this call refreshes the stale sample
		}
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
		idle, ok := msField(h[2])
		if !ok {
			return r, true, nil
		}
		stop := now + idle
		if h[3] != nil {
			x, ok := msField(h[3])
			if !ok {
				return r, true, nil
			}
			stop = min(stop, x)
		}
		if 2*left < idle && stop-now > left {
			return r, true, nil // an extension is due
		}
		if stop-now > left {
			fresh = left - idle/2 // until the next extension is due
		}
	}
	r.Fresh = time.Duration(max(fresh, 0)) * time.Millisecond
	return r, due, nil
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
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "READONLY ") || strings.HasPrefix(msg, "OOM ")
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

// Tracked is a session as Redis answered it to VerifyTTL.
type Tracked struct {
	Live    bool
	Data    []byte        // nil when none
	HasData bool          // the hash has a data field (Sign always writes one)
	Left    time.Duration // until the first of its two keys expires; -1: neither does
}

// VerifyTTL is Verify for a local cache: the same liveness rule, the data
// always, and the time the session has left in Redis. It runs on via, a
// client whose connections have CLIENT TRACKING on, so that Redis tracks
// both of the session's keys for it. One round trip; read-only; no retries
// (the caller falls back to Verify).
func (s *Store) VerifyTTL(ctx context.Context, via redis.Scripter, id, nano string) (Tracked, error) {
	base := s.UserBase(id)
	cmd, err := s.runOnce(ctx, clientScripter{via}, "verify", verifyTTLScript, []string{base + indexSuffix, base + nano}, nano)
	if err != nil {
		return Tracked{}, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return Tracked{}, fmt.Errorf("rjwt: verify: unexpected reply %v", cmd.Val())
	}
	if n, _ := res[0].(int64); n != 1 {
		return Tracked{}, nil
	}
	t := Tracked{Live: true, Left: -1}
	if len(res) > 1 {
		if d, ok := res[1].(string); ok {
			t.HasData = true
			if d != "" {
				t.Data = []byte(d)
			}
		}
	}
	if len(res) > 2 {
		if ms, _ := res[2].(int64); ms >= 0 {
			t.Left = time.Duration(ms) * time.Millisecond
		}
	}
	return t, nil
}

// runOnce is runOn without retries.
func (s *Store) runOnce(ctx context.Context, via scripter, op string, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	if err := s.avail.Err(); err != nil {
		return nil, fmt.Errorf("rjwt: %s: %w", op, err)
	}
	run, src := sc.flagged, sc.flaggedSrc
	if s.plain.Load() {
		run, src = sc.plain, sc.plainSrc
	}
	cmd := via.evalSha(ctx, run, src, keys, args)
	if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		if isShebangRefused(err) && !s.plain.Load() {
			s.plain.Store(true)
		}
		return nil, s.Wrap(op, err)
	}
	return cmd, nil
}

// Revoke ends session id:nano and reports whether it was live. One round
// trip; a second run of the same call reports the first run's answer.
func (s *Store) Revoke(ctx context.Context, id, nano string) (bool, error) {
	defer s.changed(id, nano)
	req, err := gonanoid.New()
	if err != nil {
		return false, fmt.Errorf("rjwt: revoke: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.runRevocation(ctx, "revoke", revokeScript, []string{base + indexSuffix, base + nano, base + opInfix + req, base + opInfix + nano}, nano, s.ackFlag())
	if err != nil {
		return false, err
	}
	n, _ := cmd.Int()
	return n == 1, nil
}

// RevokeAll ends every session of user id and returns how many were live.
// One round trip; a second run of the same call reports the first's count.
func (s *Store) RevokeAll(ctx context.Context, id string) (int, error) {
	defer s.changed(id, "")
	req, err := gonanoid.New()
	if err != nil {
		return 0, fmt.Errorf("rjwt: revoke all: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.runRevocation(ctx, "revoke all", revokeAllScript, []string{base + indexSuffix, base + opInfix + req}, base, s.ackFlag(), base+opInfix)
	if err != nil {
		return 0, err
	}
	n, _ := cmd.Int()
	return n, nil
}

// SessionTTL is one live session of a user: the time it has left (-1: no
// expiry), how long ago it was created and last used, by Redis's clock (-1:
// not recorded, for sessions signed before they were), and its device
// details (a JSON object, nil when none).
type SessionTTL struct {
	Nano      string
	Left      time.Duration
	Created   time.Duration
	SeenSince time.Duration
	Meta      []byte
}

// Sessions lists user id's live sessions. One round trip; read-only.
func (s *Store) Sessions(ctx context.Context, id string) ([]SessionTTL, error) {
	base := s.UserBase(id)
	cmd, err := s.runPiped(ctx, "sessions", sessionsScript, []string{base + indexSuffix}, base)
	if err != nil {
		return nil, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return nil, fmt.Errorf("rjwt: sessions: unexpected reply %v", cmd.Val())
	}
	now, _ := res[0].(int64)
	ago := func(v any) time.Duration {
		str, ok := v.(string)
		if !ok {
			return -1
		}
		ms, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return -1
		}
		return time.Duration(max(now-ms, 0)) * time.Millisecond
	}
	out := make([]SessionTTL, 0, (len(res)-1)/5)
	for i := 1; i+4 < len(res); i += 5 {
		nano, _ := res[i].(string)
		ms, _ := res[i+1].(int64)
		left := time.Duration(ms) * time.Millisecond
		if ms < 0 {
			left = -1
		}
		st := SessionTTL{Nano: nano, Left: left, Created: ago(res[i+2]), SeenSince: ago(res[i+3])}
		if m, ok := res[i+4].(string); ok && m != "" {
			st.Meta = []byte(m)
		}
		out = append(out, st)
	}
	return out, nil
}

// RefreshArgs name one rotation.
type RefreshArgs struct {
	ID, Nano  string
	Presented string        // the refresh id of the token presented
	Next      string        // its successor, chosen before the call
	TTL       time.Duration // the refresh TTL; the session slides by it
	Grace     time.Duration // the id a rotation replaced gets its answer this long
}

// RefreshStatus is what a rotation found.
type RefreshStatus int

// The outcomes of Refresh.
const (
	Rotated RefreshStatus = iota // the presented id was current: now Next is
	Gone                         // the session is not live
	Reused                       // the presented id is stale: the session was deleted
)

// RefreshResult is Refresh's answer.
type RefreshResult struct {
	Status    RefreshStatus
	AccessTTL time.Duration // Rotated: the session's access TTL
	At        time.Time     // Rotated: when it rotated, by Redis's clock
	Next      string        // Rotated: the refresh id that is current now
}

// Refresh rotates a session's refresh id. One round trip. Run twice (a
// retry after a lost reply), the second run recognises its own rotation and
// answers the same, so the caller builds the same pair; so does a second
// call with the replaced id within the grace.
func (s *Store) Refresh(ctx context.Context, a RefreshArgs) (RefreshResult, error) {
	defer s.changed(a.ID, a.Nano)
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	base := s.UserBase(a.ID)
	cmd, err := s.runRefresh(ctx, refreshScript, []string{base + indexSuffix, base + a.Nano, base + opInfix + a.Nano},
		a.Nano, a.Presented, a.Next, a.TTL.Milliseconds(), a.Grace.Milliseconds(), s.notAfter(ctx))
	if err != nil {
		return RefreshResult{}, err
	}
	res, _ := cmd.Slice()
	status := func(i int) int64 {
		if i < len(res) {
			n, _ := res[i].(int64)
			return n
		}
		return 0
	}
	switch {
	case len(res) == 4 && status(0) == 1:
		next, _ := res[3].(string)
		return RefreshResult{Status: Rotated, AccessTTL: time.Duration(status(1)) * time.Millisecond, At: time.UnixMilli(status(2)), Next: next}, nil
	case status(0) == -1:
		return RefreshResult{Status: Reused}, nil
	case status(0) == -2:
		return RefreshResult{}, s.errLate("refresh")
	}
	return RefreshResult{Status: Gone}, nil
}

// SetData replaces a live session's private data; false when it is not live.
// One round trip.
func (s *Store) SetData(ctx context.Context, id, nano string, data []byte) (bool, error) {
	defer s.changed(id, nano)
	base := s.UserBase(id)
	cmd, err := s.run(ctx, "set session data", setDataScript, []string{base + indexSuffix, base + nano}, nano, data)
	if err != nil {
		return false, err
	}
	n, _ := cmd.Int()
	return n == 1, nil
}

// FieldChange is one change of UpdateData: field Name (whose JSON string
// form is Literal) set to the raw JSON Value, or deleted when Value is nil.
type FieldChange struct {
	Name, Literal string
	Value         []byte
}

// DataStatus is what UpdateData and IncrData found.
type DataStatus int

// The outcomes of UpdateData and IncrData.
const (
	DataDone       DataStatus = 1
	DataGone       DataStatus = 0  // the session is not live
	DataNotObject  DataStatus = -2 // the data is not a JSON object
	DataNotInteger DataStatus = -3 // IncrData: the field is not an integer
	DataTooLarge   DataStatus = -4 // the data would be over the limit
)

// UpdateData sets and deletes top-level fields of a live session's private
// data (a JSON object) in one atomic step, keeping the other fields as they
// are in Redis: concurrent updates of other fields are not lost. max bounds
// the data's size. One round trip; running it twice writes the same again.
func (s *Store) UpdateData(ctx context.Context, id, nano string, max int, changes []FieldChange) (DataStatus, error) {
	defer s.changed(id, nano)
	base := s.UserBase(id)
	args := make([]any, 0, 3+3*len(changes))
	args = append(args, nano, max, "u")
	for _, c := range changes {
		args = append(args, c.Name, c.Literal, c.Value)
	}
	cmd, err := s.run(ctx, "update session data", updateScript, []string{base + indexSuffix, base + nano, base + opInfix + "-"}, args...)
	if err != nil {
		return 0, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return 0, fmt.Errorf("rjwt: update session data: unexpected reply %v", cmd.Val())
	}
	st, _ := res[0].(int64)
	return DataStatus(st), nil
}

// IncrData adds delta to the integer field Name of a live session's private
// data (a JSON object; a missing field counts as 0) and returns the sum.
// One round trip; a second run of the same call (a retry after a lost
// reply) returns the first run's sum without adding again.
func (s *Store) IncrData(ctx context.Context, id, nano string, max int, name, literal string, delta int64) (int64, DataStatus, error) {
	defer s.changed(id, nano)
	req, err := gonanoid.New()
	if err != nil {
		return 0, 0, fmt.Errorf("rjwt: increment session data: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.run(ctx, "increment session data", updateScript, []string{base + indexSuffix, base + nano, base + opInfix + req},
		nano, max, "i", name, literal, delta)
	if err != nil {
		return 0, 0, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return 0, 0, fmt.Errorf("rjwt: increment session data: unexpected reply %v", cmd.Val())
	}
	st, _ := res[0].(int64)
	if st != int64(DataDone) || len(res) < 2 {
		return 0, DataStatus(st), nil
	}
	v, _ := res[1].(string)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("rjwt: increment session data: unexpected reply %v", cmd.Val())
	}
	return n, DataDone, nil
}

// Touch extends a live session to at least ttl from now, never past its
// absolute end; false when it is not live. One round trip.
func (s *Store) Touch(ctx context.Context, id, nano string, ttl time.Duration) (bool, error) {
	defer s.changed(id, nano)
	base := s.UserBase(id)
	cmd, err := s.run(ctx, "touch", touchScript, []string{base + indexSuffix, base + nano}, nano, ttl.Milliseconds())
	if err != nil {
		return false, err
	}
	n, _ := cmd.Int()
	return n == 1, nil
}

// Entry names one session.
type Entry struct{ ID, Nano string }

// Prune removes sessions Redis has expired from their users' indexes, in
// one pipeline (one round trip per node involved). Running it twice removes
// nothing more.
func (s *Store) Prune(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.ZRem(ctx, s.Index(e.ID), e.Nano)
		}
		return nil
	})
	if err != nil {
		return s.Wrap(fmt.Sprintf("pruning %d expired sessions from their indexes", len(entries)), err)
	}
	return nil
}

// MarkSuspect asks the event monitor's prober to check Redis now (a
// subscription connection broke: is Redis down, or only that connection?),
// without failing calls meanwhile.
func (s *Store) MarkSuspect() {
	select {
	case s.avail.kick <- struct{}{}:
	default:
	}
}
