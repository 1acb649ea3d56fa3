// Package cache is rjwt's local cache (rjwt.WithLocalCache): sessions seen
// live in Redis, answered from memory while Redis's invalidations (CLIENT
// TRACKING) are known to arrive. It owns its state and its goroutines: the
// LRU and its counters, the trust in each node's invalidations, the
// trackers that earn that trust (tracking.go), and the fills of misses;
// Close stops and waits for all of them.
package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
	"github.com/rjwt/rjwt/internal/topology"
)

// MaxAge is the longest an entry answers without Redis confirming it again
// (rjwt.MaxCacheAge).
const MaxAge = 10 * time.Second

// Config configures a Cache.
type Config struct {
	Entries int           // most sessions remembered
	Window  time.Duration // rjwt.WithCacheWindow
	Prefix  string        // rjwt's key prefix (the canary's key is under it)
	// OnError reports what the cache cannot do (an EventError): never nil.
	OnError func(error)
}

// Stats counts what the cache did (rjwt.CacheStats).
type Stats struct{ Hits, Misses, Invalidations, Flushes uint64 }

// Cache is the local cache of one client.
type Cache struct {
	lc     *localCache
	st     *store.Store
	ctx    context.Context // the fills'; canceled by Close
	cancel context.CancelFunc
	fills  sync.WaitGroup
}

// New makes a cache; Start starts its trackers once the store exists (the
// store tells the cache of its writes: Changed).
func New(cfg Config) *Cache {
	c := &Cache{lc: newLocalCache(cfg.Entries)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	t := &tracker{cache: c.lc, window: cfg.Window, prefix: cfg.Prefix, onError: cfg.OnError,
		subs: map[*redis.PubSub]*trackNode{}, retired: map[*redis.Client]struct{}{}, nodes: map[string]*trackNode{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	c.lc.tracker = t
	return c
}

// Start starts tracking rdb's nodes, reading misses through st; on a
// Cluster the trackers follow w's walks (subscribed here: before w starts).
func (c *Cache) Start(rdb redis.UniversalClient, st *store.Store, w *topology.Watcher) {
	c.st = st
	c.lc.tracker.begin(rdb, st, w)
}

// Close stops the trackers and waits for them and for the fills in flight.
func (c *Cache) Close() {
	c.cancel()
	c.lc.tracker.stop()
	c.fills.Wait()
}

// Changed drops what a write of this client's changed (store.Config.Changed).
func (c *Cache) Changed(id, nano string) { c.lc.changed(id, nano) }

// Stats returns the counters.
func (c *Cache) Stats() Stats { return c.lc.stats() }

// Len is how many sessions are remembered (tests).
func (c *Cache) Len() int { return c.lc.len() }

// isTimeout reports a network timeout (a Receive that found nothing).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func sessionName(id, nano string) string { return id + ":" + nano }

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
	return lc.getAt(s, session, withData, lc.now())
}

// getAt is getLocked at mono time now.
func (lc *localCache) getAt(s *cacheShard, session string, withData bool, now int64) (data []byte, ok bool) {
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

// invalidateKey drops what a changed Redis key covers: a session hash, one
// session; a user's index, all the user's sessions.
func (lc *localCache) invalidateKey(key string) {
	st := lc.tracker.st
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

func (lc *localCache) stats() Stats {
	st := Stats{Flushes: lc.flushes.Load()}
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
