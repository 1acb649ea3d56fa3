package rjwt_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// callClient gives a client on a server of the test's own: pattern helpers
// walk the whole database.
func callClient(t *testing.T) (*rjwt.Client, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t)
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr()))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, srv
}

func TestCallSingleKeyHelpers(t *testing.T) {
	c, _ := callClient(t)
	call := c.Call()
	ctx := context.Background()

	require.NoError(t, call.Ping(ctx))

	require.NoError(t, call.Create(ctx, "k:ttl", "v1", time.Minute))
	require.NoError(t, call.Create(ctx, "k:forever", "v2", 0))
	assert.ErrorIs(t, call.Create(ctx, "k:neg", "v", -time.Second), rjwt.ErrInvalidTTL)

	ok, err := call.Exists(ctx, "k:ttl")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = call.Exists(ctx, "k:missing")
	require.NoError(t, err)
	assert.False(t, ok)

	ttl, err := call.TTL(ctx, "k:ttl")
	require.NoError(t, err)
	assert.InDelta(t, time.Minute, ttl, float64(2*time.Second))
	ttl, err = call.TTL(ctx, "k:forever")
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), ttl)
	_, err = call.TTL(ctx, "k:missing")
	assert.ErrorIs(t, err, rjwt.ErrKeyNotFound)

	v, err := call.GetValueByKey(ctx, "k:ttl")
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	_, err = call.GetValueByKey(ctx, "k:missing")
	assert.ErrorIs(t, err, rjwt.ErrKeyNotFound)

	require.NoError(t, call.Destroy(ctx, "k:ttl"))
	assert.ErrorIs(t, call.Destroy(ctx, "k:ttl"), rjwt.ErrKeyNotFound)

	info, err := call.GetInfo(ctx, "server")
	require.NoError(t, err)
	assert.Contains(t, info, "redis_version")
	info, err = call.GetInfo(ctx, "")
	require.NoError(t, err)
	assert.Contains(t, info, "# Server")
}

func TestCallPatternHelpersTakeGlobsAndEscapes(t *testing.T) {
	c, _ := callClient(t)
	call := c.Call()
	ctx := context.Background()
	for k, v := range map[string]string{
		"user:*:a": "star", "user:?:a": "question", "user:[x]:a": "bracket", "user:bob:a": "bob", "user:bob:b": "bob2", "other": "o",
	} {
		require.NoError(t, call.Create(ctx, k, v, time.Minute))
	}
	require.NoError(t, c.Redis().HSet(ctx, "user:hash:a", "f", "v").Err()) // not a string

	tests := []struct {
		pattern string
		want    map[string]string
	}{
		{"user:bob:*", map[string]string{"user:bob:a": "bob", "user:bob:b": "bob2"}},
		{"user:" + rjwt.EscapePattern("*") + ":*", map[string]string{"user:*:a": "star"}},
		{"user:" + rjwt.EscapePattern("?") + ":*", map[string]string{"user:?:a": "question"}},
		{"user:" + rjwt.EscapePattern("[x]") + ":*", map[string]string{"user:[x]:a": "bracket"}},
		{"user:?:a", map[string]string{"user:*:a": "star", "user:?:a": "question"}},
		{"nothing:*", map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			got, err := call.GetValuesByPattern(ctx, tc.pattern)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			n, err := call.GetCountByPattern(ctx, tc.pattern)
			require.NoError(t, err)
			assert.Equal(t, len(tc.want), n)
		})
	}
	n, err := call.GetCountByPattern(ctx, "user:*")
	require.NoError(t, err)
	assert.Equal(t, 6, n, "counts keys of every type")

	n, err = call.DestroyMultiple(ctx, "user:"+rjwt.EscapePattern("*")+":*")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "an escaped * deletes only the literal key")
	ok, err := call.Exists(ctx, "user:bob:a")
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestSessionPatternFindsOneUsersSessions(t *testing.T) {
	c, _ := callClient(t)
	ctx := context.Background()
	multi, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithRedisClient(c.Redis()), rjwt.WithMultiple(true))
	require.NoError(t, err)
	defer multi.Close()
	for _, id := range []string{"*", "*", "[a]", "a"} {
		_, err := multi.Sign(ctx, id)
		require.NoError(t, err)
	}
	n, err := c.Call().GetCountByPattern(ctx, c.SessionPattern("*"))
	require.NoError(t, err)
	if leanLayout() {
		assert.Equal(t, 1, n, "the lean hash of user *, nobody else's (a plain Sign writes no answer key)")
		return
	}
	assert.Equal(t, 3, n, "two sessions and the index of user *, nobody else's (a plain Sign writes no answer key)")
}

func TestDestroyMultipleDeletes10000KeysWithoutKEYS(t *testing.T) {
	c, srv := callClient(t)
	ctx := context.Background()
	_, err := c.Redis().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 10000; i++ {
			p.Set(ctx, "bulk:"+strconv.Itoa(i), "x", 0)
		}
		p.Set(ctx, "keep:1", "x", 0)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, c.Redis().ConfigResetStat(ctx).Err())

	start := time.Now()
	n, err := c.Call().DestroyMultiple(ctx, "bulk:*")
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, 10000, n)

	count, err := c.Call().GetCountByPattern(ctx, "bulk:*")
	require.NoError(t, err)
	assert.Zero(t, count)
	size, err := c.Redis().DBSize(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), size, "keep:1 survives")

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	stats, err := rdb.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	assert.NotContains(t, stats, "cmdstat_keys:")
	assert.Contains(t, stats, "cmdstat_scan:")
	unlinks := regexp.MustCompile(`cmdstat_unlink:calls=(\d+)`).FindStringSubmatch(stats)
	require.NotNil(t, unlinks)
	calls, _ := strconv.Atoi(unlinks[1])
	assert.Less(t, calls, 100, "UNLINK goes in batches, not key by key")
	scans := regexp.MustCompile(`cmdstat_scan:calls=(\d+)`).FindStringSubmatch(stats)
	require.NotNil(t, scans)
	t.Logf("10,000 keys deleted in %v with %s SCAN and %s UNLINK calls, no KEYS", elapsed, scans[1], unlinks[1])
}

func TestEscapePattern(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "*": `\*`, "a?b": `a\?b`, "[a-z]*": `\[a-z\]\*`, `back\slash`: `back\\slash`, "{x}:y": "{x}:y",
	} {
		assert.Equal(t, want, rjwt.EscapePattern(in), fmt.Sprintf("EscapePattern(%q)", in))
	}
}

func TestCallHelpersFailWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr()), rjwt.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	call := c.Call()
	ctx := context.Background()
	require.NoError(t, call.Create(ctx, "down:1", "v", 0))
	srv.Kill()

	tests := map[string]func() error{
		"Ping":               func() error { return call.Ping(ctx) },
		"Create":             func() error { return call.Create(ctx, "down:2", "v", 0) },
		"Exists":             func() error { _, err := call.Exists(ctx, "down:1"); return err },
		"TTL":                func() error { _, err := call.TTL(ctx, "down:1"); return err },
		"GetValueByKey":      func() error { _, err := call.GetValueByKey(ctx, "down:1"); return err },
		"GetValuesByPattern": func() error { _, err := call.GetValuesByPattern(ctx, "down:*"); return err },
		"GetCountByPattern":  func() error { _, err := call.GetCountByPattern(ctx, "down:*"); return err },
		"GetInfo":            func() error { _, err := call.GetInfo(ctx, ""); return err },
		"Destroy":            func() error { return call.Destroy(ctx, "down:1") },
		"DestroyMultiple":    func() error { _, err := call.DestroyMultiple(ctx, "down:*"); return err },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := fn()
			require.Error(t, err)
			assert.ErrorIs(t, err, rjwt.ErrUnavailable)
			assert.NotErrorIs(t, err, rjwt.ErrKeyNotFound)
			assert.Less(t, time.Since(start), 2*time.Second, "the default timeout bounds the call")
		})
	}
}
