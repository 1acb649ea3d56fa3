package rjwt

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/logroute"
	"github.com/rjwt/rjwt/internal/store"
)

// WithLogger sets where rjwt logs its background work: Redis becoming
// unreachable and reachable again (Warn, Info), EventReady (Info), errors of
// the background work (Warn when transient, such as a failed dial or a
// CONFIG SET that will be retried; Error when an operator must act, such as
// CONFIG refused or an evicting maxmemory-policy), events dropped because
// the Events channel was full (Warn, at the 1st, 2nd, 4th, 8th... drop),
// refresh-token reuse (Warn) and session events (Debug). Each record
// carries its details as attributes ("event", "session", "error",
// "dropped").
//
// The default, and a nil l, is to log nothing: rjwt prints nothing by
// itself, and every event it logs is also on Events.
//
// go-redis logs through one process-wide logger (redis.SetLogger); it has
// no per-client setting, and rjwt does not change it on its own: see
// RouteRedisLogs for sending go-redis's messages about rjwt's own clients
// (a Redis that is down: "failed to dial" from every health check) to
// those clients' loggers instead of stderr.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.ops.logger = l; return nil }
}

// Logger returns the logger given with WithLogger, or nil when there was
// none. rjwthttp logs through it unless told otherwise.
func (c *Client) Logger() *slog.Logger { return c.userLog }

// opsConfig is the configuration of logging, hooks and URLs.
type opsConfig struct {
	logger  *slog.Logger
	hooks   []Hooks
	url     *redis.Options // WithURL's, parsed
	addrSet bool           // WithAddr was given
}

// discardLogger is a client's logger without WithLogger.
var discardLogger = slog.New(slog.DiscardHandler)

// initLogging sets the client's logger from its configuration.
func (c *Client) initLogging(cfg *config) {
	c.userLog = cfg.ops.logger
	c.log = cfg.ops.logger
	if c.log == nil {
		c.log = discardLogger
	}
}

// logEvent logs an event the client emits.
func (c *Client) logEvent(e Event) {
	level, msg := slog.LevelInfo, "rjwt: event"
	switch e.Type {
	case EventReady:
		msg = "rjwt: ready"
	case EventConnected:
		msg = "rjwt: redis connected"
	case EventDisconnected:
		level, msg = slog.LevelWarn, "rjwt: redis disconnected"
		if e.Err == nil {
			// The monitor marks Redis down, with the probe's error, before
			// it reports the outage.
			e.Err = c.st.Available()
		}
	case EventError:
		level, msg = slog.LevelError, "rjwt: background error"
		if store.Transient(e.Err) {
			level = slog.LevelWarn
		}
	case EventRefreshReused:
		level, msg = slog.LevelWarn, "rjwt: refresh token reused; session revoked"
	case EventSessionExpired:
		level, msg = slog.LevelDebug, "rjwt: session expired"
	case EventSessionRevoked:
		level, msg = slog.LevelDebug, "rjwt: session revoked"
	}
	ctx := context.Background()
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 1, 3)
	attrs[0] = slog.String("event", string(e.Type))
	if e.Session != "" {
		attrs = append(attrs, slog.String("session", e.Session))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.Any("error", e.Err))
	}
	c.log.LogAttrs(ctx, level, msg, attrs...)
}

// eventDropped logs the 1st, 2nd, 4th, 8th... event (the nth) the full
// Events channel could not take.
func (c *Client) eventDropped(e Event, n uint64) {
	if n&(n-1) == 0 {
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "rjwt: Events channel full; event dropped (read Events faster or raise WithEventBuffer)",
			slog.String("event", string(e.Type)), slog.Uint64("dropped", n))
	}
}

// RouteRedisLogs installs, as go-redis's process-wide logger
// (redis.SetLogger), one that sends the messages about the Redis clients
// rjwt builds (their dial failures, and anything logged during rjwt's
// background work) to that rjwt client's logger (WithLogger), at Debug, and
// passes every other message on to stderr exactly as go-redis's default
// logger prints it: a Redis that is down then does not fill stderr with
// "failed to dial" lines from rjwt's health checks, and the program's own
// go-redis clients print as before. It changes process-wide state, so rjwt
// never calls it by itself: call it once at start if you want it. A later
// redis.SetLogger replaces it.
func RouteRedisLogs() { redis.SetLogger(logroute.Redis) }
