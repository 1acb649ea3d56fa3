package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// The heartbeat's checks beyond the PING: that the database is the one the
// cache read (canary), and with Sentinel that its master is still the one
// Sentinel names.

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

// canary is a key of this tracker's own in the database its cache reads
// (on a Cluster, in a slot the session's master serves), holding a random
// value: the heartbeat reads it back (the read the heartbeat makes on the
// tracked connection anyway), and a value that is gone or different means
// the database changed under the cache in a way Redis sends no
// invalidation for (SWAPDB, a replica promoted without the latest writes):
// the session ends and the cache starts empty, within a beat. A canary
// whose slot went to another master (MOVED, ASK) is planted again. A
// canary that cannot be written (out of memory, a read-only user, a prefix
// whose hash tag puts every key in another master's slot) is nil, and the
// heartbeat PINGs the tracked connection instead: MaxCacheAge still bounds
// such changes.
type canary struct {
	key, val string
	set      time.Time // when it was last written
}

// canaryTTL is the canary's life in Redis, renewed every canaryTTL/3.
const canaryTTL = time.Hour

var errDatabaseChanged = errors.New("rjwt: local cache: the database changed under the cache (its canary key is gone or different: SWAPDB, a FLUSHDB, a failover to older data, or an eviction)")

var errCanaryMoved = errors.New("rjwt: local cache: the canary's slot moved")

// plantCanary writes a canary for a session of node n's, through reads.
func (t *tracker) plantCanary(ctx context.Context, n *trackNode, reads *redis.Client) *canary {
	val := rand.Text()
	key := t.prefix + "cache-canary:" + val[:10]
	if t.cc != nil {
		// A key in a slot n serves: one in three tries with three masters.
		sm := t.slots.Load()
		for i := 0; sm == nil || sm.owner[store.KeySlot(key)] != n; i++ {
			if sm == nil || i == 64 {
				return nil
			}
			val = rand.Text()
			key = t.prefix + "cache-canary:" + val[:10]
		}
	}
	c := &canary{key: key, val: val, set: time.Now()}
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
	switch code := store.ReplyCode(err); {
	case code == "MOVED" || code == "ASK":
		return errCanaryMoved
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
