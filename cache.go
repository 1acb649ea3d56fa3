package rjwt

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// WithLocalCache makes Verify (with or without WithSession) answer sessions
// it has seen live in Redis from process memory, until Redis says they
// changed: a hit costs no round trip, only the token's own checks
// (signature, algorithm, exp), which every Verify makes. It remembers at
// most maxEntries sessions (least recently used go first); 0, the default,
// turns the cache off.
//
// Redis tells the client when a remembered session changes (CLIENT
// TRACKING, no CONFIG needed): revoked, replaced, expired, evicted, its
// data set, its index changed. A revocation by any process is seen within
// milliseconds. An entry never outlives the session's expiry in Redis, and
// a token past its exp is refused before the cache is asked. When
// invalidations can no longer be trusted (the invalidation connection
// dropped or was killed, Redis restarted or failed over, or its heartbeat
// went unanswered for WithCacheWindow: 1 s by default) the cache is flushed
// and Verify asks Redis until invalidation is confirmed again: a
// revocation is never served from memory more than one window after it.
//
// It works on a single node, on Sentinel (a failover client) and on a Redis
// Cluster (a ClusterClient): there, every master serving slots has its own
// invalidation connection and its own trust, and a session is answered
// from memory only while the master serving its hash slot is trusted and
// still serves it. One master lost (killed, failed over, its connection
// killed, silent for a window) drops that master's entries only and stops
// hits for its slots; the other masters' sessions keep theirs. The slot map
// is read again every second and at once when a master's connection ends
// or a read finds its slot moved: a promoted replica or a new master is
// tracked, and entries of a slot that changed master are dropped. The one
// longer bound on a Cluster: a master that stays reachable and confirmed
// while its slots are given to another (a manual CLUSTER FAILOVER, a
// partition that cuts it from the cluster but not from this process) may
// answer for them until the slot map is read again, about a second; a map
// that cannot be read again from a majority of the masters (this process on
// the minority side of a partition) stops answering within the window plus
// a second.
//
// Costs: one extra connection per Redis node (per master on a Cluster: the
// invalidation subscription) and a PING on it every quarter window, plus
// the connection misses are read on; on a Cluster, CLUSTER MYID and CLUSTER
// SLOTS to each master every second. Redis keeps a tracking entry for each
// key the process read (tracking-table-max-keys). Concurrent misses for
// one session share one round trip. Any other go-redis client (a Ring) is
// not tracked: the cache stays bypassed and an EventError says so.
func WithLocalCache(maxEntries int) Option {
	return func(c *config) error {
		if maxEntries < 0 {
			return fmt.Errorf("rjwt: WithLocalCache: negative size %d", maxEntries)
		}
		c.cacheEntries = maxEntries
		return nil
	}
}

// DefaultCacheWindow is WithCacheWindow's default.
const DefaultCacheWindow = time.Second

// WithCacheWindow sets the longest time the local cache (WithLocalCache)
// keeps answering without a confirmation that Redis's invalidations arrive:
// the worst case for a revocation to be seen when the network goes silent
// without closing the connection. The heartbeat PINGs every quarter of it.
// The default is 1 second (DefaultCacheWindow); at least 10ms.
func WithCacheWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return fmt.Errorf("rjwt: WithCacheWindow: %v is under 10ms", d)
		}
		c.cacheWindow = d
		return nil
	}
}

// MaxCacheAge is the longest the local cache answers for a session without
// reading it from Redis again, whatever Redis says or does not say: the
// bound on a change Redis sends no invalidation for (a SWAPDB, a replica
// promoted with older data, a script that rewrote a key in a way tracking
// misses). The heartbeat sees the first two sooner on a single node or
// Sentinel (tracking.go); this caps every case. At 10 s, a session used
// every few milliseconds costs one more read every 10 s.
const MaxCacheAge = 10 * time.Second

// CacheStats counts what the local cache did since New.
type CacheStats struct {
	Hits, Misses  uint64 // Verify calls answered from memory / that asked Redis
	Invalidations uint64 // entries dropped because Redis said the session changed
	Flushes       uint64 // drops because invalidation could not be trusted: the whole cache, or on a Cluster one master's entries
}

// CacheStats returns the local cache's counters (all zero without
// WithLocalCache).
func (c *Client) CacheStats() CacheStats {
	if c.cache == nil {
		return CacheStats{}
	}
	return c.cache.stats()
}

// localCache remembers live sessions by name ("id:nanoid"). It is sharded
// by user id, so that a user's sessions, which Redis invalidates together
// when the user's index changes, share a lock.
type localCache struct {
	shards  []cacheShard
	mask    uint64
	seed    maphash.Seed
	base    time.Time // mono clock origin
	flushes atomic.Uint64
	tracker *tracker
}

type cacheShard struct {
	mu       sync.Mutex
	gen      uint64 // bumped by every invalidation in the shard
	cap      int
	entries  map[string]*cacheEntry // by session name
	users    map[string]*cacheEntry // user id → first of its entries
	lru      cacheEntry             // sentinel of the recency list
	inflight map[string]*missCall
	hits     uint64
	misses   uint64
	invals   uint64
	_        [64]byte
}

type cacheEntry struct {
	session, id string
	data        []byte
	hasData     bool
	expires     int64 // mono ns: the session's expiry in Redis (0: none)

	node  *trackNode // the node it was read from
	epoch uint64     // node's epoch when the read was sent
	slot  int        // its hash slot on a Cluster; -1 elsewhere

	prev, next   *cacheEntry // recency list
	uprev, unext *cacheEntry // the user's entries
}

// missCall is one shared request to Redis for a session.
type missCall struct {
	done chan struct{}
	t    store.Tracked
	err  error
}

func newLocalCache(maxEntries int) *localCache {
	n := 1
	for n < 64 && n*2*8 <= maxEntries {
		n *= 2
	}
	lc := &localCache{shards: make([]cacheShard, n), mask: uint64(n - 1), seed: maphash.MakeSeed(), base: time.Now()}
	for i := range lc.shards {
		s := &lc.shards[i]
		s.cap = maxEntries / n
		if i < maxEntries%n {
			s.cap++
		}
		s.entries = map[string]*cacheEntry{}
		s.users = map[string]*cacheEntry{}
		s.inflight = map[string]*missCall{}
		s.lru.prev, s.lru.next = &s.lru, &s.lru
	}
	return lc
}

func (lc *localCache) now() int64 { return int64(time.Since(lc.base)) }

func (lc *localCache) shard(id string) *cacheShard {
	return &lc.shards[maphash.String(lc.seed, id)&lc.mask]
}

// get answers a session from memory: ok, and its data when withData.
func (lc *localCache) get(id, session string, withData bool) (data []byte, ok bool) {
	s := lc.shard(id)
	s.mu.Lock()
	data, ok = lc.getLocked(s, session, withData)
	s.mu.Unlock()
	return data, ok
}

// getLocked is get under s.mu.
func (lc *localCache) getLocked(s *cacheShard, session string, withData bool) (data []byte, ok bool) {
	now := lc.now()
	e := s.entries[session]
	if e == nil || (e.expires != 0 && now >= e.expires) || (withData && !e.hasData) || !lc.tracker.serves(e, now) {
		if e != nil && e.expires != 0 && now >= e.expires {
			s.remove(e)
		}
		return nil, false
	}
	s.hits++
	if s.lru.next != e { // move to front
		e.prev.next, e.next.prev = e.next, e.prev
		e.next, e.prev = s.lru.next, &s.lru
		s.lru.next.prev = e
		s.lru.next = e
	}
	if withData && e.data != nil {
		data = append([]byte(nil), e.data...) // the caller may change its copy
	}
	return data, true
}

// remove unlinks e; under s.mu.
func (s *cacheShard) remove(e *cacheEntry) {
	delete(s.entries, e.session)
	e.prev.next, e.next.prev = e.next, e.prev
	if e.uprev != nil {
		e.uprev.unext = e.unext
	} else if e.unext != nil {
		s.users[e.id] = e.unext
	} else {
		delete(s.users, e.id)
	}
	if e.unext != nil {
		e.unext.uprev = e.uprev
	}
	e.prev, e.next, e.uprev, e.unext = nil, nil, nil, nil
}

// put adds an entry; under s.mu.
func (s *cacheShard) put(e *cacheEntry) {
	if s.cap == 0 {
		return
	}
	if old := s.entries[e.session]; old != nil {
		s.remove(old)
	}
	for len(s.entries) >= s.cap && s.lru.prev != &s.lru {
		s.remove(s.lru.prev)
	}
	s.entries[e.session] = e
	e.next, e.prev = s.lru.next, &s.lru
	s.lru.next.prev = e
	s.lru.next = e
	if first := s.users[e.id]; first != nil {
		e.unext = first
		first.uprev = e
	}
	s.users[e.id] = e
}

// verify is Verify's Redis step with the cache: a hit, or one shared
// request to Redis per session whose live answer is remembered.
func (c *Client) verifyCached(ctx context.Context, id, nano, session string, withData bool) (bool, []byte, error) {
	lc := c.cache
	s := lc.shard(id)
	s.mu.Lock()
	// The look and, on a miss, the shared request are decided under one
	// lock: a caller that missed just as a fill ended would otherwise start
	// a second request for an answer now remembered.
	if data, ok := lc.getLocked(s, session, withData); ok {
		s.mu.Unlock()
		return true, data, nil
	}
	s.misses++
	now := lc.now()
	n, slot := lc.tracker.node(id)
	var reads *redis.Client
	if n != nil {
		reads = n.reads.Load()
	}
	if n == nil || !n.usable(now) || reads == nil {
		// No trusted node serves the user's slot (on a Cluster: unknown,
		// lost, or moving): an ordinary Verify.
		s.mu.Unlock()
		return c.st.Verify(ctx, id, nano, withData)
	}
	call := s.inflight[session]
	if call == nil {
		call = &missCall{done: make(chan struct{})}
		s.inflight[session] = call
		gen, epoch := s.gen, n.epoch.Load()
		go c.fill(s, call, n, reads, id, nano, session, slot, gen, epoch)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return false, nil, c.redisErr("verify", ctx.Err())
	}
	if call.err != nil {
		// The tracked read failed (its connection, or a new reads client
		// being set up): ask the ordinary way, which reports Redis's state.
		return c.st.Verify(ctx, id, nano, withData)
	}
	t := call.t
	if !t.Live || (withData && !t.HasData) {
		return false, nil, nil
	}
	var data []byte
	if withData && t.Data != nil {
		data = append([]byte(nil), t.Data...)
	}
	return true, data, nil
}

// fill runs one shared miss on node n and remembers a live answer unless
// the session may have changed since the request was sent: an invalidation
// in its shard (the reply and the invalidation travel on different
// connections, so the invalidation can arrive first) or a drop of n's
// entries.
func (c *Client) fill(s *cacheShard, call *missCall, n *trackNode, reads *redis.Client, id, nano, session string, slot int, gen, epoch uint64) {
	lc := c.cache
	ctx, cancel := c.st.Bound(c.ev.ctx)
	defer cancel()
	sent := lc.now()
	readsID := n.readsID.Load()
	call.t, call.err = c.st.VerifyTTL(ctx, reads, id, nano)
	if call.err == nil && call.t.Live && call.t.Left == 0 {
		// An idle session due for extension: seen.lua extends it (and
		// records the use), in one more round trip, not Check's two; the
		// answer is not cached, the next miss is.
		var r store.CheckResult
		r, call.err = c.st.Record(ctx, id, nano)
		call.t.Live = r.Live
	}
	if n.readsID.Load() != readsID {
		// go-redis redialed the tracked connection: what the old one
		// tracked is no longer watched.
		lc.tracker.lose(n)
	}
	if call.err != nil && store.TopologyMayHaveChanged(call.err) {
		lc.tracker.topologyChanged() // MOVED, ASK, the master gone
	}
	s.mu.Lock()
	delete(s.inflight, session)
	if call.err == nil && call.t.Live && call.t.Left != 0 && s.gen == gen {
		e := &cacheEntry{session: session, id: id, data: call.t.Data, hasData: call.t.HasData, node: n, epoch: epoch, slot: slot}
		// Trusted until the session's expiry in Redis, and never longer
		// than MaxCacheAge without Redis confirming it again.
		e.expires = sent + int64(MaxCacheAge)
		if call.t.Left > 0 && call.t.Left < MaxCacheAge {
			e.expires = sent + int64(call.t.Left)
		}
		if lc.tracker.serves(e, lc.now()) { // the rule every hit checks
			s.put(e)
		}
	}
	s.mu.Unlock()
	close(call.done)
}

// invalidateKey drops what a changed Redis key covers: a session hash, one
// session; a user's index, all the user's sessions.
func (lc *localCache) invalidateKey(key string) {
	st := lc.tracker.c.st
	if id, nano, ok := st.ParseSession(key); ok {
		s := lc.shard(id)
		s.mu.Lock()
		s.gen++
		if e := s.entries[sessionName(id, nano)]; e != nil {
			s.remove(e)
			s.invals++
		}
		s.mu.Unlock()
		return
	}
	if id, ok := st.ParseIndex(key); ok {
		lc.dropUser(id, true)
	}
}

// dropUser forgets every session of user id.
func (lc *localCache) dropUser(id string, count bool) {
	s := lc.shard(id)
	s.mu.Lock()
	s.gen++
	for e := s.users[id]; e != nil; e = s.users[id] {
		s.remove(e)
		if count {
			s.invals++
		}
	}
	s.mu.Unlock()
}

// dropSession forgets one session (this client changed it).
func (lc *localCache) dropSession(id, nano string) {
	s := lc.shard(id)
	s.mu.Lock()
	s.gen++
	if e := s.entries[sessionName(id, nano)]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
}

// changed drops what a write of this client's may have changed (nano "":
// every session of user id) at once, without waiting for Redis's
// invalidation: the store calls it before any write returns
// (store.Config.Changed), so this client's next Verify sees its own writes.
func (lc *localCache) changed(id, nano string) {
	if nano == "" {
		lc.dropUser(id, false)
		return
	}
	lc.dropSession(id, nano)
}

// dropNode forgets every entry read from node n (on one node, the whole
// cache); counted as a flush when trust was lost. Bumping n's epoch first
// makes them unusable at once, and keeps fills in flight from adding any.
func (lc *localCache) dropNode(n *trackNode, count bool) {
	n.epoch.Add(1)
	all := lc.tracker.single == n
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		s.gen++
		if all {
			clear(s.entries)
			clear(s.users)
			s.lru.prev, s.lru.next = &s.lru, &s.lru
		} else {
			for _, e := range s.entries {
				if e.node == n {
					s.remove(e)
				}
			}
		}
		s.mu.Unlock()
	}
	if count {
		lc.flushes.Add(1)
	}
}

// dropMoved forgets the entries whose slot is served by another node (or
// none) in the Cluster's new slot map.
func (lc *localCache) dropMoved(sm *slotMap) {
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		for _, e := range s.entries {
			if e.slot >= 0 && sm.owner[e.slot] != e.node {
				s.remove(e)
			}
		}
		s.mu.Unlock()
	}
}

func (lc *localCache) stats() CacheStats {
	st := CacheStats{Flushes: lc.flushes.Load()}
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		st.Hits += s.hits
		st.Misses += s.misses
		st.Invalidations += s.invals
		s.mu.Unlock()
	}
	return st
}

// len is how many sessions are remembered (for tests).
func (lc *localCache) len() int {
	n := 0
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}
