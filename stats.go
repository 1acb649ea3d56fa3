package rjwt

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Op names an operation that Stats counts and Hooks see.
type Op uint8

// The operations counted and hooked.
const (
	OpSign              Op = iota // Sign
	OpSignPair                    // SignPair
	OpVerify                      // Verify
	OpRefresh                     // Refresh
	OpRevoke                      // Revoke
	OpRevokeAll                   // RevokeAll
	OpSessions                    // Sessions
	OpSetSessionData              // SetSessionData
	OpUpdateSessionData           // UpdateSessionData
	OpIncrSessionData             // IncrSessionData
	OpTouch                       // Touch
	OpReissue                     // Reissue (lifecycle.go)
	OpRevokeOthers                // RevokeOthers (lifecycle.go)
	numOps
)

var opNames = [numOps]string{"sign", "sign_pair", "verify", "refresh", "revoke", "revoke_all",
	"sessions", "set_session_data", "update_session_data", "incr_session_data", "touch", "reissue", "revoke_others"}

// Ops lists every operation Stats counts and Hooks see: each public call
// that touches Redis (RevokeOwn is counted as the Revoke it makes).
func Ops() []Op {
	ops := make([]Op, numOps)
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// String is the operation's name in metrics and spans: "sign", "sign_pair",
// "verify", "refresh", "revoke", "revoke_all", "sessions",
// "set_session_data", "update_session_data", "incr_session_data", "touch",
// "reissue", "revoke_others".
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Outcome is how an operation ended, for Stats and Hooks.
type Outcome uint8

// The outcomes. OutcomeOf maps an operation's error to one.
const (
	// OutcomeOK: the operation succeeded.
	OutcomeOK Outcome = iota
	// OutcomeExpired: ErrTokenExpired.
	OutcomeExpired
	// OutcomeRevoked: ErrSessionNotFound (revoked, replaced in single
	// mode, expired in Redis), ErrRefreshReused (revoked now, for reuse)
	// or ErrLoginSuperseded (a login that lost to a newer one).
	OutcomeRevoked
	// OutcomeInvalid: refused on its input: ErrInvalidToken, ErrInvalidID,
	// ErrInvalidTTL, ErrTooLarge, ErrStepUpRequired, ErrTooManySessions or
	// ErrInvalidAuthContext.
	OutcomeInvalid
	// OutcomeUnavailable: ErrUnavailable: Redis unreachable, slow or
	// refusing to work for now.
	OutcomeUnavailable
	// OutcomeError: anything else: a Redis error reply that is not
	// ErrUnavailable, a canceled context, a closed client.
	OutcomeError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "expired", "revoked", "invalid", "unavailable", "error"}

// String is the outcome's name in metrics and spans: "ok", "expired",
// "revoked", "invalid", "unavailable", "error".
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// OutcomeOf is the Outcome of an operation that returned err.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrTokenExpired):
		return OutcomeExpired
	case errors.Is(err, ErrSessionNotFound), errors.Is(err, ErrRefreshReused), errors.Is(err, ErrLoginSuperseded):
		return OutcomeRevoked
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrInvalidID), errors.Is(err, ErrInvalidTTL), errors.Is(err, ErrTooLarge),
		errors.Is(err, ErrStepUpRequired), errors.Is(err, ErrTooManySessions), errors.Is(err, ErrInvalidAuthContext):
		return OutcomeInvalid
	case errors.Is(err, ErrUnavailable):
		return OutcomeUnavailable
	}
	return OutcomeError
}

// OpStats counts one operation's calls by outcome.
type OpStats struct {
	OK, Expired, Revoked, Invalid, Unavailable, Error uint64
}

// Total is the number of calls counted.
func (s OpStats) Total() uint64 {
	return s.OK + s.Expired + s.Revoked + s.Invalid + s.Unavailable + s.Error
}

// Get is the count of one outcome.
func (s OpStats) Get(o Outcome) uint64 {
	if o < numOutcomes {
		return *s.counts()[o]
	}
	return 0
}

// counts are the counts by Outcome.
func (s *OpStats) counts() [numOutcomes]*uint64 {
	return [numOutcomes]*uint64{&s.OK, &s.Expired, &s.Revoked, &s.Invalid, &s.Unavailable, &s.Error}
}

// Stats are a client's counts since New, by operation and outcome.
type Stats struct {
	Sign, SignPair, Verify, Refresh, Revoke, RevokeAll OpStats
	// The session calls: Sessions, SetSessionData, UpdateSessionData,
	// IncrSessionData, Touch.
	Sessions, SetSessionData, UpdateSessionData, IncrSessionData, Touch OpStats
	// The lifecycle calls (lifecycle.go).
	Reissue, RevokeOthers OpStats
	// Cache is CacheStats(): the local cache's hits, misses, invalidations
	// and flushes (all zero without WithLocalCache).
	Cache CacheStats
}

// Op is the counts of one operation.
func (s Stats) Op(op Op) OpStats {
	if op < numOps {
		return *s.ops()[op]
	}
	return OpStats{}
}

// ops are the counts by Op.
func (s *Stats) ops() [numOps]*OpStats {
	return [numOps]*OpStats{&s.Sign, &s.SignPair, &s.Verify, &s.Refresh, &s.Revoke, &s.RevokeAll, &s.Sessions,
		&s.SetSessionData, &s.UpdateSessionData, &s.IncrSessionData, &s.Touch, &s.Reissue, &s.RevokeOthers}
}

// Stats returns the client's counts of every Op's calls by outcome, since
// New. Counting is always on:
// one atomic add per call, no allocation. Each count is read atomically;
// the set is not one snapshot (calls that end meanwhile may show in some
// counts and not others).
func (c *Client) Stats() Stats {
	s := Stats{Cache: c.CacheStats()}
	for op, p := range s.ops() {
		for o, n := range p.counts() {
			*n = c.counts[op].n[o].Load()
		}
	}
	return s
}

// Hooks instrument a client's operations (every Op: Sign, SignPair, Verify,
// Refresh, Revoke, RevokeAll and the session calls): the rjwtotel module's
// metrics and spans are Hooks. A
// client calls them on the caller's goroutine, so they must be safe for
// concurrent use, and quick: they run inside every call.
type Hooks interface {
	// Start is called when an operation begins, with the caller's context
	// (or, with several Hooks, the context the previous one's Start
	// returned). The context it returns is the one the operation runs with
	// (its Redis calls too) and the one its End gets: put a span in it.
	Start(ctx context.Context, op Op) context.Context
	// End is called when the operation returns, with the context this
	// Hooks' Start returned, the outcome, the error the caller gets (nil on
	// success) and how long the operation took after the last Start.
	End(ctx context.Context, op Op, outcome Outcome, err error, d time.Duration)
}

// WithHooks adds instrumentation hooks. Given more than once, each Hooks'
// Start runs in the order given and each End in the reverse order. Without
// hooks an operation's instrumentation costs one atomic add (Stats).
func WithHooks(h Hooks) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("rjwt: WithHooks: nil hooks")
		}
		c.ops.hooks = append(c.ops.hooks, h)
		return nil
	}
}

// opCounters counts one operation's outcomes, on a cache line of its own so
// that different operations' counts do not share one between cores.
type opCounters struct {
	n [numOutcomes]atomic.Uint64
	_ [64 - 8*numOutcomes%64]byte
}

// call is one operation in progress.
type call struct {
	op    Op
	start time.Time         // zero without hooks
	ctxs  []context.Context // with several hooks: what each Start returned
}

// begin starts operation op: the hooks' Start, then the clock.
func (c *Client) begin(ctx context.Context, op Op) (context.Context, call) {
	cl := call{op: op}
	switch len(c.hooks) {
	case 0:
		return ctx, cl
	case 1:
		ctx = c.hooks[0].Start(ctx, op)
	default:
		cl.ctxs = make([]context.Context, len(c.hooks))
		for i, h := range c.hooks {
			ctx = h.Start(ctx, op)
			cl.ctxs[i] = ctx
		}
	}
	cl.start = time.Now()
	return ctx, cl
}

// end counts the operation's outcome and calls the hooks' End.
func (c *Client) end(ctx context.Context, cl call, err error) {
	o := OutcomeOf(err)
	c.counts[cl.op].n[o].Add(1)
	if len(c.hooks) == 0 {
		return
	}
	d := time.Since(cl.start)
	for i := len(c.hooks) - 1; i >= 0; i-- {
		if cl.ctxs != nil {
			ctx = cl.ctxs[i]
		}
		c.hooks[i].End(ctx, cl.op, o, err, d)
	}
}
