package rjwt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/keyspace"
	"github.com/rjwt/rjwt/internal/store"
)

// ErrKeyNotFound is returned by the helper calls for a key that does not exist.
var ErrKeyNotFound = errors.New("rjwt: key not found")

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

// do runs f, one helper call's round trip: bounded (WithTimeout), failed
// at once with ErrUnavailable while Redis is known down, and with its
// Redis error wrapped naming op.
func do[T any](k *Call, ctx context.Context, op string, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := k.c.st.Available(); err != nil {
		return zero, fmt.Errorf("rjwt: %s: %w", op, err)
	}
	ctx, cancel := k.c.bound(ctx)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		return zero, k.c.redisErr(op, err)
	}
	return v, nil
}

// Ping checks that Redis answers. One round trip.
func (k *Call) Ping(ctx context.Context) error {
	_, err := do(k, ctx, "ping", func(ctx context.Context) (string, error) { return k.c.rdb.Ping(ctx).Result() })
	return err
}

// Create sets key to value with a TTL (SET key value PX ttl); a ttl of 0 means
// no expiry, a negative one is ErrInvalidTTL. One round trip.
func (k *Call) Create(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: negative TTL %v", ErrInvalidTTL, ttl)
	}
	_, err := do(k, ctx, "create", func(ctx context.Context) (string, error) { return k.c.rdb.Set(ctx, key, value, ttl).Result() })
	return err
}

// Exists reports whether key exists. One round trip.
func (k *Call) Exists(ctx context.Context, key string) (bool, error) {
	n, err := do(k, ctx, "exists", func(ctx context.Context) (int64, error) { return k.c.rdb.Exists(ctx, key).Result() })
	return n == 1, err
}

// TTL returns the time key has left, -1 when it has no expiry, and
// ErrKeyNotFound when it does not exist. One round trip (PTTL).
func (k *Call) TTL(ctx context.Context, key string) (time.Duration, error) {
	ms, err := do(k, ctx, "ttl", func(ctx context.Context) (int64, error) { return k.c.rdb.Do(ctx, "PTTL", key).Int64() })
	switch {
	case err != nil:
		return 0, err
	case ms == -2:
		return 0, fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	case ms == -1:
		return -1, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// GetValueByKey returns the string value of key, or ErrKeyNotFound. One round
// trip.
func (k *Call) GetValueByKey(ctx context.Context, key string) (string, error) {
	v, err := do(k, ctx, "get", func(ctx context.Context) (*string, error) {
		v, err := k.c.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		return &v, err
	})
	if err == nil && v == nil {
		err = fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	if err != nil {
		return "", err
	}
	return *v, nil
}

// GetValuesByPattern returns the string values of the keys matching pattern.
// Keys of other types (rjwt's own sessions are hashes) and keys that vanish
// during the walk are left out. One SCAN round trip per batch of about 1,000
// keys, plus one pipelined GET round trip per batch.
func (k *Call) GetValuesByPattern(ctx context.Context, pattern string) (map[string]string, error) {
	out, err := k.walker().Values(ctx, pattern)
	if err != nil {
		return nil, k.c.redisErr("get values by pattern", err)
	}
	return out, nil
}

// GetCountByPattern counts the keys matching pattern. One SCAN round trip per
// batch of about 1,000 keys.
func (k *Call) GetCountByPattern(ctx context.Context, pattern string) (int, error) {
	n, err := k.walker().Count(ctx, pattern)
	if err != nil {
		return 0, k.c.redisErr("count by pattern", err)
	}
	return n, nil
}

// GetInfo returns Redis's INFO text for section ("" for the default
// sections, "all", "memory", "keyspace", ...). One round trip.
func (k *Call) GetInfo(ctx context.Context, section string) (string, error) {
	return do(k, ctx, "info", func(ctx context.Context) (string, error) {
		if section == "" {
			return k.c.rdb.Info(ctx).Result()
		}
		return k.c.rdb.Info(ctx, section).Result()
	})
}

// Destroy deletes key (UNLINK: the memory is freed in the background), or
// returns ErrKeyNotFound. One round trip. To end a session use Revoke, which
// also keeps the user's index right and, for a session signed seconds ago,
// stops a delayed copy of its Sign from creating it again (a deleted
// session key has no such guard).
func (k *Call) Destroy(ctx context.Context, key string) error {
	n, err := do(k, ctx, "destroy", func(ctx context.Context) (int64, error) { return k.c.rdb.Unlink(ctx, key).Result() })
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	return err
}

// DestroyMultiple deletes every key matching pattern and returns how many it
// deleted. It walks the keyspace with SCAN and deletes each batch of about
// 1,000 keys with UNLINK (pipelined per key on a Cluster, where one UNLINK
// cannot span slots): two round trips per batch, and never KEYS. Keys are
// deleted as they are found: on an error the count says how many went before
// it. Keys created during the walk may or may not be deleted (SCAN's
// guarantee covers only keys present throughout).
func (k *Call) DestroyMultiple(ctx context.Context, pattern string) (int, error) {
	total, err := k.walker().Unlink(ctx, pattern)
	if err != nil {
		return total, k.c.redisErr("destroy multiple", err)
	}
	return total, nil
}

// walker walks the keyspace for the pattern calls.
func (k *Call) walker() *keyspace.Walker {
	return &keyspace.Walker{RDB: k.c.rdb, Bound: k.c.bound, Available: k.c.st.Available}
}
