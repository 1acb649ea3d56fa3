// Package events is rjwt's event monitor: one goroutine owns the lifecycle
// state (is Redis up as the events saw it, which masters there are, which
// keyspace subscriptions and configurations are confirmed, was Ready sent)
// and is the only one to change it; the topology watcher's walks
// (internal/topology, which owns availability and the masters) and one
// keyspace subscriber per node send it facts. It starts and stops the
// subscribers as the watcher's masters come and go (a master added to a
// Cluster after New gets its subscription too), and Stop waits for every
// goroutine it started. It reports through a callback (Config.Emit); the
// client owns the public channel.
package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
	"github.com/rjwt/rjwt/internal/topology"
)

// Kind is what an emitted event reports (rjwt's EventType).
type Kind int

// The kinds, as rjwt's EventReady, EventConnected, ...
const (
	Ready Kind = iota
	Connected
	Disconnected
	Error
	SessionExpired
	SessionRevoked
)

// Config configures a Monitor.
type Config struct {
	Redis    redis.UniversalClient
	Store    *store.Store
	Prefix   string
	Keyspace bool // WithKeyspaceEvents: subscribe and emit session events
	// Watcher walks the masters; the monitor subscribes to it (before the
	// watcher starts).
	Watcher *topology.Watcher
	// Base is the context the monitor's work runs under (it carries the
	// client, for go-redis's log lines).
	Base context.Context
	// Emit reports one event; it must not block.
	Emit func(k Kind, session string, err error)
}

// Monitor runs the lifecycle state machine and the keyspace subscribers.
type Monitor struct {
	rdb      redis.UniversalClient
	st       *store.Store
	prefix   string
	keyspace bool
	emit     func(Kind, string, error)

	ctx    context.Context // canceled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	facts  chan fact
}

// Start starts the monitor and subscribes it to the watcher's walks. It
// does not touch Redis itself.
func Start(cfg Config) *Monitor {
	m := &Monitor{rdb: cfg.Redis, st: cfg.Store, prefix: cfg.Prefix, keyspace: cfg.Keyspace, emit: cfg.Emit,
		facts: make(chan fact, 64)}
	m.ctx, m.cancel = context.WithCancel(cfg.Base)
	cfg.Watcher.Subscribe(m.onView)
	m.wg.Add(1)
	go m.monitor()
	return m
}

// Stop ends the monitor's work and waits for every goroutine it started.
func (m *Monitor) Stop() {
	m.cancel() // each subscriber closes its PubSub, which unblocks Receive
	m.wg.Wait()
}

// Done is closed once Stop began.
func (m *Monitor) Done() <-chan struct{} { return m.ctx.Done() }

// keyspaceFlags are the notify-keyspace-events classes rjwt needs: K
// (keyspace channel), g (generic commands: del) and x (expired).
const keyspaceFlags = "Kgx"

// A fact is what the watcher or a subscriber saw, for the monitor.
type fact struct {
	kind factKind
	sub  *subscriber    // subscriber facts
	err  error          // subLost
	view *topology.View // walked
}

type factKind int

const (
	walked       factKind = iota // the watcher walked the masters (view)
	subConfirmed                 // a subscription is confirmed (PSUBSCRIBE or PONG)
	subLost                      // a subscription's connection failed (err)
	configDone                   // a node's notify-keyspace-events is applied (or refused, reported)
)

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

// tell hands the monitor a fact; it gives up when the client closes.
func (m *Monitor) tell(f fact) {
	select {
	case m.facts <- f:
	case <-m.ctx.Done():
	}
}

// monitor owns the lifecycle state and emits the lifecycle events. It is the
// one place that answers "when is Ready sent": when Redis answers (on a
// Cluster, every master serving slots answers) and, with keyspace events,
// every such node's subscription and configuration are confirmed since the
// last outage.
//
// On a Cluster every walk names the masters serving slots (a promoted
// replica, a resharding, a master added after Start), and the monitor
// subscribes to the new ones and drops the ones that no longer serve slots.
// One master that does not answer is an outage of its slots: Disconnected
// once (its error names it), Connected once every master serving slots
// answers again (after a failover, when its replica serves them), then
// Ready once the new master's subscription is confirmed. Calls fail fast
// only while no master answers: the others' slots keep working.
func (m *Monitor) monitor() {
	defer m.wg.Done()
	_, isCluster := m.rdb.(*redis.ClusterClient)
	st := &state{m: m, known: !isCluster, subs: map[string]*subscriber{},
		pattern: "__keyspace@" + strconv.Itoa(m.db()) + "__:" + store.EscapePattern(m.prefix) + "*"}
	if m.keyspace && !isCluster {
		if node, ok := m.rdb.(*redis.Client); ok {
			st.subs[""] = m.subscribe("", node, st.pattern)
		} else {
			m.emit(Error, "", fmt.Errorf("rjwt: events: keyspace events need a *redis.Client or *redis.ClusterClient, not %T", m.rdb))
		}
	}
	defer func() {
		for _, s := range st.subs {
			s.stop()
		}
	}()
	for {
		var f fact
		select {
		case <-m.ctx.Done():
			return
		case f = <-m.facts:
		}
		if f.sub != nil && st.subs[f.sub.addr] != f.sub {
			continue // from a subscriber the monitor has dropped
		}
		st.handle(f)
		st.maybeReady()
	}
}

// The monitor's view of Redis.
const (
	unknown = iota
	up
	down
)

// state is the monitor's state; only its goroutine touches it.
type state struct {
	m         *Monitor
	conn      int  // unknown, up or down
	readySent bool // Ready was sent since the last outage
	known     bool // the nodes to subscribe are known (a Cluster's, once listed)
	subs      map[string]*subscriber
	pattern   string
}

// handle applies one fact.
func (st *state) handle(f fact) {
	switch f.kind {
	case walked:
		st.walked(f.view)
	case subConfirmed:
		f.sub.subscribed = true
	case configDone:
		f.sub.configured = true
	case subLost:
		f.sub.subscribed, f.sub.configured = false, false
		st.readySent = false
		st.m.kickProbe() // is Redis down, or only this connection?
	}
}

func all(string) bool { return true }

// maybeReady sends Ready once Redis answers and every subscription and
// configuration is confirmed.
func (st *state) maybeReady() {
	if st.conn != up || st.readySent || !st.known {
		return
	}
	for _, s := range st.subs {
		if !s.subscribed || !s.configured {
			return
		}
	}
	st.readySent = true
	st.m.emit(Ready, "", nil)
}

// lost marks an outage: reported once, and the subscriptions of the nodes
// it touched count only once they prove themselves again.
func (st *state) lost(cause error, touched func(addr string) bool) {
	switch st.conn {
	case up:
		st.m.emit(Disconnected, "", cause)
	case unknown:
		st.m.emit(Error, "", fmt.Errorf("rjwt: redis unreachable: %w", cause))
	}
	if st.conn == down {
		return
	}
	st.conn, st.readySent = down, false
	for addr, s := range st.subs {
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

// answered marks Redis up.
func (st *state) answered() {
	if st.conn != up {
		st.conn = up
		st.m.emit(Connected, "", nil)
		st.m.checkEvictionPolicy()
	}
}

// mastersProbed follows a Cluster's masters: subscriptions for the new
// ones, none for those that no longer serve slots, and an outage of the
// slots of those that did not answer.
func (st *state) mastersProbed(v *topology.View) {
	m := st.m
	st.known = st.known || v.Err == nil
	current := map[string]bool{}
	var failed []error
	failing := map[string]bool{}
	for _, mp := range v.Masters {
		current[mp.Addr] = true
		if mp.Err != nil {
			failed = append(failed, fmt.Errorf("master %s: %w", mp.Addr, mp.Err))
			failing[mp.Addr] = true
		}
		if !m.keyspace {
			continue
		}
		if s := st.subs[mp.Addr]; s != nil && s.node != mp.Node {
			s.stop() // go-redis replaced its client for the node
			delete(st.subs, mp.Addr)
		}
		if st.subs[mp.Addr] == nil {
			st.subs[mp.Addr] = m.subscribe(mp.Addr, mp.Node, st.pattern)
		}
	}
	if v.Err == nil {
		for addr, s := range st.subs {
			if !current[addr] { // no longer a master serving slots
				s.stop()
				delete(st.subs, addr)
			}
		}
	}
	switch {
	case v.Err != nil || len(failed) == len(v.Masters):
		cause := v.Err
		if cause == nil {
			cause = errors.Join(failed...)
		}
		st.lost(cause, all)
	case len(failed) > 0: // the other masters' slots keep working
		st.lost(fmt.Errorf("rjwt: cluster: %w", errors.Join(failed...)), func(addr string) bool { return failing[addr] })
	default:
		st.answered()
	}
}

// subscribe starts a subscriber for node.
func (m *Monitor) subscribe(addr string, node *redis.Client, pattern string) *subscriber {
	ctx, stop := context.WithCancel(m.ctx)
	s := &subscriber{addr: addr, node: node, recheck: make(chan struct{}, 1), stop: stop}
	m.wg.Add(1)
	go m.subscribeLoop(ctx, s, pattern)
	return s
}
