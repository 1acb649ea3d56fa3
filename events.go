package rjwt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
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

// keyspaceFlags are the notify-keyspace-events classes rjwt needs: K
// (keyspace channel), g (generic commands: del) and x (expired).
const keyspaceFlags = "Kgx"

// events is the Client's background machinery: one monitor goroutine owns
// the state (is Redis up, which masters there are, which subscriptions and
// configurations are confirmed, was EventReady sent) and is the only one to
// change it; a prober goroutine and one subscriber goroutine per node send
// it facts. The monitor starts and stops the subscribers as masters come
// and go.
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
}

// A fact is what a prober or subscriber saw, for the monitor.
type fact struct {
	kind    factKind
	sub     *subscriber   // subscriber facts
	err     error         // probeFailed, subLost, mastersProbed (no master could be listed)
	masters []masterProbe // mastersProbed
}

type factKind int

const (
	probeOK       factKind = iota // PING answered (single node, Sentinel)
	probeFailed                   // PING failed (err)
	mastersProbed                 // a Cluster's masters were listed and each PINGed
	subConfirmed                  // a subscription is confirmed (PSUBSCRIBE or PONG)
	subLost                       // a subscription's connection failed (err)
	configDone                    // a node's notify-keyspace-events is applied (or refused, reported)
)

// masterProbe is one Cluster master as the prober saw it.
type masterProbe struct {
	addr string
	node *redis.Client // go-redis's client for that node
	err  error         // its PING's failure
}

// subscriber is one node's keyspace subscription. The monitor owns
// subscribed and configured; the subscriber goroutine reads only addr, node
// and recheck.
type subscriber struct {
	addr    string // "" for a single node or Sentinel
	node    *redis.Client
	recheck chan struct{} // "prove your connection": PING on it
	stop    context.CancelFunc

	subscribed, configured bool
}

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
}

// stopEvents ends the background work and closes the event channel. No
// goroutine of rjwt's outlives it.
func (c *Client) stopEvents() {
	c.ev.cancel() // each subscriber closes its PubSub, which unblocks Receive
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
// one place that answers "when is EventReady sent": when Redis answers (on a
// Cluster, every master serving slots answers) and, with keyspace events,
// every such node's subscription and configuration are confirmed since the
// last outage.
//
// On a Cluster the prober lists the masters on every probe (a promoted
// replica, a resharding), and the monitor subscribes to the new ones and
// drops the ones that no longer serve slots. One master that does not
// answer is an outage of its slots: EventDisconnected once (Err names it),
// EventConnected once every master serving slots answers again (after a
// failover, when its replica serves them), then EventReady once the new
// master's subscription is confirmed. Calls fail fast only while no master
// answers: the others' slots keep working.
func (c *Client) monitor() {
	defer c.ev.wg.Done()
	const (
		unknown = iota
		up
		down
	)
	conn := unknown
	readySent := false
	_, isCluster := c.rdb.(*redis.ClusterClient)
	known := !isCluster // the nodes to subscribe are known
	subs := map[string]*subscriber{}
	pattern := "__keyspace@" + strconv.Itoa(c.db()) + "__:" + EscapePattern(c.prefix) + "*"
	if c.keyspaceEvents && !isCluster {
		if node, ok := c.rdb.(*redis.Client); ok {
			subs[""] = c.subscribe("", node, pattern)
		} else {
			c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: events: keyspace events need a *redis.Client or *redis.ClusterClient, not %T", c.rdb)})
		}
	}
	defer func() {
		for _, s := range subs {
			s.stop()
		}
	}()
	maybeReady := func() {
		if conn != up || readySent || !known {
			return
		}
		for _, s := range subs {
			if !s.subscribed || !s.configured {
				return
			}
		}
		readySent = true
		c.emit(Event{Type: EventReady})
	}
	// lost marks an outage: reported once, and the subscriptions of the
	// nodes it touched count only once they prove themselves again.
	lost := func(cause error, touched func(addr string) bool) {
		switch conn {
		case up:
			c.emit(Event{Type: EventDisconnected, Err: cause})
		case unknown:
			c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: redis unreachable: %w", cause)})
		}
		if conn == down {
			return
		}
		conn, readySent = down, false
		for addr, s := range subs {
			if !touched(addr) {
				continue
			}
			s.subscribed, s.configured = false, false
			select {
			case s.recheck <- struct{}{}:
			default:
			}
		}
	}
	answered := func() {
		c.st.MarkUp()
		if conn != up {
			conn = up
			c.emit(Event{Type: EventConnected})
		}
	}
	all := func(string) bool { return true }
	for {
		var f fact
		select {
		case <-c.ev.ctx.Done():
			return
		case f = <-c.ev.facts:
		}
		if f.sub != nil && subs[f.sub.addr] != f.sub {
			continue // from a subscriber the monitor has dropped
		}
		switch f.kind {
		case probeOK:
			answered()
		case probeFailed:
			c.st.MarkDown(f.err)
			lost(f.err, all)
		case mastersProbed:
			known = known || f.err == nil
			current := map[string]bool{}
			var failed []error
			failing := map[string]bool{}
			for _, m := range f.masters {
				current[m.addr] = true
				if m.err != nil {
					failed = append(failed, fmt.Errorf("master %s: %w", m.addr, m.err))
					failing[m.addr] = true
				}
				if !c.keyspaceEvents {
					continue
				}
				if s := subs[m.addr]; s != nil && s.node != m.node {
					s.stop() // go-redis replaced its client for the node
					delete(subs, m.addr)
				}
				if subs[m.addr] == nil {
					subs[m.addr] = c.subscribe(m.addr, m.node, pattern)
				}
			}
			if f.err == nil {
				for addr, s := range subs {
					if !current[addr] { // no longer a master serving slots
						s.stop()
						delete(subs, addr)
					}
				}
			}
			switch {
			case f.err != nil || len(failed) == len(f.masters):
				cause := f.err
				if cause == nil {
					cause = errors.Join(failed...)
				}
				c.st.MarkDown(cause)
				lost(cause, all)
			case len(failed) > 0:
				c.st.MarkUp() // the other masters' slots keep working
				lost(fmt.Errorf("rjwt: cluster: %w", errors.Join(failed...)), func(addr string) bool { return failing[addr] })
			default:
				answered()
			}
		case subConfirmed:
			f.sub.subscribed = true
		case configDone:
			f.sub.configured = true
		case subLost:
			f.sub.subscribed, f.sub.configured = false, false
			readySent = false
			c.kickProbe() // is Redis down, or only this connection?
		}
		maybeReady()
	}
}

// subscribe starts a subscriber for node.
func (c *Client) subscribe(addr string, node *redis.Client, pattern string) *subscriber {
	ctx, stop := context.WithCancel(c.ev.ctx)
	s := &subscriber{addr: addr, node: node, recheck: make(chan struct{}, 1), stop: stop}
	c.ev.wg.Add(1)
	go c.subscribeLoop(ctx, s, pattern)
	return s
}

// kickProbe asks the prober to check Redis now.
func (c *Client) kickProbe() { c.st.MarkSuspect() }

// prober PINGs Redis every interval while it answers, and every 100ms (at
// most the interval) while it does not or a call found it down, and tells the
// monitor what it saw. An outage is noticed within one interval plus the
// ping's timeout (the interval, at least 200ms and at most 2s); a dropped
// subscription or a refused dial has it probed at once. On a Cluster each
// probe lists the masters (CLUSTER SLOTS, which also refreshes the client's
// slot map) and PINGs each.
func (c *Client) prober(interval time.Duration) {
	defer c.ev.wg.Done()
	timeout := min(max(interval, 200*time.Millisecond), 2*time.Second)
	fast := min(interval, 100*time.Millisecond)
	wasUp := false
	for {
		ok := c.probe(timeout)
		if c.ev.ctx.Err() != nil {
			return
		}
		if ok && !wasUp {
			c.checkEvictionPolicy()
		}
		wasUp = ok
		wait := interval
		if !ok {
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

// probe checks Redis once, each PING bounded by timeout, tells the monitor,
// and reports whether all of it answered.
func (c *Client) probe(timeout time.Duration) bool {
	cc, ok := c.rdb.(*redis.ClusterClient)
	if !ok {
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
			return false
		}
		if err != nil {
			c.tell(fact{kind: probeFailed, err: err})
			return false
		}
		c.tell(fact{kind: probeOK})
		return true
	}
	// Listing the masters reloads the slot map from the first node that
	// answers, trying the others in turn (a dead one costs go-redis's dial
	// retries), so it gets a longer bound than a PING; when no node answers
	// in time, go-redis falls back to the map it has. Each master's PING has
	// a bound of its own, so that a slow listing or one dead master does not
	// make the others look down.
	lctx, lcancel := context.WithTimeout(c.ev.ctx, max(timeout, 2*time.Second))
	defer lcancel()
	var mu sync.Mutex
	var masters []masterProbe
	err := cc.ForEachMaster(lctx, func(_ context.Context, m *redis.Client) error {
		ctx, cancel := context.WithTimeout(c.ev.ctx, timeout)
		err := m.Ping(ctx).Err()
		cancel()
		mu.Lock()
		masters = append(masters, masterProbe{addr: m.Options().Addr, node: m, err: err})
		mu.Unlock()
		return nil
	})
	if c.ev.ctx.Err() != nil {
		return false
	}
	if err == nil && len(masters) == 0 {
		err = errors.New("no master serves slots")
	}
	if err != nil {
		err = fmt.Errorf("rjwt: cluster: listing masters: %w", err)
	}
	slices.SortFunc(masters, func(a, b masterProbe) int { return strings.Compare(a.addr, b.addr) })
	c.tell(fact{kind: mastersProbed, masters: masters, err: err})
	if err != nil {
		return false
	}
	for _, m := range masters {
		if m.err != nil {
			return false
		}
	}
	return true
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

// subscribeLoop keeps one node's keyspace subscription alive and turns its
// messages into session events, until ctx ends (the client closes, or the
// monitor dropped the node). go-redis re-subscribes on reconnect; each
// confirmation re-applies notify-keyspace-events, retrying until it works,
// since a restarted Redis (or a promoted replica) lacks CONFIG SET. After an
// outage the monitor asks the subscriber to prove its connection with a
// PING, so a connection that survived is confirmed by its PONG and a dead
// one reconnects.
func (c *Client) subscribeLoop(ctx context.Context, s *subscriber, pattern string) {
	defer c.ev.wg.Done()
	// Every pub/sub call gets a deadline: go-redis reconnects inside the
	// call that met the broken connection (dial, HELLO, re-subscribe), and
	// without one that can hold the loop for seconds before it even reports
	// the outage. A reconnect cut short is retried by the next call.
	pctx, pcancel := context.WithTimeout(ctx, pubsubCallTimeout)
	ps := s.node.PSubscribe(pctx, pattern)
	pcancel()
	defer ps.Close()
	// Closing the PubSub unblocks a Receive at once when ctx ends.
	stopClose := context.AfterFunc(ctx, func() { ps.Close() })
	defer stopClose()
	confirm := func() {
		c.tell(fact{kind: subConfirmed, sub: s})
		if c.ensureKeyspaceConfig(ctx, s.node) {
			c.tell(fact{kind: configDone, sub: s})
		}
	}
	prune := &pruner{c: c}
	backoff := 50 * time.Millisecond
	for {
		if prune.due() {
			prune.flush()
		}
		var err error
		pctx, pcancel := context.WithTimeout(ctx, pubsubCallTimeout)
		select {
		case <-s.recheck:
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
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			c.tell(fact{kind: subLost, sub: s, err: err})
			select {
			case <-ctx.Done():
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
func (c *Client) ensureKeyspaceConfig(sctx context.Context, node *redis.Client) bool {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(sctx, 2*time.Second)
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
		if sctx.Err() != nil {
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
		case <-sctx.Done():
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
