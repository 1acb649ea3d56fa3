package rjwt_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// The tests that look at Redis's keys themselves do it through these, which
// know both layouts: RJWT_TEST_LAYOUT=lean runs the package on the lean one
// (export_test.go).

// leanLayout says whether the package's tests run on the lean layout.
func leanLayout() bool { return os.Getenv("RJWT_TEST_LAYOUT") == "lean" }

// leanKey is user id's lean hash under prefix.
func leanKey(prefix, id string) string { return store.Keys{Prefix: prefix}.Lean(id) }

// classicKey is session id:nano's classic hash under prefix.
func classicKey(prefix, id, nano string) string { return store.Keys{Prefix: prefix}.Session(id, nano) }

// sessionPTTL is the time session id:nano has left in Redis (its key's
// PTTL, or its field's); -2ns when it is gone, as go-redis reports PTTL.
func sessionPTTL(ctx context.Context, rdb redis.Cmdable, prefix, id, nano string) (time.Duration, error) {
	if !leanLayout() {
		return rdb.PTTL(ctx, classicKey(prefix, id, nano)).Result()
	}
	v, err := rdb.HPTTL(ctx, leanKey(prefix, id), nano).Result()
	if err != nil || len(v) != 1 {
		return 0, err
	}
	if v[0] < 0 {
		return time.Duration(v[0]), nil
	}
	return time.Duration(v[0]) * time.Millisecond, nil
}

// expireSession makes session id:nano expire in d (PEXPIRE, or HPEXPIRE).
func expireSession(ctx context.Context, rdb redis.Cmdable, prefix, id, nano string, d time.Duration) error {
	if !leanLayout() {
		return rdb.PExpire(ctx, classicKey(prefix, id, nano), d).Err()
	}
	return rdb.HPExpire(ctx, leanKey(prefix, id), d, nano).Err()
}

// deleteSession deletes session id:nano by hand (DEL, or HDEL).
func deleteSession(ctx context.Context, rdb redis.Cmdable, prefix, id, nano string) error {
	if !leanLayout() {
		return rdb.Del(ctx, classicKey(prefix, id, nano)).Err()
	}
	return rdb.HDel(ctx, leanKey(prefix, id), nano).Err()
}

// sessionFields is session id:nano's hash (classic), or its record read as
// the classic fields (lean); empty when it is gone.
func sessionFields(ctx context.Context, rdb redis.Cmdable, prefix, id, nano string) (map[string]string, error) {
	if !leanLayout() {
		return rdb.HGetAll(ctx, classicKey(prefix, id, nano)).Result()
	}
	rec, err := rdb.HGet(ctx, leanKey(prefix, id), nano).Result()
	if errors.Is(err, redis.Nil) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	f, ok := store.RecordFields(rec)
	if !ok {
		return nil, errors.New("a lean record that does not parse")
	}
	return f, nil
}

// indexScore is session id:nano's expiry in the user's index (the classic
// ZSCORE, or the lean field's HPEXPIRETIME), Unix ms.
func indexScore(ctx context.Context, rdb redis.Cmdable, prefix, id, nano string) (float64, error) {
	if !leanLayout() {
		return rdb.ZScore(ctx, prefix+"{"+id+"}:idx", nano).Result()
	}
	v, err := rdb.HPExpireTime(ctx, leanKey(prefix, id), nano).Result()
	if err != nil || len(v) != 1 {
		return 0, err
	}
	if v[0] < 0 {
		return 0, redis.Nil
	}
	return float64(v[0]), nil
}

// splitKey reads a classic session key name as prefix, user id and nanoid
// (ids without braces, as the tests use).
func splitKey(key string) (prefix, id, nano string) {
	nano = key[len(key)-21:]
	rest := key[:len(key)-23] // without "}:" + nanoid
	open := strings.LastIndex(rest, "{")
	return rest[:open], rest[open+1:], nano
}

// keyPTTL is sessionPTTL of the session a classic key name names.
func keyPTTL(ctx context.Context, rdb redis.Cmdable, key string) (time.Duration, error) {
	prefix, id, nano := splitKey(key)
	return sessionPTTL(ctx, rdb, prefix, id, nano)
}

// keyExists says whether the session a classic key name names exists.
func keyExists(ctx context.Context, rdb redis.Cmdable, key string) (bool, error) {
	d, err := keyPTTL(ctx, rdb, key)
	return d != -2, err
}

// fieldOf is one classic field of session id:nano (redis.Nil when it has
// none).
func fieldOf(ctx context.Context, rdb redis.Cmdable, prefix, id, nano, name string) (string, error) {
	f, err := sessionFields(ctx, rdb, prefix, id, nano)
	if err != nil {
		return "", err
	}
	v, ok := f[name]
	if !ok {
		return "", redis.Nil
	}
	return v, nil
}

// keysOfOneSession is how many keys a user with one session has: its hash
// and its index (classic), or its one hash (lean).
func keysOfOneSession() int {
	if leanLayout() {
		return 1
	}
	return 2
}

// skipOnLean skips a test of keyspace events naming sessions on the lean
// layout, where they cannot (docs/layouts.md: a field's expiry and HDEL are
// notified with the user's key only).
func skipOnLean(t interface{ Skip(...any) }) {
	if leanLayout() {
		t.Skip("lean layout: keyspace events do not name a session (docs/layouts.md)")
	}
}
