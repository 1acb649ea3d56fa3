package rjwt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventType names what an Event reports.
type EventType string

// The events a Client reports on Events().
const (
	// EventReady: the client can serve. Sent when Redis first answers and,
	// with WithKeyspaceEvents(true), rjwt's subscriptions are confirmed; sent
	// again after every EventConnected, once the subscriptions are back.
	EventReady EventType = "ready"
	// EventConnected: Redis answers again after EventDisconnected (and, the
	// first time, when it first answers).
	EventConnected EventType = "connected"
	// EventDisconnected: Redis stopped answering. Sent once per outage.
	EventDisconnected EventType = "disconnected"
	// EventError: background work failed; Event.Err says how. Also sent when
	// Redis cannot be reached at start, and when CONFIG is refused.
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


// keyspaceFlags are the notify-keyspace-events classes rjwt needs: K
// (keyspace channel), g (generic commands: del) and x (expired).
const keyspaceFlags = "Kgx"

// events is the Client's background machinery: the health check, the
// keyspace subscriptions and the event channel.
type events struct {
	ch      chan Event
	mu      sync.RWMutex // guards closed against sends on a closed ch
	closed  bool
	dropped atomic.Uint64

	ready     chan struct{} // closed at the first EventReady
	readyOnce sync.Once

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	state      sync.Mutex
	conn       int             // connUnknown, connUp, connDown
	subscribed []bool          // per subscribed node
	subsKnown  bool            // the nodes to subscribe are known
	recheck    []chan struct{} // per node: PING the subscription after an outage
	readyNow   bool            // EventReady sent for the current connection
	pubsubs    []*redis.PubSub
}

const (
	connUnknown = iota
	connUp
	connDown
)

// Events returns the client's event channel: lifecycle events always, session
// events with WithKeyspaceEvents(true). There is one channel per client,
// buffered (WithEventBuffer), and Close closes it. Sending never blocks
// rjwt's work: when the buffer is full the event is dropped and counted
// (DroppedEvents).
func (c *Client) Events() <-chan Event { return c.ev.ch }

// DroppedEvents is how many events were dropped because the Events channel
// was full.
func (c *Client) DroppedEvents() uint64 { return c.ev.dropped.Load() }

// WaitReady blocks until the first EventReady, or until ctx ends (its error)
// or the client is closed (ErrClosed). It does not consume from Events.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ev.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ev.ctx.Done():
		select {
		case <-c.ev.ready:
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
	c.ev.mu.RLock()
	defer c.ev.mu.RUnlock()
	if c.ev.closed {
		return
	}
	select {
	case c.ev.ch <- e:
	default:
		c.ev.dropped.Add(1)
	}
	if e.Type == EventReady {
		c.ev.readyOnce.Do(func() { close(c.ev.ready) })
	}
}

// startEvents starts the background work. It does not touch Redis itself:
// New must not block.
func (c *Client) startEvents(cfg *config) {
	c.ev.ch = make(chan Event, cfg.eventBuffer)
	c.ev.ready = make(chan struct{})
	c.ev.ctx, c.ev.cancel = context.WithCancel(context.Background())
	c.ev.wg.Add(1)
	go c.healthLoop(cfg.healthInterval)
	if c.keyspaceEvents {
		c.ev.wg.Add(1)
		go c.keyspaceLoop()
	}
}

// stopEvents ends the background work and closes the event channel. No
// goroutine of rjwt's outlives it.
func (c *Client) stopEvents() {
	c.ev.cancel()
	c.ev.state.Lock()
	for _, ps := range c.ev.pubsubs {
		ps.Close() // unblocks Receive
	}
	c.ev.state.Unlock()
	c.ev.wg.Wait()
	c.ev.mu.Lock()
	c.ev.closed = true
	close(c.ev.ch)
	c.ev.mu.Unlock()
}

// db is the database the client's keys live in (0 on a Cluster).
func (c *Client) db() int {
	if rc, ok := c.rdb.(*redis.Client); ok {
		return rc.Options().DB
	}
	return 0
}

// keyspaceLoop finds the nodes that publish rjwt's keyspace events and
// subscribes to each: every master of a Cluster (each publishes only its own
// keys), or the one node otherwise. A Cluster's masters are listed once, when
// it first answers; masters added later are not subscribed.
func (c *Client) keyspaceLoop() {
	defer c.ev.wg.Done()
	pattern := "__keyspace@" + strconv.Itoa(c.db()) + "__:" + EscapePattern(c.prefix) + "*"
	var nodes []*redis.Client
	switch rdb := c.rdb.(type) {
	case *redis.Client:
		nodes = []*redis.Client{rdb}
	case *redis.ClusterClient:
		for len(nodes) == 0 {
			var mu sync.Mutex
			ctx, cancel := context.WithTimeout(c.ev.ctx, 5*time.Second)
			err := rdb.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
				mu.Lock()
				nodes = append(nodes, m)
				mu.Unlock()
				return nil
			})
			cancel()
			if err != nil {
				nodes = nil
				if c.ev.ctx.Err() != nil {
					return
				}
				c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: events: listing cluster masters: %w", err)})
				select {
				case <-c.ev.ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
	default:
		c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: events: keyspace events need a *redis.Client or *redis.ClusterClient, not %T", c.rdb)})
		return
	}
	c.ev.state.Lock()
	c.ev.subscribed = make([]bool, len(nodes))
	c.ev.recheck = make([]chan struct{}, len(nodes))
	for i := range c.ev.recheck {
		c.ev.recheck[i] = make(chan struct{}, 1)
	}
	c.ev.subsKnown = true
	c.ev.state.Unlock()
	c.ev.wg.Add(len(nodes))
	for i, node := range nodes {
		go c.subscribeLoop(i, node, pattern)
	}
}

// healthLoop PINGs Redis every interval and turns the answers into
// EventConnected / EventDisconnected. An outage is noticed within one interval
// plus the ping's timeout (the interval, at least 200ms and at most 2s); with
// keyspace events on, a dropped subscription connection reports it at once.
func (c *Client) healthLoop(interval time.Duration) {
	defer c.ev.wg.Done()
	timeout := min(max(interval, 200*time.Millisecond), 2*time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(c.ev.ctx, timeout)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if c.ev.ctx.Err() != nil {
			return
		}
		c.setConn(err == nil, err)
		select {
		case <-c.ev.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setConn records whether Redis answers, and emits the transitions.
func (c *Client) setConn(up bool, err error) {
	c.ev.state.Lock()
	defer c.ev.state.Unlock()
	switch {
	case up && c.ev.conn != connUp:
		c.ev.conn = connUp
		c.emit(Event{Type: EventConnected})
		c.maybeReadyLocked()
	case !up && c.ev.conn == connUp:
		c.ev.conn = connDown
		c.ev.readyNow = false
		c.emit(Event{Type: EventDisconnected})
		// The subscriptions may have died with the connection: none counts
		// until it proves itself again.
		for i := range c.ev.subscribed {
			c.ev.subscribed[i] = false
			select {
			case c.ev.recheck[i] <- struct{}{}:
			default:
			}
		}
	case !up && c.ev.conn == connUnknown:
		c.ev.conn = connDown
		c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: redis unreachable: %w", err)})
	}
}

func (c *Client) maybeReadyLocked() {
	if c.ev.conn != connUp || c.ev.readyNow || (c.keyspaceEvents && !c.ev.subsKnown) {
		return
	}
	for _, s := range c.ev.subscribed {
		if !s {
			return
		}
	}
	c.ev.readyNow = true
	c.emit(Event{Type: EventReady})
}

// subscribeLoop keeps one node's keyspace subscription alive and turns its
// messages into session events. go-redis re-subscribes on reconnect; each
// confirmation re-applies notify-keyspace-events, since a restarted Redis
// forgets CONFIG SET. After an outage the health check asks every subscriber
// to prove its connection with a PING, so a connection that survived is
// confirmed by its PONG and a dead one reconnects.
func (c *Client) subscribeLoop(i int, node *redis.Client, pattern string) {
	defer c.ev.wg.Done()
	// Every pub/sub call gets a deadline: go-redis reconnects inside the
	// call that met the broken connection (dial, HELLO with retries,
	// re-subscribe), and without one that can hold the loop for seconds
	// before it even reports the outage. A reconnect cut short is retried by
	// the next call.
	pctx, pcancel := context.WithTimeout(c.ev.ctx, pubsubCallTimeout)
	ps := node.PSubscribe(pctx, pattern)
	pcancel()
	defer ps.Close()
	c.ev.state.Lock()
	c.ev.pubsubs = append(c.ev.pubsubs, ps)
	recheck := c.ev.recheck[i]
	c.ev.state.Unlock()
	if c.ev.ctx.Err() != nil {
		return // closed while subscribing: stopEvents may have missed ps
	}
	confirm := func() {
		c.ensureKeyspaceConfig(node)
		c.setConn(true, nil)
		c.setSubscribed(i, true)
	}
	prune := &pruner{c: c}
	backoff := 50 * time.Millisecond
	for {
		if prune.due() {
			prune.flush()
		}
		var err error
		pctx, pcancel := context.WithTimeout(c.ev.ctx, pubsubCallTimeout)
		select {
		case <-recheck:
			err = ps.Ping(pctx)
		default:
		}
		var msg any
		if err == nil {
			wait := 250 * time.Millisecond
			if len(prune.nanos) > 0 {
				wait = pruneDelay
			}
			msg, err = ps.ReceiveTimeout(pctx, wait)
		}
		pcancel()
		if c.ev.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			c.setSubscribed(i, false)
			c.setConn(false, err)
			select {
			case <-c.ev.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 500*time.Millisecond)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				confirm()
			}
		case *redis.Pong:
			confirm()
		case *redis.Message:
			c.onKeyspace(m, prune)
		}
	}
}

// pubsubCallTimeout bounds each call on a keyspace subscription, including
// the reconnect go-redis runs inside it.
const pubsubCallTimeout = time.Second

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Client) setSubscribed(i int, up bool) {
	c.ev.state.Lock()
	defer c.ev.state.Unlock()
	c.ev.subscribed[i] = up
	if up {
		c.maybeReadyLocked()
	} else {
		c.ev.readyNow = false
	}
}

// ensureKeyspaceConfig merges rjwt's notification classes into the node's
// notify-keyspace-events, keeping the flags already set. Where CONFIG is
// refused (managed Redis), it reports what the operator must set.
func (c *Client) ensureKeyspaceConfig(node *redis.Client) {
	ctx, cancel := context.WithTimeout(c.ev.ctx, 5*time.Second)
	defer cancel()
	cur, err := node.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err == nil {
		have := cur["notify-keyspace-events"]
		want := mergeKeyspaceFlags(have)
		if want == have {
			return
		}
		err = node.ConfigSet(ctx, "notify-keyspace-events", want).Err()
	}
	if err != nil && c.ev.ctx.Err() == nil {
		c.emit(Event{Type: EventError, Err: fmt.Errorf(
			"rjwt: keyspace events: CONFIG refused on %s (%w): set notify-keyspace-events to include %q on the server (e.g. notify-keyspace-events %s), or session events will not arrive",
			node.Options().Addr, err, keyspaceFlags, keyspaceFlags)})
	}
}

// mergeKeyspaceFlags adds K, g and x to a notify-keyspace-events value. "A"
// already includes g and x.
func mergeKeyspaceFlags(have string) string {
	out := have
	for _, f := range keyspaceFlags {
		if strings.ContainsRune(out, f) || (f != 'K' && strings.ContainsRune(out, 'A')) {
			continue
		}
		out += string(f)
	}
	return out
}

// onKeyspace turns one keyspace notification into a session event. An
// expired session is queued for removal from its user's index.
func (c *Client) onKeyspace(m *redis.Message, prune *pruner) {
	_, key, ok := strings.Cut(m.Channel, "__:")
	if !ok {
		return
	}
	id, nano, ok := c.parseKey(key)
	if !ok {
		return
	}
	switch m.Payload {
	case "expired":
		c.emit(Event{Type: EventSessionExpired, Session: sessionName(id, nano)})
		prune.add(c.indexKey(c.userBase(id)), nano)
	case "del":
		c.emit(Event{Type: EventSessionRevoked, Session: sessionName(id, nano)})
	}
}

// pruner removes expired sessions from their users' indexes in pipelined
// batches: a wave of expiries costs one round trip per batch, not one per
// session, so the subscriber keeps up with Redis (which drops a pub/sub
// client that falls too far behind). Pruning is best effort: Sign also drops
// a user's expired index entries.
type pruner struct {
	c       *Client
	index   []string
	nanos   []string
	started time.Time
}

// pruneBatch and pruneDelay bound how long an expired session stays in its
// index: at most pruneBatch entries or pruneDelay, whichever comes first.
const (
	pruneBatch = 256
	pruneDelay = 100 * time.Millisecond
)

func (p *pruner) add(index, nano string) {
	if len(p.nanos) == 0 {
		p.started = time.Now()
	}
	p.index = append(p.index, index)
	p.nanos = append(p.nanos, nano)
}

// due says whether the queue should be flushed now.
func (p *pruner) due() bool {
	return len(p.nanos) >= pruneBatch || (len(p.nanos) > 0 && time.Since(p.started) >= pruneDelay)
}

// flush sends the queued ZREMs in one pipeline (one round trip on a single
// node; on a Cluster, one per node involved).
func (p *pruner) flush() {
	if len(p.nanos) == 0 {
		return
	}
	c := p.c
	ctx, cancel := context.WithTimeout(c.ev.ctx, 2*time.Second)
	defer cancel()
	_, err := c.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i := range p.nanos {
			pl.ZRem(ctx, p.index[i], p.nanos[i])
		}
		return nil
	})
	if err != nil && c.ev.ctx.Err() == nil {
		c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: pruning %d expired sessions from their indexes: %w", len(p.nanos), err)})
	}
	p.index, p.nanos = p.index[:0], p.nanos[:0]
}
