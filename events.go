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

	"github.com/rjwt/rjwt/internal/store"
)

// EventType names what an Event reports.
type EventType string

// The events a Client reports on Events().
const (
	// EventReady: the client can serve. Sent when Redis first answers and,
	// with WithKeyspaceEvents(true), rjwt's subscriptions are confirmed and
	// notify-keyspace-events is applied on every node; sent again after every
	// EventConnected, once both are back (a restarted Redis forgets CONFIG
	// SET: rjwt applies it again, retrying until it works). Never sent while a
	// subscription or the configuration is missing.
	EventReady EventType = "ready"
	// EventConnected: Redis answers again after EventDisconnected (and, the
	// first time, when it first answers).
	EventConnected EventType = "connected"
	// EventDisconnected: Redis stopped answering. Sent once per outage.
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

// keyspaceFlags are the notify-keyspace-events classes rjwt needs: K
// (keyspace channel), g (generic commands: del) and x (expired).
const keyspaceFlags = "Kgx"

// events is the Client's background machinery: one monitor goroutine owns
// the state (is Redis up, which subscriptions and configurations are
// confirmed, was EventReady sent) and is the only one to change it; a
// prober goroutine and one subscriber goroutine per node send it facts.
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

	facts chan fact

	psMu    sync.Mutex // guards pubsubs, for Close
	pubsubs []*redis.PubSub
}

// A fact is what a prober or subscriber saw, for the monitor.
type fact struct {
	kind factKind
	node int   // subscriber facts
	err  error // probeFailed, subLost
	n    int   // nodesKnown: how many subscribers there are
	// nodesKnown: each subscriber's channel for "prove your connection"
	recheck []chan struct{}
}

type factKind int

const (
	probeOK      factKind = iota // PING answered
	probeFailed                  // PING failed (err)
	nodesKnown                   // the nodes to subscribe are known (n)
	subConfirmed                 // node's subscription confirmed (PSUBSCRIBE or PONG)
	subLost                      // node's subscription connection failed (err)
	configDone                   // node's notify-keyspace-events is applied (or refused, reported)
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
	c.logEvent(e)
	c.ev.mu.RLock()
	defer c.ev.mu.RUnlock()
	if c.ev.closed {
		return
	}
	select {
	case c.ev.ch <- e:
	default:
		c.eventDropped(e)
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
	c.ev.facts = make(chan fact, 64)
	c.ev.ctx, c.ev.cancel = context.WithCancel(c.logContext())
	c.ev.wg.Add(2)
	go c.monitor()
	go c.prober(cfg.healthInterval)
	if c.keyspaceEvents {
		c.ev.wg.Add(1)
		go c.keyspaceLoop()
	}
}

// stopEvents ends the background work and closes the event channel. No
// goroutine of rjwt's outlives it.
func (c *Client) stopEvents() {
	c.ev.cancel()
	c.ev.psMu.Lock()
	for _, ps := range c.ev.pubsubs {
		ps.Close() // unblocks Receive
	}
	c.ev.psMu.Unlock()
	c.ev.wg.Wait()
	c.ev.mu.Lock()
	c.ev.closed = true
	close(c.ev.ch)
	c.ev.mu.Unlock()
}

// tell hands the monitor a fact; it gives up when the client closes.
func (c *Client) tell(f fact) {
	select {
	case c.ev.facts <- f:
	case <-c.ev.ctx.Done():
	}
}

// monitor owns the lifecycle state and emits the lifecycle events. It is the
// one place that answers "when is EventReady sent": when the last probe
// succeeded and, with keyspace events, every node's subscription and
// configuration are confirmed since the last outage.
func (c *Client) monitor() {
	defer c.ev.wg.Done()
	const (
		unknown = iota
		up
		down
	)
	conn := unknown
	readySent := false
	known := !c.keyspaceEvents // the nodes to subscribe are known
	var subscribed, configured []bool
	var recheck []chan struct{}
	maybeReady := func() {
		if conn != up || readySent || !known {
			return
		}
		for i := range subscribed {
			if !subscribed[i] || !configured[i] {
				return
			}
		}
		readySent = true
		c.emit(Event{Type: EventReady})
	}
	for {
		var f fact
		select {
		case <-c.ev.ctx.Done():
			return
		case f = <-c.ev.facts:
		}
		switch f.kind {
		case probeOK:
			c.st.MarkUp()
			if conn != up {
				conn = up
				c.emit(Event{Type: EventConnected})
			}
		case probeFailed:
			c.st.MarkDown(f.err)
			switch conn {
			case up:
				c.emit(Event{Type: EventDisconnected})
			case unknown:
				c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: redis unreachable: %w", f.err)})
			}
			if conn != down {
				// The subscriptions may have died with the connection: none
				// counts until it proves itself again.
				conn, readySent = down, false
				for i := range subscribed {
					subscribed[i], configured[i] = false, false
					select {
					case recheck[i] <- struct{}{}:
					default:
					}
				}
			}
		case nodesKnown:
			known = true
			subscribed, configured, recheck = make([]bool, f.n), make([]bool, f.n), f.recheck
		case subConfirmed:
			subscribed[f.node] = true
		case configDone:
			configured[f.node] = true
		case subLost:
			subscribed[f.node], configured[f.node] = false, false
			readySent = false
			c.kickProbe() // is Redis down, or only this connection?
		}
		maybeReady()
	}
}

// kickProbe asks the prober to check Redis now.
func (c *Client) kickProbe() { c.st.MarkSuspect() }

// prober PINGs Redis every interval while it answers, and every 100ms (at
// most the interval) while it does not or a call found it down, and tells the
// monitor what it saw. An outage is noticed within one interval plus the
// ping's timeout (the interval, at least 200ms and at most 2s); a dropped
// subscription or a refused dial has it probed at once.
func (c *Client) prober(interval time.Duration) {
	defer c.ev.wg.Done()
	timeout := min(max(interval, 200*time.Millisecond), 2*time.Second)
	fast := min(interval, 100*time.Millisecond)
	wasUp := false
	for {
		ctx, cancel := context.WithTimeout(c.ev.ctx, timeout)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		if store.BrokenConn(err) && c.ev.ctx.Err() == nil {
			// Only this connection broke (an idle reset, CLIENT KILL): one
			// PING on another says whether Redis is down.
			ctx, cancel := context.WithTimeout(c.ev.ctx, timeout)
			err = c.rdb.Ping(ctx).Err()
			cancel()
		}
		if c.ev.ctx.Err() != nil {
			return
		}
		if err != nil {
			c.tell(fact{kind: probeFailed, err: err})
		} else {
			c.tell(fact{kind: probeOK})
			if !wasUp {
				c.checkEvictionPolicy()
			}
		}
		wasUp = err == nil
		wait := interval
		if err != nil {
			wait = fast
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ev.ctx.Done():
			t.Stop()
			return
		case <-c.st.Kicked():
			t.Stop()
		case <-t.C:
		}
	}
}

// checkEvictionPolicy reports a maxmemory-policy that can evict rjwt's keys
// (every key rjwt writes has a TTL, so volatile-* policies can too). rjwt
// stays correct (an evicted index logs its user out), but users are logged
// out for Redis's memory. Where CONFIG is refused it says nothing.
func (c *Client) checkEvictionPolicy() {
	ctx, cancel := context.WithTimeout(c.ev.ctx, 2*time.Second)
	defer cancel()
	res, err := c.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return
	}
	if p := res["maxmemory-policy"]; p != "" && p != "noeviction" {
		c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: maxmemory-policy is %q, which can evict rjwt's keys: an evicted session index logs its user out; use noeviction", p)})
	}
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
	recheck := make([]chan struct{}, len(nodes))
	for i := range recheck {
		recheck[i] = make(chan struct{}, 1)
	}
	c.tell(fact{kind: nodesKnown, n: len(nodes), recheck: recheck})
	c.ev.wg.Add(len(nodes))
	for i, node := range nodes {
		go c.subscribeLoop(i, node, pattern, recheck[i])
	}
}

// subscribeLoop keeps one node's keyspace subscription alive and turns its
// messages into session events. go-redis re-subscribes on reconnect; each
// confirmation re-applies notify-keyspace-events, retrying until it works,
// since a restarted Redis forgets CONFIG SET. After an outage the monitor
// asks every subscriber to prove its connection with a PING, so a
// connection that survived is confirmed by its PONG and a dead one
// reconnects.
func (c *Client) subscribeLoop(i int, node *redis.Client, pattern string, recheck chan struct{}) {
	defer c.ev.wg.Done()
	// Every pub/sub call gets a deadline: go-redis reconnects inside the
	// call that met the broken connection (dial, HELLO, re-subscribe), and
	// without one that can hold the loop for seconds before it even reports
	// the outage. A reconnect cut short is retried by the next call.
	pctx, pcancel := context.WithTimeout(c.ev.ctx, pubsubCallTimeout)
	ps := node.PSubscribe(pctx, pattern)
	pcancel()
	defer ps.Close()
	c.ev.psMu.Lock()
	c.ev.pubsubs = append(c.ev.pubsubs, ps)
	c.ev.psMu.Unlock()
	if c.ev.ctx.Err() != nil {
		return // closed while subscribing: stopEvents may have missed ps
	}
	confirm := func() {
		c.tell(fact{kind: subConfirmed, node: i})
		if c.ensureKeyspaceConfig(node) {
			c.tell(fact{kind: configDone, node: i})
		}
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
			if len(prune.entries) > 0 {
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
			c.tell(fact{kind: subLost, node: i, err: err})
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

// ensureKeyspaceConfig merges rjwt's notification classes into the node's
// notify-keyspace-events, keeping the flags already set, and reports whether
// the node is configured. A network failure is retried (with backoff, until
// it works or the client closes): after a restart the setting is gone until
// rjwt applies it again. Where CONFIG is refused (managed Redis) it reports
// what the operator must set, once, and counts the node as configured by the
// operator.
func (c *Client) ensureKeyspaceConfig(node *redis.Client) bool {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(c.ev.ctx, 2*time.Second)
		cur, err := node.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err == nil {
			have := cur["notify-keyspace-events"]
			if want := mergeKeyspaceFlags(have); want != have {
				err = node.ConfigSet(ctx, "notify-keyspace-events", want).Err()
			}
		}
		cancel()
		if err == nil {
			return true
		}
		if c.ev.ctx.Err() != nil {
			return false
		}
		var re redis.Error
		if errors.As(err, &re) {
			c.emit(Event{Type: EventError, Err: fmt.Errorf(
				"rjwt: keyspace events: CONFIG refused on %s (%v): set notify-keyspace-events to include %q on the server (e.g. notify-keyspace-events %s), or session events will not arrive",
				node.Options().Addr, err, keyspaceFlags, keyspaceFlags)})
			return true
		}
		c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: keyspace events: applying notify-keyspace-events on %s (will retry): %w", node.Options().Addr, err)})
		select {
		case <-c.ev.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
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
	id, nano, ok := c.st.ParseSession(key)
	if !ok {
		return
	}
	switch m.Payload {
	case "expired", "evicted":
		if m.Payload == "expired" {
			c.emit(Event{Type: EventSessionExpired, Session: sessionName(id, nano)})
		} else {
			c.emit(Event{Type: EventSessionRevoked, Session: sessionName(id, nano)})
		}
		prune.add(store.Entry{ID: id, Nano: nano})
	case "del":
		c.emit(Event{Type: EventSessionRevoked, Session: sessionName(id, nano)})
	}
}

// pruner removes expired sessions from their users' indexes in pipelined
// batches: a wave of expiries costs one round trip per batch, not one per
// session, so the subscriber keeps up with Redis (which drops a pub/sub
// client that falls too far behind). Pruning is best effort: Sign also drops
// a user's expired index entries, and an entry without its session never
// verifies.
type pruner struct {
	c       *Client
	entries []store.Entry
	started time.Time
}

// pruneBatch and pruneDelay bound how long an expired session stays in its
// index: at most pruneBatch entries or pruneDelay, whichever comes first.
const (
	pruneBatch = 256
	pruneDelay = 100 * time.Millisecond
)

func (p *pruner) add(e store.Entry) {
	if len(p.entries) == 0 {
		p.started = time.Now()
	}
	p.entries = append(p.entries, e)
}

// due says whether the queue should be flushed now.
func (p *pruner) due() bool {
	return len(p.entries) >= pruneBatch || (len(p.entries) > 0 && time.Since(p.started) >= pruneDelay)
}

// flush sends the queued ZREMs in one pipeline.
func (p *pruner) flush() {
	c := p.c
	ctx, cancel := context.WithTimeout(c.ev.ctx, 2*time.Second)
	defer cancel()
	if err := c.st.Prune(ctx, p.entries); err != nil && c.ev.ctx.Err() == nil {
		c.emit(Event{Type: EventError, Err: err})
	}
	p.entries = p.entries[:0]
}
