package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// availability is what the client knows of Redis's reachability. It is
// "unknown" at start (calls go through), "down" once the topology watcher's
// walk finds no master answering (calls fail at once, without the network,
// wrapping ErrUnavailable and the cause), and "up" again when a walk sees
// Redis answer. The watcher is its one writer; a call whose dial is refused
// tells it (refusedDial), and it marks Redis down at once and walks.
type availability struct {
	lastOK  atomic.Int64 // when a call last got an answer: nanoseconds since start (mono)
	down    atomic.Pointer[downState]
	refused atomic.Pointer[downState] // a call's refused dial, for the watcher (Refused)
	kick    chan struct{}             // a call saw Redis unreachable: walk now
}

type downState struct {
	cause error
	at    time.Time // when it was seen (a refusal)
}

// start is the origin of lastOK's monotonic clock.
var start = time.Now()

// Err is nil while calls may go to Redis, else the error they fail with.
func (a *availability) Err() error {
	if d := a.down.Load(); d != nil {
		return fmt.Errorf("%w (known down, not retried until Redis answers a probe): %w", ErrUnavailable, d.cause)
	}
	return nil
}

// MarkDown makes calls fail fast with cause until MarkUp, unless a call got
// Redis's answer after seen (when what says Redis is down was observed):
// the newer evidence wins, and the watcher's next walk decides.
func (a *availability) MarkDown(cause error, seen time.Time) {
	if a.lastOK.Load() > int64(seen.Sub(start)) {
		return
	}
	a.down.Store(&downState{cause: cause, at: seen})
}

// refusedDial tells the watcher that a call's dial was refused, and has it
// walk now.
func (a *availability) refusedDial(err error) {
	a.refused.Store(&downState{cause: err, at: time.Now()})
	a.suspect()
}

// answered says a call got Redis's answer, the newest evidence: a walk or
// a refused dial seen before it cannot mark Redis down after it (MarkDown),
// and a down mark seen before it is lifted (a call that passed the check
// before the mark and got its answer after it: Redis answers again; the
// watcher's next walk decides anew). The time is stored at most once per
// millisecond, so calls rarely write the shared word.
func (a *availability) answered() {
	now := int64(time.Since(start))
	if now-a.lastOK.Load() > int64(time.Millisecond) {
		a.lastOK.Store(now)
	}
	if d := a.down.Load(); d != nil && !d.at.IsZero() && int64(d.at.Sub(start)) < now {
		a.down.CompareAndSwap(d, nil)
	}
}

// suspect asks the watcher to walk now.
func (a *availability) suspect() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// MarkUp lets calls go to Redis again.
func (a *availability) MarkUp() { a.down.Store(nil) }

// IsDown reports whether calls fail fast now.
func (a *availability) IsDown() bool { return a.down.Load() != nil }

// isDialError reports an error that says Redis cannot be reached at all: a
// refused or timed-out dial, as opposed to a call that failed on a
// connection that was up.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unavailable reports whether err means "Redis could not be reached, did not
// answer in time, or refuses to work for now": the errors ErrUnavailable
// stands for.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return codesUnavailable[ReplyCode(err)]
}

// BrokenConn reports whether err says only that the connection a command
// used broke (EOF, reset, broken pipe): Redis may be fine, and the command
// may be sent again on another connection. A timeout or a refused dial is
// not a broken connection.
func BrokenConn(err error) bool {
	if err == nil || isDialError(err) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// retryable reports whether a failed call may be sent again on another
// connection: the connection it used broke (reset, EOF), or Redis said
// "try again" (LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY after
// a failover). Timeouts are not retried: the call's time is spent. A
// refused dial is not retried: Redis is down, and the call fails fast.
func retryable(err error) bool {
	if err == nil || isDialError(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	if BrokenConn(err) {
		return true
	}
	return codesRetryable[ReplyCode(err)]
}

// MarkDown makes calls fail fast (ErrUnavailable wrapping cause) until
// MarkUp. The topology watcher (internal/topology) calls it, alone, when its
// walk finds no master answering; seen is when that was observed (the
// walk's start, a refused dial's time), and a call answered after it wins:
// Redis is not marked down.
func (s *Store) MarkDown(cause error, seen time.Time) { s.avail.MarkDown(cause, seen) }

// MarkUp lets calls reach Redis again; the topology watcher calls it when
// a walk sees Redis answer.
func (s *Store) MarkUp() { s.avail.MarkUp() }

// IsDown reports whether calls fail fast now.
func (s *Store) IsDown() bool { return s.avail.IsDown() }

// Kicked receives when a call found Redis unreachable: the topology watcher
// walks at once.
func (s *Store) Kicked() <-chan struct{} { return s.avail.kick }

// Refused is when a call's dial was refused since the last ask (single
// node or Sentinel), and its error, or nil: the topology watcher marks Redis
// down with it before it walks.
func (s *Store) Refused() (seen time.Time, err error) {
	if d := s.avail.refused.Swap(nil); d != nil {
		return d.at, d.cause
	}
	return time.Time{}, nil
}

// Available is nil while calls may reach Redis, else the error they fail
// with.
func (s *Store) Available() error { return s.avail.Err() }
