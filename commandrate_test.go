package rjwt_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// TestIdleCommandsPerMaster measures what an idle client with the local
// cache and keyspace events on sends each master per second (INFO
// commandstats over a few seconds, less what the same masters ran over as
// long without the client: replication, Sentinel's own PINGs and INFOs),
// and holds a Cluster to the bar of docs/cluster.md: at most one CLUSTER
// SLOTS, one PING and one TIME of rjwt's own per master per second.
// go-redis's own slot-map reloads (asynchronous, on a MOVED or its 60 s
// timer; counted by a hook on its node clients) are reported apart.
// RJWT_RATE_SECONDS sets the length of each half (3 s by default; the
// figures in BENCHMARKS.md are over 10 s).
func TestIdleCommandsPerMaster(t *testing.T) {
	secs := 3
	if v, err := strconv.Atoi(os.Getenv("RJWT_RATE_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	eachTopology(t, func(t *testing.T, tp *topology) {
		var reloads atomic.Int64 // go-redis's own CLUSTER SLOTS
		conn := tp.conn(t)
		if tp.name == "cluster" {
			cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: tp.cluster.Addrs(), ContextTimeoutEnabled: true})
			t.Cleanup(func() { cc.Close() })
			cc.OnNewNode(func(node *redis.Client) { node.AddHook(reloadCounter{&reloads}) })
			conn = rjwt.WithRedisClient(cc)
		}
		masters := tp.masters()
		window := time.Duration(secs) * time.Second

		base := commandRates(t, masters, window)
		c := tp.newClient(t, conn, rjwt.WithLocalCache(1000), rjwt.WithKeyspaceEvents(true))
		waitReady(t, c)
		time.Sleep(time.Second) // the cache's sessions start
		reloads.Store(0)
		with := commandRates(t, masters, window)

		own := map[string]float64{}
		var names []string
		for cmd := range with {
			own[cmd] = with[cmd] - base[cmd]
			if own[cmd] > 0.05 {
				names = append(names, cmd)
			}
		}
		slices.Sort(names)
		var line strings.Builder
		for _, cmd := range names {
			fmt.Fprintf(&line, " %s %.2f", strings.ToUpper(strings.ReplaceAll(cmd, "|", " ")), own[cmd])
		}
		goRedis := float64(reloads.Load()) / float64(len(masters)) / float64(secs)
		t.Logf("%s, per master per second over %d s:%s (of the CLUSTER SLOTS, go-redis's own reloads: %.2f)", tp.name, secs, line.String(), goRedis)
		if tp.name != "cluster" {
			return
		}
		// One walk per second may land on both edges of the span.
		limit := float64(secs+1) / float64(secs)
		assert.LessOrEqual(t, own["cluster|slots"]-goRedis, limit, "CLUSTER SLOTS of rjwt's own")
		assert.LessOrEqual(t, own["ping"], limit, "PING")
		assert.LessOrEqual(t, own["time"], limit, "TIME")
	})
}

// commandRates is how often each command ran per master per second over d
// (INFO commandstats; subcommands as "cluster|slots"), averaged over the
// masters.
func commandRates(t *testing.T, masters []string, d time.Duration) map[string]float64 {
	t.Helper()
	read := func() map[string]int64 {
		out := map[string]int64{}
		for _, m := range masters {
			info, err := admin(t, m).Info(context.Background(), "commandstats").Result()
			require.NoError(t, err)
			for line := range strings.Lines(info) {
				rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
				if !ok {
					continue
				}
				name, stats, _ := strings.Cut(rest, ":calls=")
				n, _, _ := strings.Cut(stats, ",")
				v, err := strconv.ParseInt(n, 10, 64)
				require.NoError(t, err, line)
				out[name] += v
			}
		}
		return out
	}
	before := read()
	time.Sleep(d)
	after := read()
	rates := map[string]float64{}
	for cmd, n := range after {
		rates[cmd] = float64(n-before[cmd]) / float64(len(masters)) / d.Seconds()
	}
	rates["info"] -= 1 / d.Seconds() // this function's own INFO, once per master
	return rates
}

// reloadCounter counts go-redis's own slot-map reloads: CLUSTER SLOTS sent
// by a node client under context.Background() (go-redis's asynchronous
// reload; a call of rjwt's carries a context of its own).
type reloadCounter struct{ n *atomic.Int64 }

func (reloadCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r reloadCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx == context.Background() && cmd.FullName() == "cluster slots" {
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (reloadCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
