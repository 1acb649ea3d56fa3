package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
	"github.com/rjwt/rjwt/internal/topology"
)

// Invalidation for the local cache (WithLocalCache) comes from Redis's
// server-assisted client-side caching, in default (not BCAST) mode with
// REDIRECT:
//
//   - per node (one standalone server, or each master of a Cluster) a
//     trackNode holds one pub/sub connection subscribed to
//     __redis__:invalidate, in RESP2, and a heartbeat on it;
//   - cache misses are read through a "reads" client of rjwt's own whose
//     every connection runs CLIENT TRACKING on REDIRECT <that node's
//     subscriber id> when it connects, so Redis remembers which of rjwt's
//     keys this process has read and tells the subscriber when any of them
//     changes, expires or is evicted.
//
// Why this and not BCAST or keyspace notifications: both broadcast every
// write under the prefix to every subscribed process (every Sign of every
// user, to every app server of a fleet), while default tracking tells only
// the processes that read the key, at the cost of Redis's tracking table
// (bounded by tracking-table-max-keys, default 1M keys; past it Redis
// evicts entries and sends their invalidations, which is safe). Neither
// tracking mode needs CONFIG SET, which managed Redis services refuse;
// keyspace notifications do. RESP2 REDIRECT rather than RESP3 pushes on the
// reading connections: go-redis reads an idle pooled connection only when
// it is next used, so pushes on it would wait; a dedicated reader does not.
//
// Trust is per node. Node n's entries answer only while n's invalidations
// are known to arrive: confirmed by a PONG to a heartbeat PING sent at most
// the cache window (WithCacheWindow, 2 s by default) ago. The heartbeat
// (beatEvery: once a second at the default window) reads the canary on the
// tracked connection, then PINGs the subscriber. Redis sends
// invalidations and the PONG in order on one connection, so a PONG to a
// PING sent at t proves that every invalidation of a write before t has
// been applied. A broken subscription (CLIENT KILL, a restart, a failover)
// drops the node's entries at once; a silent network stops the PONGs, and
// the node's hits stop when its last confirmation is a window old: a
// revocation is seen at most one window after it, whatever happens to the
// network. When trust returns the node's entries start empty. On a single
// node or Sentinel there is one node, so this is the whole cache.
//
// On a Cluster there is one trackNode per master serving slots, each with
// its own subscriber, reads client and trust. A user's keys are in one hash
// slot (the hash tag "{escaped id}", see internal/store/keys.go), and a miss
// is read through the reads client of the master that serves that slot in
// the tracker's slot map; an entry remembers the master and slot it was read
// from and answers only while that master is trusted and still serves the
// slot in the current map. A lost master stops the hits of its slots only
// and drops its entries (counted as one flush); the other masters' sessions
// keep their entries and hits. The slot map is the topology watcher's
// (internal/topology), whose walk asks every master CLUSTER MYID and CLUSTER
// SLOTS at least once a second while the cache is on (a slot on which the
// masters disagree is served by no one until they agree); the tracker asks
// it for a walk at once when a subscription ends or a read finds the slot
// moved or the master gone: new masters (a promoted replica, a resharding)
// get a trackNode, masters that serve no slot lose theirs (and their
// entries), and entries whose slot changed master are dropped. A slot with
// no known trusted master is read the ordinary way, uncached.
//
// The worst case on a Cluster is the window, as on one node, for every way
// a master can be lost to this process (killed, restarted, failed over,
// partitioned). One case depends on the slot map instead: a master that
// stays reachable and trusted while its slots are handed to another (a
// manual CLUSTER FAILOVER, or a partition that cuts it from the cluster but
// not from this process) keeps answering for them until the map is re-read,
// about a second, or the old master applies the write it replicates. A map
// is believed only from a majority of the masters and for the window plus
// a refresh period (tracker.current): on the minority side of a partition,
// where the old master still answers PINGs and claims its slots, the cache
// stops answering within that; a
// resharding moves keys with MIGRATE, which deletes them on the old master
// and so invalidates them there at once.

// trackNode is the invalidation connection of one node.
type trackNode struct {
	key    string         // the Cluster node's ID and address; "" on one node
	addr   string         // for errors
	opts   *redis.Options // the node's options, for its subscriber
	ctx    context.Context
	cancel context.CancelFunc // stops this node alone (it serves no slot now)

	id       atomic.Int64                 // the subscriber's CLIENT ID while subscribed, else 0
	reads    atomic.Pointer[redis.Client] // misses read through it; nil while none
	readsID  atomic.Int64                 // CLIENT ID of reads' one connection
	hitUntil atomic.Int64                 // mono ns up to which its entries answer; 0: not trusted
	epoch    atomic.Uint64                // bumped whenever its entries are dropped
	watch    atomic.Pointer[connWatch]    // the session's connections' hang-up watch

	until   int64 // under tracker.mu: mono ns up to which it is confirmed; 0 lost
	trusted bool  // under tracker.mu: trust was given and not yet withdrawn
}

// usable says whether n's invalidations are trusted at mono time now: its
// heartbeat confirmed them less than a window ago, and none of its
// connections hung up (connWatch).
func (n *trackNode) usable(now int64) bool {
	return now < n.hitUntil.Load() && !n.watch.Load().hungUp(now)
}

// slotMap is which trackNode serves each hash slot of a Cluster (nil: none
// known, or the masters disagree), as read at mono time read (localCache.now)
// from a majority of the masters.
type slotMap struct {
	owner [store.SlotCount]*trackNode
	read  int64
}

// tracker runs the trackNodes and owns the trust state.
type tracker struct {
	ctx     context.Context // canceled by stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	st      *store.Store
	cache   *localCache
	window  time.Duration
	prefix  string      // rjwt's key prefix, for the canary
	onError func(error) // an EventError

	single   *trackNode              // the node of a *redis.Client; nil on a Cluster
	failover *redis.Client           // that client, when Sentinel names its master
	cc       *redis.ClusterClient    // the Cluster; nil elsewhere
	topo     *topology.Watcher       // walks the masters; the tracker follows its walks
	slots    atomic.Pointer[slotMap] // Cluster: the current slot map; nil until read
	failing  bool                    // Cluster: the last walk had no map (the watcher's goroutine's)

	mu      sync.Mutex
	nodes   map[string]*trackNode        // Cluster: the tracked masters, by key
	retired map[*redis.Client]struct{}   // old reads clients, closed after the timeout
	subs    map[*redis.PubSub]*trackNode // open subscriptions, closed by stop
}

// cacheRefused is set once Redis refuses CLIENT TRACKING (Redis < 6, or a
// proxy that does not pass it): the cache then stays off.
var errTrackingRefused = errors.New("rjwt: local cache: Redis refused CLIENT TRACKING; the cache is off")

// clusterRefresh is how often, at least, the topology watcher walks a
// Cluster while the cache is on (rjwt.New), reading the slot map again.
const clusterRefresh = time.Second

// startTracking starts the invalidation connections: one node for a
// *redis.Client (single node, or Sentinel failover), one per master serving
// slots for a *redis.ClusterClient, following the Cluster's topology. Any
// other client is not tracked: the cache stays bypassed (every Verify asks
// Redis) and an EventError says so.
func (t *tracker) begin(rdb redis.UniversalClient, st *store.Store, w *topology.Watcher) {
	t.st, t.topo = st, w
	switch rdb := rdb.(type) {
	case *redis.Client:
		t.single = t.start("", rdb.Options())
		if rdb.Options().Addr == sentinelAddr {
			t.failover = rdb
		}
	case *redis.ClusterClient:
		t.cc = rdb
		w.Subscribe(t.onView)
	default:
		t.onError(fmt.Errorf("rjwt: local cache: a %T is not tracked (only a single node, Sentinel failover or Cluster client): Verify asks Redis every time", rdb))
	}
}

// start starts tracking one node.
func (t *tracker) start(key string, opts *redis.Options) *trackNode {
	n := &trackNode{key: key, addr: opts.Addr, opts: opts}
	n.ctx, n.cancel = context.WithCancel(t.ctx)
	t.wg.Add(1)
	go t.run(n)
	return n
}

// stopNode stops tracking a node that no longer serves slots; its goroutine
// drops its entries as it ends. Under t.mu.
func (t *tracker) stopNode(n *trackNode) {
	n.cancel()
	for ps, owner := range t.subs {
		if owner == n {
			ps.Close() // unblocks Receive
		}
	}
}

// stop ends the trackNodes' goroutines and closes every connection of the
// cache's.
func (t *tracker) stop() {
	t.cancel()
	t.mu.Lock()
	for ps := range t.subs {
		ps.Close() // unblocks Receive
	}
	t.mu.Unlock()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.single != nil {
		t.single.hitUntil.Store(0)
	}
	for _, n := range t.nodes {
		n.hitUntil.Store(0)
	}
	t.slots.Store(nil)
	for r := range t.retired {
		r.Close()
	}
	clear(t.retired)
}

// node is the trackNode that serves the keys of user id, and their hash
// slot on a Cluster (-1 elsewhere); nil when no node is known to.
func (t *tracker) node(id string) (*trackNode, int) {
	if t.single != nil {
		return t.single, -1
	}
	sm := t.slots.Load()
	if !t.current(sm, t.cache.now()) {
		return nil, -1
	}
	slot := t.st.Slot(id)
	return sm.owner[slot], slot
}

// serves says whether entry e may answer at mono time now: its node is
// trusted, has not dropped its entries since e was read and, on a Cluster,
// still serves e's slot.
func (t *tracker) serves(e *cacheEntry, now int64) bool {
	n := e.node
	if n == nil || !n.usable(now) || n.epoch.Load() != e.epoch {
		return false
	}
	if e.slot < 0 {
		return true
	}
	sm := t.slots.Load()
	return t.current(sm, now) && sm.owner[e.slot] == n
}

// clone copies go-redis options for a client of rjwt's own on the same
// server: same address, dialer, credentials, TLS and database, RESP2, no
// retries (a failed miss falls back to an ordinary Verify), and onConnect
// after the user's own OnConnect.
func clone(o *redis.Options, onConnect func(context.Context, *redis.Conn) error) *redis.Options {
	n := *o
	n.Protocol = 2
	n.MaxRetries = -1
	n.ContextTimeoutEnabled = true
	n.MaintNotificationsConfig = nil
	n.ClientSideCacheConfig = nil
	user := o.OnConnect
	n.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if user != nil {
			if err := user(ctx, cn); err != nil {
				return err
			}
		}
		return onConnect(ctx, cn)
	}
	return &n
}

// confirm records that every invalidation Redis sent node n before it saw a
// PING sent at mono time at has been applied.
func (t *tracker) confirm(n *trackNode, at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n.until = max(n.until, at+int64(t.window))
	t.update(n)
}

// lose withdraws node n's trust (its connection failed): its entries (on
// one node, the whole cache) are dropped at once.
func (t *tracker) lose(n *trackNode) {
	n.id.Store(0)
	t.mu.Lock()
	defer t.mu.Unlock()
	n.until = 0
	t.update(n)
}

// checkLapse withdraws trust that ran out without a PONG (a silent
// network), so the node's entries are dropped and counted even before the
// connection is known dead. Hits stop at the deadline by themselves.
func (t *tracker) checkLapse(n *trackNode, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n.trusted && n.until != 0 && now >= n.until {
		t.update(n)
	}
}

// update recomputes node n's deadline under t.mu. Trust lost, or found
// lapsed, drops its entries: whatever was learned before may have missed an
// invalidation.
func (t *tracker) update(n *trackNode) {
	now := t.cache.now()
	if n.trusted && (n.until <= now || n.hitUntil.Load() <= now) {
		// Lost, or lapsed (no PONG for a window) even if a late one is
		// here now: start again from no entries.
		n.trusted = false
		n.hitUntil.Store(0)
		t.cache.dropNode(n, true)
	}
	if n.until > now {
		if !n.trusted {
			t.cache.dropNode(n, false) // nothing learned while untrusted is kept
			n.trusted = true
		}
		n.hitUntil.Store(n.until)
	}
}

// readAhead applies, for the node that serves user id, the invalidations
// that reached its subscriber's socket before go-redis read them (peek.go);
// false when what is there cannot be read whole (the caller asks Redis).
func (t *tracker) readAhead(id string, now int64) bool {
	n := t.single
	if n == nil {
		if n, _ = t.node(id); n == nil {
			return true
		}
	}
	return n.watch.Load().readAhead(now, func(keys []string) { t.applyKeys(n, keys) })
}

// applyKeys applies an invalidation of node n's: the keys it names, or
// with nil everything n's entries may hold.
func (t *tracker) applyKeys(n *trackNode, keys []string) {
	if keys == nil {
		t.cache.dropNode(n, false)
		return
	}
	for _, k := range keys {
		t.cache.invalidateKey(k)
	}
}
