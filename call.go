package rjwt

import (
	"context"
	"errors"
	"fmt"
	"github.com/rjwt/rjwt/internal/store"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// scanBatch is the COUNT hint of each SCAN and the size of each UNLINK or GET
// batch: large enough to keep round trips few, small enough that no single
// command holds Redis for long.
const scanBatch = 1000

// Call holds redis-jwt's helper calls (its call()), with Go signatures. Keys and
// patterns are used as given: no prefix is added. Patterns are Redis glob
// patterns (* ? [abc] [a-z], \ escapes); use EscapePattern for literal parts
// such as user ids. Pattern calls walk the keyspace with SCAN in batches (on a
// Cluster, on every master) and never send KEYS: they are for administration,
// not hot paths. SCAN visits the whole keyspace of the database whatever the
// pattern, in steps of about 1,000 keys, so their cost grows with the size of
// the database, not with the number of matches. The client's default timeout
// (WithTimeout, 5 seconds) bounds each round trip of a walk, not the walk; give
// ctx a deadline to bound the whole call.
type Call struct{ c *Client }

// Call returns the client's helper calls.
func (c *Client) Call() *Call { return &Call{c: c} }

// EscapePattern escapes s for literal use inside a Redis glob pattern, so
// that a user id like "*" or "[a-z]" matches only itself.
func EscapePattern(s string) string { return store.EscapePattern(s) }

// SessionPattern is the glob pattern matching the session keys of user id
// (and its index, and the answer keys its recent Sign, Revoke and RevokeAll
// calls keep for 60 s; on the lean layout, the user's one hash), for use
// with the helper calls.
func (c *Client) SessionPattern(id string) string {
	return EscapePattern(c.st.Lean(id)) + "*" // the key base without its ':'
}

// begin bounds a helper call (WithTimeout) and fails it at once, with
// ErrUnavailable, while Redis is known down.
func (k *Call) begin(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if err := k.c.st.Available(); err != nil {
		return nil, nil, fmt.Errorf("rjwt: %s: %w", op, err)
	}
	ctx, cancel := k.c.bound(ctx)
	return ctx, cancel, nil
}

// Ping checks that Redis answers. One round trip.
func (k *Call) Ping(ctx context.Context) error {
	ctx, cancel, err := k.begin(ctx, "ping")
	if err != nil {
		return err
	}
	defer cancel()
	if err = k.c.rdb.Ping(ctx).Err(); err != nil {
		return k.c.redisErr("ping", err)
	}
	return nil
}

// Create sets key to value with a TTL (SET key value PX ttl); a ttl of 0 means
// no expiry, a negative one is ErrInvalidTTL. One round trip.
func (k *Call) Create(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: negative TTL %v", ErrInvalidTTL, ttl)
	}
	ctx, cancel, err := k.begin(ctx, "create")
	if err != nil {
		return err
	}
	defer cancel()
	if err = k.c.rdb.Set(ctx, key, value, ttl).Err(); err != nil {
		return k.c.redisErr("create", err)
	}
	return nil
}

// Exists reports whether key exists. One round trip.
func (k *Call) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := k.begin(ctx, "exists")
	if err != nil {
		return false, err
	}
	defer cancel()
	n, err := k.c.rdb.Exists(ctx, key).Result()
	if err != nil {
		return false, k.c.redisErr("exists", err)
	}
	return n == 1, nil
}

// TTL returns the time key has left, -1 when it has no expiry, and
// ErrKeyNotFound when it does not exist. One round trip (PTTL).
func (k *Call) TTL(ctx context.Context, key string) (time.Duration, error) {
	ctx, cancel, err := k.begin(ctx, "ttl")
	if err != nil {
		return 0, err
	}
	defer cancel()
	ms, err := k.c.rdb.Do(ctx, "PTTL", key).Int64()
	if err != nil {
		return 0, k.c.redisErr("ttl", err)
	}
	switch ms {
	case -2:
		return 0, fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	case -1:
		return -1, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// GetValueByKey returns the string value of key, or ErrKeyNotFound. One round
// trip.
func (k *Call) GetValueByKey(ctx context.Context, key string) (string, error) {
	ctx, cancel, err := k.begin(ctx, "get")
	if err != nil {
		return "", err
	}
	defer cancel()
	v, err := k.c.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	if err != nil {
		return "", k.c.redisErr("get", err)
	}
	return v, nil
}

// GetValuesByPattern returns the string values of the keys matching pattern.
// Keys of other types (rjwt's own sessions are hashes) and keys that vanish
// during the walk are left out. One SCAN round trip per batch of about 1,000
// keys, plus one pipelined GET round trip per batch.
func (k *Call) GetValuesByPattern(ctx context.Context, pattern string) (map[string]string, error) {
	out := map[string]string{}
	var mu sync.Mutex
	err := k.scan(ctx, pattern, true, func(ctx context.Context, node redis.UniversalClient, keys []string) error {
		cmds, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range keys {
				p.Get(ctx, key)
			}
			return nil
		})
		if err != nil && len(cmds) != len(keys) {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, cmd := range cmds {
			v, err := cmd.(*redis.StringCmd).Result()
			switch {
			case err == nil:
				out[keys[i]] = v
			case errors.Is(err, redis.Nil) || isWrongType(err):
				// gone since SCAN saw it, or not a string: left out
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, k.c.redisErr("get values by pattern", err)
	}
	return out, nil
}

// GetCountByPattern counts the keys matching pattern. One SCAN round trip per
// batch of about 1,000 keys.
func (k *Call) GetCountByPattern(ctx context.Context, pattern string) (int, error) {
	var mu sync.Mutex
	n := 0
	err := k.scan(ctx, pattern, true, func(_ context.Context, _ redis.UniversalClient, keys []string) error {
		mu.Lock()
		n += len(keys)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return 0, k.c.redisErr("count by pattern", err)
	}
	return n, nil
}

// GetInfo returns Redis's INFO text for section ("" for the default
// sections, "all", "memory", "keyspace", ...). One round trip.
func (k *Call) GetInfo(ctx context.Context, section string) (string, error) {
	ctx, cancel, err := k.begin(ctx, "info")
	if err != nil {
		return "", err
	}
	defer cancel()
	var cmd *redis.StringCmd
	if section == "" {
		cmd = k.c.rdb.Info(ctx)
	} else {
		cmd = k.c.rdb.Info(ctx, section)
	}
	if err = cmd.Err(); err != nil {
		return "", k.c.redisErr("info", err)
	}
	return cmd.Val(), nil
}

// Destroy deletes key (UNLINK: the memory is freed in the background), or
// returns ErrKeyNotFound. One round trip. To end a session use Revoke, which
// also keeps the user's index right and, for a session signed seconds ago,
// stops a delayed copy of its Sign from creating it again (a deleted
// session key has no such guard).
func (k *Call) Destroy(ctx context.Context, key string) error {
	ctx, cancel, err := k.begin(ctx, "destroy")
	if err != nil {
		return err
	}
	defer cancel()
	n, err := k.c.rdb.Unlink(ctx, key).Result()
	if err != nil {
		return k.c.redisErr("destroy", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	return nil
}

// DestroyMultiple deletes every key matching pattern and returns how many it
// deleted. It walks the keyspace with SCAN and deletes each batch of about
// 1,000 keys with UNLINK (pipelined per key on a Cluster, where one UNLINK
// cannot span slots): two round trips per batch, and never KEYS. Keys are
// deleted as they are found: on an error the count says how many went before
// it. Keys created during the walk may or may not be deleted (SCAN's
// guarantee covers only keys present throughout).
func (k *Call) DestroyMultiple(ctx context.Context, pattern string) (int, error) {
	var mu sync.Mutex
	total := 0
	_, cluster := k.c.rdb.(*redis.ClusterClient)
	// No dedupe: a key SCAN reports twice is unlinked once and counted once,
	// since UNLINK counts only the keys it removed.
	err := k.scan(ctx, pattern, false, func(ctx context.Context, node redis.UniversalClient, keys []string) error {
		var n int64
		if cluster {
			cmds, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, key := range keys {
					p.Unlink(ctx, key)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, cmd := range cmds {
				n += cmd.(*redis.IntCmd).Val()
			}
		} else {
			var err error
			if n, err = node.Unlink(ctx, keys...).Result(); err != nil {
				return err
			}
		}
		mu.Lock()
		total += int(n)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return total, k.c.redisErr("destroy multiple", err)
	}
	return total, nil
}

// scan walks the keys matching pattern with SCAN, on every master of a
// Cluster (concurrently) or on the one node, and hands fn each batch. With
// dedupe, a key SCAN reports twice (it may, while the keyspace is resized) is
// handed once, at the cost of remembering every key seen on a node.
//
// The client's default timeout (WithTimeout) bounds each round trip, not the
// whole walk, which may take long on a large keyspace; a deadline on ctx
// bounds the whole walk.
func (k *Call) scan(ctx context.Context, pattern string, dedupe bool, fn func(context.Context, redis.UniversalClient, []string) error) error {
	if err := k.c.st.Available(); err != nil {
		return err
	}
	walk := func(ctx context.Context, node redis.UniversalClient) error {
		var seen map[string]struct{}
		if dedupe {
			seen = map[string]struct{}{}
		}
		var cursor uint64
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			sctx, cancel := k.c.bound(ctx)
			keys, next, err := node.Scan(sctx, cursor, pattern, scanBatch).Result()
			cancel()
			if err != nil {
				return err
			}
			fresh := keys
			if dedupe {
				fresh = keys[:0]
				for _, key := range keys {
					if _, dup := seen[key]; !dup {
						seen[key] = struct{}{}
						fresh = append(fresh, key)
					}
				}
			}
			if len(fresh) > 0 {
				bctx, cancel := k.c.bound(ctx)
				err := fn(bctx, node, fresh)
				cancel()
				if err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := k.c.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return walk(ctx, m) })
	}
	return walk(ctx, k.c.rdb)
}

func isWrongType(err error) bool { return store.WrongType(err) }
