package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// availability is what the client knows of Redis's reachability. It is
// "unknown" at start (calls go through), "down" once the topology watcher's
// walk finds no master answering (calls fail at once, without the network,
// wrapping ErrUnavailable and the cause), and "up" again when a walk sees
// Redis answer. The watcher is its one writer; a call whose dial is refused
// tells it (refusedDial), and it marks Redis down at once and walks.
type availability struct {
	down    atomic.Pointer[downState]
	refused atomic.Pointer[downState] // a call's refused dial, for the watcher (Refused)
	kick    chan struct{}             // a call saw Redis unreachable: walk now
}

type downState struct{ cause error }

// Err is nil while calls may go to Redis, else the error they fail with.
func (a *availability) Err() error {
	if d := a.down.Load(); d != nil {
		return fmt.Errorf("%w (known down, not retried until Redis answers a probe): %w", ErrUnavailable, d.cause)
	}
	return nil
}

// MarkDown makes calls fail fast with cause until MarkUp.
func (a *availability) MarkDown(cause error) { a.down.Store(&downState{cause: cause}) }

// refusedDial tells the watcher that a call's dial was refused, and has it
// walk now.
func (a *availability) refusedDial(err error) {
	a.refused.Store(&downState{cause: err})
	a.suspect()
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
