package redistest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

func TestCluster(t *testing.T) {
	start := time.Now()
	c := redistest.StartCluster(t)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	masters, replicas := c.Masters(), c.Replicas()
	if len(masters) != 3 || len(replicas) != 3 {
		t.Fatalf("%d masters and %d replicas, want 3 and 3", len(masters), len(replicas))
	}
	for i, m := range masters {
		if m.Addr() != c.Addrs()[i] {
			t.Errorf("master %d is %s; Addrs lists %v", i, m.Addr(), c.Addrs())
		}
		if r := c.ReplicasOf(m); len(r) != 1 {
			t.Errorf("master %s has replicas %v, want one", m.Addr(), r)
		}
	}

	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { rdb.Close() })
	perMaster := map[*redistest.Server][]string{}
	for i := 0; len(perMaster) < 3 || i < 30; i++ {
		if i == 1000 {
			t.Fatalf("1000 keys landed on only %d masters", len(perMaster))
		}
		key := fmt.Sprintf("key:%d", i)
		if err := rdb.Set(ctx, key, "v"+key, 0).Err(); err != nil {
			t.Fatal(err)
		}
		m := c.MasterFor(key)
		perMaster[m] = append(perMaster[m], key)
	}
	for m, keys := range perMaster {
		// Each master holds its keys itself (a plain client: no redirects).
		direct := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { direct.Close() })
		for _, key := range keys {
			if v, err := direct.Get(ctx, key).Result(); err != nil || v != "v"+key {
				t.Fatalf("GET %s on its master %s = %q, %v", key, m.Addr(), v, err)
			}
		}
		if n, err := direct.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
			t.Fatalf("WAIT on %s: %d replicas, %v", m.Addr(), n, err)
		}
	}

	// kill -9 the master of key:0: its replica takes over with the data.
	victim := c.MasterFor("key:0")
	heir := c.ReplicasOf(victim)[0]
	victim.Kill()
	killed := time.Now()
	if err := c.WaitHealthy(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("failover and cluster_state:ok everywhere %v after the kill", time.Since(killed).Round(time.Millisecond))
	if got := c.MasterFor("key:0"); got != heir {
		t.Fatalf("key:0 is served by %s, want the dead master's replica %s", got.Addr(), heir.Addr())
	}
	if n := len(c.Masters()); n != 3 {
		t.Fatalf("%d masters after the failover, want 3", n)
	}

	// go-redis v9.23 does not reload the slot map on a connection refused (a
	// MOVED does, or ClusterStateReloadInterval, 60s by default): a client
	// would keep dialing the dead master. Reload it, then the new master answers.
	rdb.ReloadState(ctx) // asynchronous
	var v string
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if v, err = rdb.Get(ctx, "key:0").Result(); err == nil {
			break
		}
	}
	if err != nil || v != "vkey:0" {
		t.Fatalf("GET key:0 through the cluster client after the failover = %q, %v", v, err)
	}
	if err := rdb.Set(ctx, "key:0", "after", 0).Err(); err != nil {
		t.Fatal(err)
	}

	// Restarted from its own nodes.conf, the old master rejoins as a replica
	// of its heir (as every node sees it, itself included) and syncs.
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	own := redis.NewClient(&redis.Options{Addr: victim.Addr()})
	t.Cleanup(func() { own.Close() })
	for {
		info, _ := own.Info(ctx, "replication").Result()
		if strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") &&
			strings.Contains(info, fmt.Sprintf("master_port:%d\r", heir.Port)) &&
			slices.Contains(c.ReplicasOf(heir), victim) {
			break
		}
		if time.Since(restarted) > 10*time.Second {
			t.Fatalf("the restarted master %s is not a synced replica of %s after 10s:\n%s", victim.Addr(), heir.Addr(), info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the restarted master is a synced replica %v after its restart", time.Since(restarted).Round(time.Millisecond))
}
