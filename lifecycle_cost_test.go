package rjwt_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// cmdStats is INFO commandstats: calls and µs per command.
func cmdStats(t *testing.T, rdb *redis.Client) map[string][2]float64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	out := map[string][2]float64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var calls, usec float64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls = f
			case "usec":
				usec = f
			}
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = [2]float64{calls, usec}
	}
	return out
}

// TestLifecycleRedisCost measures each new operation on a private server
// (INFO commandstats after CONFIG RESETSTAT): the script's calls, the
// commands it runs, and its time. The command counts are the scripts'
// shape (asserted); the times are logged for the README.
func TestLifecycleRedisCost(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	const n, capN = 200, 5
	newC := func(opts ...rjwt.Option) *rjwt.Client {
		c, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr())}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	measure := func(name string, setup func(i int) func(), maxCmds float64) {
		ops := make([]func(), n)
		for i := range ops {
			ops[i] = setup(i)
		}
		require.NoError(t, rdb.ConfigResetStat(ctx).Err())
		for _, op := range ops {
			op()
		}
		st := cmdStats(t, rdb)
		ev := st["evalsha"] // and EVAL, the first run of a script on a server
		ev[0] += st["eval"][0]
		ev[1] += st["eval"][1]
		cmds := 0.0
		var parts []string
		for k, v := range st {
			switch k { // the scripts themselves, and the connections' own commands
			case "evalsha", "eval", "info", "hello", "ping", "select":
				continue
			}
			if strings.HasPrefix(k, "config|") || strings.HasPrefix(k, "client|") {
				continue
			}
			cmds += v[0]
			parts = append(parts, fmt.Sprintf("%s %.1f", k, v[0]/n))
		}
		sort.Strings(parts)
		t.Logf("%-34s scripts/op %.2f  commands/op %5.1f  µs/script %6.1f  (%s)", name, ev[0]/n, cmds/n, ev[1]/ev[0], strings.Join(parts, ", "))
		assert.LessOrEqual(t, cmds/n, maxCmds+0.05, name) // a clock sample (TIME) now and then
	}
	multi := newC(rjwt.WithMultiple(true), rjwt.WithMaxSessions(0))
	measure("Sign (multiple, no cap)", func(i int) func() {
		return func() { _, err := multi.Sign(ctx, fmt.Sprint("s", i)); require.NoError(t, err) }
	}, 8)
	for _, p := range []rjwt.LimitPolicy{rjwt.LimitEndNearestExpiry, rjwt.LimitEndOldest, rjwt.LimitEndLeastRecent, rjwt.LimitRefuse} {
		c := newC(rjwt.WithMultiple(true), rjwt.WithMaxSessions(capN), rjwt.WithLimitPolicy(p))
		measure("Sign at a cap of 5, "+p.String(), func(i int) func() {
			u := fmt.Sprint(p, "-", i)
			for range capN {
				_, err := c.Sign(ctx, u)
				require.NoError(t, err)
			}
			return func() { _, _ = c.Sign(ctx, u) }
		}, 30)
	}
	single := newC()
	measure("Reissue (a pair)", func(i int) func() {
		p, err := single.SignPair(ctx, fmt.Sprint("r", i), rjwt.WithAMR("pwd"), rjwt.WithMeta(map[string]string{"ua": "x"}))
		require.NoError(t, err)
		cl, err := single.Verify(ctx, p.Token)
		require.NoError(t, err)
		return func() { _, err := single.Reissue(ctx, cl.Session); require.NoError(t, err) }
	}, 16)
	measure("RevokeOthers (ends 4 of 5)", func(i int) func() {
		u := fmt.Sprint("o", i)
		var tok string
		for range capN {
			tok, _ = multi.Sign(ctx, u)
		}
		cl, err := multi.Verify(ctx, tok)
		require.NoError(t, err)
		return func() { k, err := multi.RevokeOthers(ctx, cl.Session); require.NoError(t, err); require.Equal(t, 4, k) }
	}, 30)
	measure("Verify of an ended session (why)", func(i int) func() {
		tok, _ := multi.Sign(ctx, fmt.Sprint("w", i))
		cl, _ := multi.Verify(ctx, tok)
		require.NoError(t, multi.Revoke(ctx, cl.Session))
		return func() { _, err := multi.Verify(ctx, tok); require.ErrorIs(t, err, rjwt.ErrSessionNotFound) }
	}, 6)
}
