// Package logroute sends go-redis's messages about the Redis clients rjwt
// builds (their dial failures, and anything logged during rjwt's
// background work) to that rjwt client's logger, and every other message
// to stderr as go-redis's default logger prints it.
package logroute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/redis/go-redis/v9"
)

type logKey struct{}

// Context is the parent of the contexts of a client's background work: a
// go-redis message logged under it goes to to.
func Context(to *slog.Logger) context.Context {
	return context.WithValue(context.Background(), logKey{}, to)
}

// dialError marks a dial failure of a Redis client rjwt built, so that
// go-redis's message about it reaches that client's logger. It reads and
// unwraps as the dial's own error.
type dialError struct {
	err error
	to  *slog.Logger
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// Dialer is the Dialer of a Redis client rjwt builds with options o:
// go-redis's own, with its failures marked as to's.
func Dialer(o *redis.Options, to *slog.Logger) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := redis.NewDialer(o)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, &dialError{err: err, to: to}
		}
		return conn, nil
	}
}

// Logger is the process-wide go-redis logger rjwt.RouteRedisLogs installs.
type Logger struct {
	mu  sync.Mutex
	std *log.Logger // go-redis's default: stderr, "redis: " prefix, file:line
}

// Redis is the one Logger.
var Redis = &Logger{std: log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)}

// Printf logs a go-redis message: at Debug to the logger of the rjwt
// client it is about, else as go-redis's default logger does.
func (l *Logger) Printf(ctx context.Context, format string, v ...any) {
	if to := loggerOf(ctx, v); to != nil {
		if to.Enabled(ctx, slog.LevelDebug) {
			to.LogAttrs(ctx, slog.LevelDebug, "rjwt: go-redis: "+fmt.Sprintf(format, v...))
		}
		return
	}
	l.mu.Lock()
	std := l.std
	l.mu.Unlock()
	// Depth 3: this frame, go-redis's forwarding atomic logger, then the
	// line that logged, which go-redis's default logger names too.
	_ = std.Output(3, fmt.Sprintf(format, v...))
}

// SetOutput redirects the messages passed on (tests).
func (l *Logger) SetOutput(w io.Writer) {
	l.mu.Lock()
	l.std = log.New(w, "redis: ", log.LstdFlags|log.Lshortfile)
	l.mu.Unlock()
}

// loggerOf finds the logger of the rjwt client a go-redis message is
// about: one whose background work logged it, or whose dial failed.
func loggerOf(ctx context.Context, v []any) *slog.Logger {
	if ctx != nil {
		if to, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
			return to
		}
	}
	for _, a := range v {
		if err, ok := a.(error); ok {
			var de *dialError
			if errors.As(err, &de) {
				return de.to
			}
		}
	}
	return nil
}
