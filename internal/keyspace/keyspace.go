// Package keyspace walks the keys matching a Redis glob pattern with SCAN
// (on every master of a Cluster) for rjwt's helper calls: it reads, counts
// and unlinks them in batches, and never sends KEYS.
package keyspace

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// Batch is the COUNT hint of each SCAN and the size of each UNLINK or GET
// batch: large enough to keep round trips few, small enough that no single
// command holds Redis for long.
const Batch = 1000

// A Walker walks RDB's keyspace, each round trip bounded by Bound.
type Walker struct {
	RDB   redis.UniversalClient
	Bound func(context.Context) (context.Context, context.CancelFunc)
	// Available fails a walk at once, with its error, while Redis is known
	// down.
	Available func() error
}

// Values returns the string values of the keys matching pattern. Keys of
// other types and keys that vanish during the walk are left out.
func (w *Walker) Values(ctx context.Context, pattern string) (map[string]string, error) {
	out := map[string]string{}
	var mu sync.Mutex
	err := w.scan(ctx, pattern, true, func(ctx context.Context, node redis.UniversalClient, keys []string) error {
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
			case errors.Is(err, redis.Nil) || store.WrongType(err):
				// gone since SCAN saw it, or not a string: left out
			default:
				return err
			}
		}
		return nil
	})
	return out, err
}

// Count counts the keys matching pattern.
func (w *Walker) Count(ctx context.Context, pattern string) (int, error) {
	var mu sync.Mutex
	n := 0
	err := w.scan(ctx, pattern, true, func(_ context.Context, _ redis.UniversalClient, keys []string) error {
		mu.Lock()
		n += len(keys)
		mu.Unlock()
		return nil
	})
	return n, err
}

// Unlink unlinks every key matching pattern and returns how many it
// unlinked (before an error too).
func (w *Walker) Unlink(ctx context.Context, pattern string) (int, error) {
	var mu sync.Mutex
	total := 0
	_, cluster := w.RDB.(*redis.ClusterClient)
	// No dedupe: a key SCAN reports twice is unlinked once and counted once,
	// since UNLINK counts only the keys it removed.
	err := w.scan(ctx, pattern, false, func(ctx context.Context, node redis.UniversalClient, keys []string) error {
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
	return total, err
}

// scan walks the keys matching pattern with SCAN, on every master of a
// Cluster (concurrently) or on the one node, and hands fn each batch. With
// dedupe, a key SCAN reports twice (it may, while the keyspace is resized) is
// handed once, at the cost of remembering every key seen on a node.
//
// The client's default timeout (WithTimeout) bounds each round trip, not the
// whole walk, which may take long on a large keyspace; a deadline on ctx
// bounds the whole walk.
func (w *Walker) scan(ctx context.Context, pattern string, dedupe bool, fn func(context.Context, redis.UniversalClient, []string) error) error {
	if err := w.Available(); err != nil {
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
			sctx, cancel := w.Bound(ctx)
			keys, next, err := node.Scan(sctx, cursor, pattern, Batch).Result()
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
				bctx, cancel := w.Bound(ctx)
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
	if cc, ok := w.RDB.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return walk(ctx, m) })
	}
	return walk(ctx, w.RDB)
}
