package rjwt

import (
	"context"
	"errors"
	"time"

	"github.com/rjwt/rjwt/internal/events"
	"github.com/rjwt/rjwt/internal/logroute"
	"github.com/rjwt/rjwt/internal/outbox"
)

// ErrClosed is returned by WaitReady when the client is closed first, and
// by calls on a closed client.
var ErrClosed = errors.New("rjwt: client closed")

// EventType names what an Event reports.
type EventType string

// The events a Client reports on Events().
const (
	// EventReady: the client can serve. Sent when Redis first answers and,
	// with WithKeyspaceEvents(true), rjwt's subscriptions are confirmed and
	// notify-keyspace-events is applied on every node (on a Cluster, every
	// master serving slots); sent again after every EventConnected, once both
	// are back (a restarted Redis or a promoted replica lacks CONFIG SET: rjwt
	// applies it again, retrying until it works). Never sent while a
	// subscription or the configuration is missing.
	EventReady EventType = "ready"
	// EventConnected: Redis answers again after EventDisconnected (and, the
	// first time, when it first answers). On a Cluster: every master serving
	// slots answers (after a failover, once the promoted replica serves the
	// dead master's slots).
	EventConnected EventType = "connected"
	// EventDisconnected: Redis stopped answering; Event.Err says why. Sent
	// once per outage. On a Cluster: a master serving slots stopped answering
	// (Err names it); calls for the other masters' slots keep working.
	EventDisconnected EventType = "disconnected"
	// EventError: background work failed; Event.Err says how, with the real
	// cause (a dial error is reported as one, not as CONFIG refused). Also
	// sent when Redis cannot be reached at start, when CONFIG is refused, and
	// when maxmemory-policy can evict rjwt's keys.
	EventError EventType = "error"
	// EventSessionExpired: Redis expired a session. Needs WithKeyspaceEvents(true).
	EventSessionExpired EventType = "session_expired"
	// EventSessionRevoked: a session was deleted: Revoke, RevokeAll, replaced
	// in single mode, or deleted by hand. Needs WithKeyspaceEvents(true).
	EventSessionRevoked EventType = "session_revoked"
)

// Event is one lifecycle or session event.
type Event struct {
	Type    EventType
	Session string // "id:nanoid" for session events
	Err     error  // for EventError
	Time    time.Time
}

// eventsOut is the client's side of its events: the public channel, fed by
// emit, which never blocks; the monitor (internal/events) owns the
// lifecycle state and the goroutines behind it.
type eventsOut struct {
	*outbox.Outbox[Event]
	mon *events.Monitor
}

// eventTypes maps the monitor's kinds to the public types.
var eventTypes = [...]EventType{
	events.Ready:          EventReady,
	events.Connected:      EventConnected,
	events.Disconnected:   EventDisconnected,
	events.Error:          EventError,
	events.SessionExpired: EventSessionExpired,
	events.SessionRevoked: EventSessionRevoked,
}

// Events returns the client's event channel: lifecycle events always, session
// events with WithKeyspaceEvents(true). There is one channel per client,
// buffered (WithEventBuffer), and Close closes it. Sending never blocks
// rjwt's work: when the buffer is full the event is dropped and counted
// (DroppedEvents).
func (c *Client) Events() <-chan Event { return c.ev.C() }

// DroppedEvents is how many events were dropped because the Events channel
// was full.
func (c *Client) DroppedEvents() uint64 { return c.ev.Dropped() }

// WaitReady blocks until the first EventReady, or until ctx ends (its error)
// or the client is closed (ErrClosed). It does not consume from Events.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ev.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ev.mon.Done():
		select {
		case <-c.ev.Ready():
			return nil
		default:
			return ErrClosed
		}
	}
}

// emit sends an event without blocking; a full channel drops it and counts.
func (c *Client) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	c.logEvent(e)
	if n := c.ev.Send(e, e.Type == EventReady); n != 0 {
		c.eventDropped(e, n)
	}
}

// startEvents starts the background work. It does not touch Redis itself:
// New must not block.
func (c *Client) startEvents(cfg *config) {
	c.ev.Outbox = outbox.New[Event](cfg.eventBuffer)
	c.ev.mon = events.Start(events.Config{Redis: c.rdb, Store: c.st, Prefix: c.prefix, Keyspace: c.keyspaceEvents,
		Health: cfg.healthInterval, Base: logroute.Context(c.log),
		Emit: func(k events.Kind, session string, err error) {
			c.emit(Event{Type: eventTypes[k], Session: session, Err: err})
		}})
}

// stopEvents ends the background work and closes the event channel. No
// goroutine of rjwt's outlives it.
func (c *Client) stopEvents() {
	c.ev.mon.Stop()
	c.ev.Close()
}
