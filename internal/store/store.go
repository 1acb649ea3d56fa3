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
// Fail fast. The topology watcher (internal/topology) marks Redis down when
// its walk finds no master answering, or at once when a call's dial was
// refused (off a Cluster): calls then fail
// at once with ErrUnavailable wrapping the cause, without touching the
// network, until a walk sees Redis answer (MarkUp). On a Cluster one dead
// master is not Redis down: a failure there has go-redis reload its slot
// map at once (topology.go), calls for other masters' slots go on, and only
// the watcher marks the whole cluster down, when no master answers.
//
// Replica acknowledgement (ack.go, opt-in): Revoke, RevokeAll and a Refresh
// that found a reused token WAIT, on the connection that wrote, until
// Config.ReplicaAck replicas have the revocation.
//
// Layouts (lean.go). The classic layout keeps a hash per session and an
// index per user; the lean layout, where the server has hash-field expiry,
// one hash per user with a field per session. Every script is loaded in
// both forms: the lean one is the same script with lib/lean.lua in front,
// which maps its session-hash and index commands onto the user's hash (and
// serves sessions the classic layout wrote), so each rule is written once.
// run, runOnce and the reads without a script pick the form by the layout
// the store decided on at its first call (Config.Layout).
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// lean is the same script for the lean layout (lib/lean.lua in front);
	// nil in a lean variant itself
	lean *script
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
	// Each library goes in front of what is there: the last one named
	// comes first (a library may use those named after it).
	for _, lib := range libs {
		l, err := scriptFS.ReadFile("scripts/lib/" + lib + ".lua")
		if err != nil {
			panic("store: missing script library " + lib)
		}
		body = string(l) + body
	}
	sc := variant(flags, body)
	l, err := scriptFS.ReadFile("scripts/lib/lean.lua")
	if err != nil {
		panic("store: missing script library lean")
	}
	lean := variant(flags, string(l)+body)
	sc.lean = &lean
	return sc
}

// variant is a script with its flags line and without.
func variant(flags, body string) script {
	src := flags + "\n" + body
	plain := "--\n" + body
	return script{flagged: redis.NewScript(src), plain: redis.NewScript(plain), flaggedSrc: src, plainSrc: plain}
}

// flagsRefused makes the store run scripts without their flags line from
// now on; the first call tells Config.NoFlags.
func (s *Store) flagsRefused() {
	if s.plain.CompareAndSwap(false, true) && s.noFlags != nil {
		s.noFlags()
	}
}

// isShebangRefused reports the error of a server that cannot read a
// script's flags line.
func isShebangRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Error compiling script") && strings.Contains(err.Error(), "'#'")
}

var (
	signScript      = load("sign", "tomb", "now", "why", "limit")
	verifyScript    = load("verify")
	seenScript      = load("seen", "now")
	revokeScript    = load("revoke", "tomb", "now", "why")
	revokeAllScript = load("revoke_all", "tomb", "now", "why")
	sessionsScript  = load("sessions", "now")
	refreshScript   = load("refresh", "tomb", "now", "why")
	setDataScript   = load("set_data")
	touchScript     = load("touch", "now")
	updateScript    = load("update_data")
	verifyTTLScript = load("verify_ttl", "now")
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
	// Layout is the key layout (lean.go): LayoutAuto (the zero value)
	// probes the server at the first call and takes the lean layout where
	// every master has hash-field expiry.
	Layout Layout

	// NoFlags, when set, is called once, the first time the server refuses a
	// script's flags line (Redis 6, miniredis): from then on the store runs
	// every script without it (see script), and the caller says so.
	NoFlags func()
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
	noFlags    func()               // Config.NoFlags
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
	layout     layoutState // lean.go
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
		noFlags:    cfg.NoFlags,
	}
	s.layout.init(cfg.Layout)
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
	if err := cmd.Err(); err != nil && NoScript(err) {
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
	lean, err := s.isLean(ctx)
	if err != nil {
		return nil, s.layoutErr(op, err)
	}
	if lean {
		sc = *sc.lean
	}
	for n := 0; ; n++ {
		run, src := sc.flagged, sc.flaggedSrc
		if s.plain.Load() {
			run, src = sc.plain, sc.plainSrc
		}
		cmd, err := attempt(ctx, run, src)
		if err == nil || errors.Is(err, redis.Nil) {
			s.avail.answered()
			return cmd, nil
		}
		if _, ok := err.(*AckError); ok {
			return nil, err
		}
		if isShebangRefused(err) && !s.plain.Load() {
			s.flagsRefused()
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
