package cache

import (
	"context"
	"crypto/rand"
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

// Invalidation for the local cache (WithLocalCache) comes from Redis's
// server-assisted client-side caching, in default (not BCAST) mode with
// REDIRECT:
//
//   - per node (one standalone server, or each master of a Cluster) a
//     trackNode holds one pub/sub connection subscribed to
//     __redis__:invalidate, in RESP2, and a heartbeat PING on it;
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
// the cache window (WithCacheWindow, 1 s by default) ago. Redis sends
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
// keep their entries and hits. The slot map is re-read every second
// (CLUSTER SLOTS from every master, CLUSTER MYID to know which client is
// which node; a slot on which the masters disagree is served by no one until
// they agree) and at once when a subscription ends or a read finds the slot
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
	return now < n.hitUntil.Load() && !n.watch.Load().hungUp()
}

// slotMap is which trackNode serves each hash slot of a Cluster (nil: none
// known, or the masters disagree), as read at mono time read (localCache.now)
// from a majority of the masters.
type slotMap struct {
	owner [store.SlotCount]*trackNode
	read  int64
}

// current reports whether sm may still be believed at mono time now: read
// less than the window plus a refresh period ago. A map that cannot be read
// again (no majority of the masters answers: this process is cut off with a
// minority of them, whose old master may still answer PINGs and claim its
// slots while the others promoted its replica) stops serving within that.
func (t *tracker) current(sm *slotMap, now int64) bool {
	return sm != nil && now-sm.read < int64(t.window+clusterRefresh)
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
	slots    atomic.Pointer[slotMap] // Cluster: the current slot map; nil until read
	kick     chan struct{}           // Cluster: read the slot map now

	mu      sync.Mutex
	nodes   map[string]*trackNode        // Cluster: the tracked masters, by key
	retired map[*redis.Client]struct{}   // old reads clients, closed after the timeout
	subs    map[*redis.PubSub]*trackNode // open subscriptions, closed by stop
}

// cacheRefused is set once Redis refuses CLIENT TRACKING (Redis < 6, or a
// proxy that does not pass it): the cache then stays off.
var errTrackingRefused = errors.New("rjwt: local cache: Redis refused CLIENT TRACKING; the cache is off")

// clusterRefresh is how often the slot map is re-read on a Cluster.
const clusterRefresh = time.Second

// startTracking starts the invalidation connections: one node for a
// *redis.Client (single node, or Sentinel failover), one per master serving
// slots for a *redis.ClusterClient, following the Cluster's topology. Any
// other client is not tracked: the cache stays bypassed (every Verify asks
// Redis) and an EventError says so.
func (t *tracker) begin(rdb redis.UniversalClient, st *store.Store) {
	t.st = st
	switch rdb := rdb.(type) {
	case *redis.Client:
		t.single = t.start("", rdb.Options())
		if rdb.Options().Addr == sentinelAddr {
			t.failover = rdb
		}
	case *redis.ClusterClient:
		t.cc = rdb
		t.wg.Add(1)
		go t.follow()
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

// topologyChanged asks for the slot map to be read again now (a Cluster
// node's subscription ended, or a read found the slot moved or the master
// gone).
func (t *tracker) topologyChanged() {
	if t.cc == nil {
		return
	}
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// follow keeps the Cluster's trackNodes and slot map in step with the
// Cluster: it reads the slot map every clusterRefresh, and at once (at most
// every 100ms) when asked.
func (t *tracker) follow() {
	defer t.wg.Done()
	failing := false
	for {
		err := t.refresh()
		if t.ctx.Err() != nil {
			return
		}
		if err != nil && !failing {
			t.onError(fmt.Errorf("rjwt: local cache: reading the Cluster's slot map: %w", err))
		}
		failing = err != nil
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		timer := time.NewTimer(clusterRefresh - 100*time.Millisecond)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-t.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// refresh reads the slot map once: each master go-redis knows (ForEachMaster,
// which also reloads go-redis's own map) says who it is (CLUSTER MYID) and
// what serves each slot (CLUSTER SLOTS). A slot's owner is the master every
// answer names; slots the answers disagree on, or whose master did not
// answer and is not tracked yet, have none. Then the trackNodes follow the
// map: new masters are started, masters that serve no slot are stopped, and
// entries of slots whose master changed are dropped.
func (t *tracker) refresh() error {
	ctx, cancel := context.WithTimeout(t.ctx, 2*time.Second)
	defer cancel()
	type answer struct {
		id    string
		opts  *redis.Options
		slots []redis.ClusterSlot
	}
	var mu sync.Mutex
	var answers []answer
	asked := 0
	read := t.cache.now()
	err := t.cc.ForEachMaster(ctx, func(ctx context.Context, cl *redis.Client) error {
		mu.Lock()
		asked++
		mu.Unlock()
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return nil // not answering: its slots keep their node, if tracked
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		if err != nil {
			return nil
		}
		mu.Lock()
		answers = append(answers, answer{id, cl.Options(), slots})
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if 2*len(answers) <= asked {
		// A minority may be the side of a partition the Cluster has
		// failed over away from: its view is not believed, and the map
		// in hand ages out (current).
		return fmt.Errorf("%d of %d masters answered CLUSTER SLOTS", len(answers), asked)
	}
	// Agree on each slot's owner, by node ID.
	owner := make([]string, store.SlotCount)
	disputed := make([]bool, store.SlotCount)
	mine := make([]string, store.SlotCount)
	opts := map[string]*redis.Options{} // node ID → its client's options
	for i, a := range answers {
		opts[a.id] = a.opts
		clear(mine)
		for _, r := range a.slots {
			if len(r.Nodes) == 0 || r.Start < 0 || r.End >= store.SlotCount || r.Start > r.End {
				continue
			}
			for s := r.Start; s <= r.End; s++ {
				mine[s] = r.Nodes[0].ID
			}
		}
		if i == 0 {
			copy(owner, mine)
			continue
		}
		for s := range owner {
			if owner[s] != mine[s] {
				disputed[s] = true
			}
		}
	}

	if next, moved := t.apply(owner, disputed, opts, read); moved {
		// Not under t.mu: a walk of the whole cache. Its entries of moved
		// slots already stopped answering (serves); this frees them.
		t.cache.dropMoved(next)
	}
	return nil
}

// apply makes the agreed owners the current slot map, read at mono time
// read, starting and stopping trackNodes to follow it, and reports whether
// any slot changed master.
func (t *tracker) apply(owner []string, disputed []bool, opts map[string]*redis.Options, read int64) (*slotMap, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil, false
	}
	byID := map[string]*trackNode{}
	for _, n := range t.nodes {
		id, _, _ := strings.Cut(n.key, "@")
		byID[id] = n
	}
	next := &slotMap{read: read}
	want := map[string]*trackNode{} // node ID → its trackNode, for the IDs serving slots
	for s, id := range owner {
		if id == "" || disputed[s] {
			continue
		}
		n, ok := want[id]
		if !ok {
			n = byID[id]
			if o := opts[id]; o != nil && (n == nil || n.key != id+"@"+o.Addr) {
				n = t.start(id+"@"+o.Addr, o) // a new master, or one at a new address
				t.nodes[n.key] = n
			}
			want[id] = n
		}
		next.owner[s] = n // nil: not answering and not tracked yet
	}
	for key, n := range t.nodes {
		id, _, _ := strings.Cut(key, "@")
		if want[id] != n {
			t.stopNode(n) // serves no slot now; its entries go when it ends
			delete(t.nodes, key)
		}
	}
	prev := t.slots.Load()
	t.slots.Store(next)
	return next, prev != nil && prev.owner != next.owner
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

// run keeps one node's subscriber alive: each session subscribes on a
// fresh connection, learns its id, has the reads client rebuilt to redirect
// to it, then PINGs every quarter window and applies invalidations until
// the connection fails or the client closes.
func (t *tracker) run(n *trackNode) {
	defer t.wg.Done()
	backoff := 50 * time.Millisecond
	for n.ctx.Err() == nil {
		err := t.session(n)
		t.lose(n)
		if err == nil || backoff == 50*time.Millisecond {
			// A Cluster master lost after it served, or at its first try:
			// has it failed over? (While it stays down, the periodic read
			// of the slot map is enough.)
			t.topologyChanged()
		}
		if n.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errTrackingRefused) {
			t.onError(err)
			return
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 500*time.Millisecond)
		if err == nil {
			backoff = 50 * time.Millisecond
		}
	}
}

// session is one subscriber connection's life. It returns when the
// connection fails (nil after it was confirmed at least once).
func (t *tracker) session(n *trackNode) error {
	ctx := n.ctx
	var id atomic.Int64
	alive := make(chan struct{}) // closed as this session ends
	defer close(alive)
	var pubsub atomic.Pointer[redis.PubSub]
	w := newConnWatch()
	n.watch.Store(w)
	defer w.close()
	died := func() {
		// A connection of this session's closed under us (the
		// subscriber, or the tracked reads connection: Redis then forgot
		// what this process read). Trust goes now, before go-redis has
		// noticed; the session ends (closing ps wakes its Receive) and the
		// next one starts afresh.
		select {
		case <-alive:
			return // a redial of a retired client's
		default:
		}
		t.lose(n)
		if ps := pubsub.Load(); ps != nil {
			ps.Close()
		}
	}
	o := clone(n.opts, func(ctx context.Context, cn *redis.Conn) error {
		v, err := cn.ClientID(ctx).Result()
		id.Store(v)
		return err
	})
	t.watched(o, alive, w)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		w.run(alive, died)
	}()
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
	sub := redis.NewClient(o)
	defer sub.Close()
	sctx, cancel := context.WithTimeout(ctx, t.window+time.Second)
	ps := sub.Subscribe(sctx, "__redis__:invalidate")
	pubsub.Store(ps)
	t.mu.Lock()
	t.subs[ps] = n
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.subs, ps)
		t.mu.Unlock()
		ps.Close()
	}()
	if ctx.Err() != nil {
		cancel()
		return nil // stopped while subscribing: stop may have missed ps
	}
	msg, err := ps.ReceiveTimeout(sctx, t.window+time.Second)
	cancel()
	if err != nil {
		return err
	}
	if s, ok := msg.(*redis.Subscription); !ok || s.Kind != "subscribe" {
		return fmt.Errorf("rjwt: local cache: unexpected subscription reply %v", msg)
	}
	myID := id.Load()
	reads, readsID, err := t.redirect(n, myID, alive, w)
	if err != nil {
		return err
	}
	defer t.retire(n, reads)
	var can *canary
	if n.key == "" { // one node (or Sentinel's master): the database has a canary
		can = t.plantCanary(ctx, reads)
		defer can.remove(reads)
	}
	tracked := "" // with Sentinel: the run_id of the server this session reads
	if t.failover != nil {
		if tracked, err = runID(ctx, reads); err != nil {
			return err
		}
	}

	interval := max(t.window/4, time.Millisecond)
	sent := map[string]int64{} // outstanding PINGs: payload → mono ns sent
	var seq uint64
	next := t.cache.now()
	confirmed := false
	for {
		now := t.cache.now()
		if now >= next {
			// The reads connection first: tracking lives with the
			// connection that read, so a PONG on the subscriber proves
			// nothing once it is gone. A PONG to this round's PING then
			// vouches for both, from the time the reads PING was sent.
			seq++
			p := strconv.FormatUint(seq, 10)
			pctx, pcancel := context.WithTimeout(ctx, t.window)
			err := can.check(pctx, reads)
			if err == nil && n.readsID.Load() != readsID {
				err = errors.New("rjwt: local cache: the tracked connection was replaced")
			}
			if err == nil && tracked != "" {
				err = t.sameMaster(pctx, tracked)
			}
			if err == nil {
				err = ps.Ping(pctx, p)
			}
			pcancel()
			if err != nil {
				return t.ended(confirmed, err)
			}
			sent[p] = now
			next = now + int64(interval)
			for k, at := range sent { // forget PINGs too old to confirm anything
				if now-at > int64(t.window) {
					delete(sent, k)
				}
			}
		}
		t.checkLapse(n, now)
		rctx, rcancel := context.WithTimeout(ctx, t.window+time.Second)
		msg, err := ps.ReceiveTimeout(rctx, time.Duration(max(next-t.cache.now(), int64(time.Millisecond))))
		rcancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return t.ended(confirmed, err)
		}
		if id.Load() != myID || n.readsID.Load() != readsID {
			// go-redis reconnected under us: the new connection is not the
			// one the reads client redirects to.
			return t.ended(confirmed, errors.New("rjwt: local cache: the invalidation connection was replaced"))
		}
		switch m := msg.(type) {
		case *redis.Pong:
			if at, ok := sent[m.Payload]; ok {
				delete(sent, m.Payload)
				t.confirm(n, at)
				confirmed = true
			}
		case *redis.Message:
			if m.Payload == "" && m.PayloadSlice == nil {
				// A null invalidation: FLUSHALL/FLUSHDB, or tracking turned
				// off. Everything may have changed.
				t.cache.dropNode(n, false)
				continue
			}
			keys := m.PayloadSlice
			if keys == nil {
				keys = []string{m.Payload}
			}
			for _, k := range keys {
				t.cache.invalidateKey(k)
			}
		case *redis.Subscription:
			return t.ended(confirmed, errors.New("rjwt: local cache: the invalidation connection was resubscribed"))
		}
	}
}

// sentinelAddr is the address go-redis gives a failover client's options:
// its dialer asks Sentinel for the master at each dial.
const sentinelAddr = "FailoverClient"

var errMasterSwitched = errors.New("rjwt: local cache: Sentinel switched the master; invalidations from the old one no longer vouch for anything")

// sameMaster checks, with Sentinel, that the server this session's
// connections were dialed to is still the master the client's own
// connections reach: go-redis follows Sentinel's +switch-master by closing
// its pools, so its next connection is the new master's, while the cache's
// connections stay on the demoted one, which keeps answering (and
// confirming nothing it does not receive) until Sentinel reconfigures it,
// about ten seconds later. Asked every heartbeat (a quarter window), so a
// switch ends the cache's trust within about a quarter window of go-redis
// learning it. A failing ask says nothing: the availability checks handle
// an unreachable master.
func (t *tracker) sameMaster(ctx context.Context, tracked string) error {
	now, err := runID(ctx, t.failover)
	if err != nil || now == tracked {
		return nil
	}
	return errMasterSwitched
}

// runID is the run_id of the server c's connection reaches.
func runID(ctx context.Context, c *redis.Client) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v, nil
		}
	}
	return "", errors.New("rjwt: local cache: INFO server has no run_id")
}

// canary is a key of this tracker's own in the database its cache reads,
// holding a random value: the heartbeat reads it back (the read the
// heartbeat makes on the tracked connection anyway), and a value that is
// gone or different means the database changed under the cache in a way
// Redis sends no invalidation for (SWAPDB, a replica promoted without the
// latest writes): the session ends and the cache starts empty, within a
// quarter window. A canary that cannot be written (out of memory, a
// read-only user) is nil, and the heartbeat only PINGs: MaxCacheAge still
// bounds such changes.
type canary struct {
	key, val string
	set      time.Time // when it was last written
}

// canaryTTL is the canary's life in Redis, renewed every canaryTTL/3.
const canaryTTL = time.Hour

var errDatabaseChanged = errors.New("rjwt: local cache: the database changed under the cache (its canary key is gone or different: SWAPDB, a FLUSHDB, a failover to older data, or an eviction)")

// plantCanary writes a canary for a session of node n's, through reads.
func (t *tracker) plantCanary(ctx context.Context, reads *redis.Client) *canary {
	val := rand.Text()
	c := &canary{key: t.prefix + "cache-canary:" + val[:10], val: val, set: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, t.window+time.Second)
	defer cancel()
	if reads.Set(ctx, c.key, c.val, canaryTTL).Err() != nil {
		return nil
	}
	return c
}

// check is the heartbeat's read on the tracked connection: the canary, or
// a PING without one.
func (c *canary) check(ctx context.Context, reads *redis.Client) error {
	if c == nil {
		return reads.Ping(ctx).Err()
	}
	v, err := reads.Get(ctx, c.key).Result()
	switch {
	case errors.Is(err, redis.Nil) || (err == nil && v != c.val):
		return errDatabaseChanged
	case err != nil:
		return err
	case time.Since(c.set) > canaryTTL/3:
		if reads.Set(ctx, c.key, c.val, canaryTTL).Err() == nil {
			c.set = time.Now()
		}
	}
	return nil
}

// remove deletes the canary as its session ends (best effort: it expires).
func (c *canary) remove(reads *redis.Client) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	reads.Del(ctx, c.key)
}

func (t *tracker) ended(confirmed bool, err error) error {
	if confirmed {
		return nil
	}
	return err
}

// redirect makes node n's reads client for its new subscriber: one
// connection that turns tracking on with REDIRECT to subscriber id when it
// connects. It checks that the server accepts CLIENT TRACKING, and returns
// the client and its connection's id.
func (t *tracker) redirect(n *trackNode, id int64, alive <-chan struct{}, w *connWatch) (*redis.Client, int64, error) {
	n.id.Store(id)
	o := clone(n.opts, func(ctx context.Context, cn *redis.Conn) error {
		if err := cn.Do(ctx, "CLIENT", "TRACKING", "on", "REDIRECT", id).Err(); err != nil {
			return err
		}
		v, err := cn.ClientID(ctx).Result()
		n.readsID.Store(v)
		return err
	})
	t.watched(o, alive, w)
	// One connection, never reaped: the keys Redis tracks are the
	// connection's, and a new connection starts with none.
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 1, 1
	o.ConnMaxIdleTime, o.ConnMaxLifetime = -1, 0
	reads := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(n.ctx, t.window+time.Second)
	err := reads.Ping(ctx).Err()
	cancel()
	if err != nil {
		reads.Close()
		var re redis.Error
		if errors.As(err, &re) && (strings.HasPrefix(re.Error(), "ERR ") || strings.HasPrefix(re.Error(), "NOPERM")) {
			return nil, 0, fmt.Errorf("%w: %v", errTrackingRefused, err)
		}
		return nil, 0, err
	}
	n.reads.Store(reads)
	return reads, n.readsID.Load(), nil
}

// watched puts o's connections in w while alive is open.
func (t *tracker) watched(o *redis.Options, alive <-chan struct{}, w *connWatch) {
	dial := o.Dialer
	if dial == nil {
		dial = (&net.Dialer{Timeout: o.DialTimeout}).DialContext
	}
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		cn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		select {
		case <-alive:
			return cn, nil // the session is over: nothing to watch for
		default:
		}
		return w.add(cn), nil
	}
}

// retire takes a session's reads client out of use and closes it after the
// call timeout, so misses in flight on it finish (their answers are not
// remembered: the cache was flushed since).
func (t *tracker) retire(n *trackNode, reads *redis.Client) {
	n.reads.CompareAndSwap(reads, nil)
	t.mu.Lock()
	t.retired[reads] = struct{}{}
	t.mu.Unlock()
	time.AfterFunc(t.st.Timeout()+time.Second, func() {
		t.mu.Lock()
		_, ok := t.retired[reads]
		delete(t.retired, reads)
		t.mu.Unlock()
		if ok {
			reads.Close()
		}
	})
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
