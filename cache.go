package rjwt

import (
	"time"

	"github.com/rjwt/rjwt/internal/cache"
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
	return checked(maxEntries >= 0, "rjwt: WithLocalCache: negative size %d", maxEntries, func(c *config) { c.cacheEntries = maxEntries })
}

// DefaultCacheWindow is WithCacheWindow's default.
const DefaultCacheWindow = time.Second

// WithCacheWindow sets the longest time the local cache (WithLocalCache)
// keeps answering without a confirmation that Redis's invalidations arrive:
// the worst case for a revocation to be seen when the network goes silent
// without closing the connection. The heartbeat PINGs every quarter of it.
// The default is 1 second (DefaultCacheWindow); at least 10ms.
func WithCacheWindow(d time.Duration) Option {
	return checked(d >= 10*time.Millisecond, "rjwt: WithCacheWindow: %v is under 10ms", d, func(c *config) { c.cacheWindow = d })
}

// MaxCacheAge is the longest the local cache answers for a session without
// reading it from Redis again, whatever Redis says or does not say: the
// bound on a change Redis sends no invalidation for (a SWAPDB, a replica
// promoted with older data, a script that rewrote a key in a way tracking
// misses). The heartbeat sees the first two sooner on a single node or
// Sentinel (internal/cache); this caps every case. At 10 s, a session used
// every few milliseconds costs one more read every 10 s.
const MaxCacheAge = cache.MaxAge

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
	s := c.cache.Stats()
	return CacheStats{Hits: s.Hits, Misses: s.Misses, Invalidations: s.Invalidations, Flushes: s.Flushes}
}
