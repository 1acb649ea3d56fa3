// Package topology is rjwt's one watcher of Redis: a goroutine that walks
// the masters once per interval and owns what that walk learns. It is the
// only writer of the store's availability ("Redis is down": calls fail
// fast); on a Cluster it owns the slot map, agreed by a majority of the
// masters, and the list of masters serving slots, and tells the store which
// masters' clocks to keep. The event monitor (keyspace subscribers,
// lifecycle events) and the local cache's trackers subscribe to its walks
// instead of walking the masters themselves.
//
// One walk costs each master one round trip: PING on a single node or
// Sentinel's master; on a Cluster CLUSTER MYID and CLUSTER SLOTS in one
// pipeline (an answer proves the master answers). On a Cluster the walk
// asks the masters it knows on go-redis's node clients, and reloads
// go-redis's own map (ForEachMaster: one more CLUSTER SLOTS, to one node)
// only when the masters name a master it has no client for (a failover, a
// master added after New), one of its clients was closed, or it knows none.
//
// Redis's clocks stay sampled where they are needed, at no round trip of
// their own: a TIME in the pipeline of Verify's reads about once a second
// per master in use (internal/store/check.go), none while idle; a walk
// would add one TIME per master per second to an idle client.
//
// Faults: a walk only reads. A lost reply is a master that did not answer
// (its slots are down for the events, untrusted for the cache) until the
// next walk; a walk that runs twice learns the same. A restarted or
// failed-over master answers the next walk with its new identity and clock.
package topology

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// Config configures a Watcher.
type Config struct {
	Redis redis.UniversalClient
	Store *store.Store // told availability and which masters' clocks to keep
	// Interval is how often the masters are walked while all answer
	// (WithHealthCheck, or at most a second with the local cache); while
	// one does not, every 100ms (at most Interval).
	Interval time.Duration
	// Base is the context the walks run under (it carries the client, for
	// go-redis's log lines).
	Base context.Context
}

// Master is one master as a walk saw it.
type Master struct {
	Addr string        // go-redis's address of it; "" for a single node or Sentinel's master
	ID   string        // its Cluster node ID ("" elsewhere, or before it answered)
	Node *redis.Client // go-redis's client for it (nil for a client that is not a *redis.Client)
	Err  error         // its walk's failure; nil: it answered
}

// View is what one walk saw. It is not changed once published.
type View struct {
	Cluster bool
	// Masters are, on a Cluster, the masters serving slots by the agreed
	// map and those that did not answer, sorted by address; elsewhere the
	// one node.
	Masters []Master
	// Err is set when the Cluster's masters could not be listed at all.
	Err error
	// Owners is, on a Cluster, each slot's master by node ID, as every
	// master that answered agrees ("" when they disagree or none serves
	// it); nil when no majority of the masters answered.
	Owners []string
	// Started is when the walk began (monotonic): what it says is true
	// from then on at the earliest.
	Started time.Time
}

// Up reports whether Redis answered this walk: the node, or on a Cluster
// at least one master (the others' slots are down, not Redis).
func (v *View) Up() bool {
	if v.Err != nil {
		return false
	}
	for _, m := range v.Masters {
		if m.Err == nil {
			return true
		}
	}
	return false
}

// AllUp reports whether every master answered.
func (v *View) AllUp() bool {
	if v.Err != nil || len(v.Masters) == 0 {
		return false
	}
	for _, m := range v.Masters {
		if m.Err != nil {
			return false
		}
	}
	return true
}

// Watcher walks the masters; see the package doc.
type Watcher struct {
	rdb      redis.UniversalClient
	cc       *redis.ClusterClient // nil off a Cluster
	st       *store.Store
	interval time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
	subs   []func(*View)

	mu   sync.Mutex
	last *View

	cluster clusterState // the walk's memory of the Cluster; its goroutine's
}

// New makes a Watcher; Subscribe, then Start.
func New(cfg Config) *Watcher {
	w := &Watcher{rdb: cfg.Redis, st: cfg.Store, interval: cfg.Interval, kick: make(chan struct{}, 1)}
	w.cc, _ = cfg.Redis.(*redis.ClusterClient)
	w.ctx, w.cancel = context.WithCancel(cfg.Base)
	w.cluster.ids = map[*redis.Client]string{}
	return w
}

// Subscribe has fn told every walk's View, on the watcher's goroutine, in
// order: fn must not block. Subscribe before Start.
func (w *Watcher) Subscribe(fn func(*View)) { w.subs = append(w.subs, fn) }

// Start starts the walks.
func (w *Watcher) Start() {
	w.wg.Add(1)
	go w.run()
}

// Stop ends the walks and waits for the goroutine; no subscriber is told
// anything after it returns.
func (w *Watcher) Stop() {
	w.cancel()
	w.wg.Wait()
}

// Kick asks for a walk now (a subscription ended, a read found a slot
// moved): at most one every 100ms.
func (w *Watcher) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Interval is how often the masters are walked while all answer.
func (w *Watcher) Interval() time.Duration { return w.interval }

// Last is the latest walk's View, nil before the first.
func (w *Watcher) Last() *View {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// run walks every interval while everything answers, every 100ms (at most
// the interval) while something does not, and at once when kicked (by a
// call that found Redis down through the store, or a subscriber), but not
// twice within 100ms.
func (w *Watcher) run() {
	defer w.wg.Done()
	fast := min(w.interval, 100*time.Millisecond)
	for {
		v := w.walk()
		if w.ctx.Err() != nil {
			return
		}
		w.publish(v)
		wait := w.interval
		if !v.AllUp() {
			wait = fast
		}
		t := time.NewTimer(wait)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return
		case <-w.st.Kicked():
			if seen, err := w.st.Refused(); err != nil && w.cc == nil {
				// A call's dial was refused: Redis is down until a walk
				// sees it answer (calls fail fast meanwhile).
				w.st.MarkDown(err, seen)
			}
		case <-w.kick:
		case <-t.C:
		}
		t.Stop()
		if gap := fast - time.Since(v.Started); gap > 0 {
			select {
			case <-w.ctx.Done():
				return
			case <-time.After(gap):
			}
		}
	}
}

// publish records v, marks Redis up or down by it (the one place that
// does), and tells the subscribers.
func (w *Watcher) publish(v *View) {
	if v.Up() {
		w.st.MarkUp()
	} else {
		w.st.MarkDown(w.cause(v), v.Started)
	}
	w.mu.Lock()
	w.last = v
	w.mu.Unlock()
	for _, fn := range w.subs {
		fn(v)
	}
}

// cause is why Redis is down by v.
func (w *Watcher) cause(v *View) error {
	if v.Err != nil {
		return v.Err
	}
	for _, m := range v.Masters {
		if m.Err != nil {
			return m.Err
		}
	}
	return errNoMaster
}

// timeout bounds each master's round trip: the interval, at least 200ms
// and at most 2s.
func (w *Watcher) timeout() time.Duration {
	return min(max(w.interval, 200*time.Millisecond), 2*time.Second)
}

// walk walks the masters once.
func (w *Watcher) walk() *View {
	if w.cc != nil {
		return w.walkCluster()
	}
	v := &View{Started: time.Now()}
	node, _ := w.rdb.(*redis.Client)
	err := w.ping()
	if store.BrokenConn(err) && w.ctx.Err() == nil {
		// Only that connection broke (an idle reset, CLIENT KILL): one more
		// on another says whether Redis is down.
		err = w.ping()
	}
	v.Masters = []Master{{Node: node, Err: err}}
	return v
}

// ping PINGs the node, bounded by the timeout.
func (w *Watcher) ping() error {
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout())
	defer cancel()
	return w.rdb.Ping(ctx).Err()
}
