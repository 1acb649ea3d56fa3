package topology

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/store"
)

// The watcher's one goroutine ends in Stop. The harness's spawner (one
// thread that forks every redis-server) lives as long as the process, and
// go-redis's redial loop after a failed dial ends up to a second after its
// client closes.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/rjwt/rjwt/internal/redistest.spawner"),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// watch starts a watcher on rdb walking every interval, and returns a
// channel of its views (the newest kept when the test reads slowly).
func watch(t *testing.T, rdb redis.UniversalClient, interval time.Duration) (*Watcher, *store.Store, <-chan *View) {
	t.Helper()
	st := store.New(rdb, store.Config{Prefix: "topo:"})
	w := New(Config{Redis: rdb, Store: st, Interval: interval, Base: context.Background()})
	views := make(chan *View, 1)
	w.Subscribe(func(v *View) {
		select {
		case <-views:
		default:
		}
		views <- v
	})
	w.Start()
	t.Cleanup(func() { w.Stop(); st.Close() })
	return w, st, views
}

// until waits for a view that ok accepts.
func until(t *testing.T, views <-chan *View, what string, ok func(*View) bool) *View {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case v := <-views:
			if ok(v) {
				return v
			}
		case <-deadline:
			t.Fatalf("no walk saw %s", what)
		}
	}
}

// TestWatcherOwnsAvailability: on one node a walk is one PING; it marks
// Redis down when the node stops answering (calls then fail fast) and up
// when it answers again.
func TestWatcherOwnsAvailability(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	defer rdb.Close()
	_, st, views := watch(t, rdb, 50*time.Millisecond)
	v := until(t, views, "the node answer", (*View).Up)
	if v.Cluster || len(v.Masters) != 1 || st.IsDown() {
		t.Fatalf("view %+v, down %v", v, st.IsDown())
	}
	before := redistest.CommandCalls(t, srv.Addr(), "ping")
	time.Sleep(time.Second)
	if n := redistest.CommandCalls(t, srv.Addr(), "ping") - before; n < 5 || n > 30 {
		t.Fatalf("%d PINGs in a second of 50ms walks", n)
	}

	srv.Kill()
	until(t, views, "the node gone", func(v *View) bool { return !v.Up() })
	if err := st.Available(); err == nil {
		t.Fatal("a walk that found no master did not mark Redis down")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	until(t, views, "the node back", (*View).Up)
	if st.IsDown() {
		t.Fatal("a walk that saw Redis answer left it down")
	}
}

// TestWatcherFollowsAMasterAddedAfterStart: a Cluster's walk names every
// master serving slots with the slot map they agree on, and a master added
// after the watcher started (a new node given a slot) is in the next walks,
// by ID, without a client of its own made by the test.
func TestWatcherFollowsAMasterAddedAfterStart(t *testing.T) {
	cl := redistest.StartCluster(t)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
	defer cc.Close()
	_, _, views := watch(t, cc, 100*time.Millisecond)
	v := until(t, views, "three masters", func(v *View) bool { return v.AllUp() && len(v.Masters) == 3 && v.Owners != nil })
	for s, id := range v.Owners {
		if id == "" {
			t.Fatalf("slot %d has no agreed owner", s)
		}
	}

	// A fourth master: a new node meets the cluster and takes one empty slot.
	bus, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	n := redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "1000")
	ctx := context.Background()
	node := redis.NewClient(&redis.Options{Addr: n.Addr()})
	defer node.Close()
	old := cl.Masters()[0]
	src := redis.NewClient(&redis.Options{Addr: old.Addr()})
	defer src.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The harness's nodes have bus ports of their own: MEET names it.
	cport := ""
	for line := range strings.Lines(src.ClusterNodes(ctx).Val()) {
		if strings.Contains(line, "myself") {
			_, rest, _ := strings.Cut(strings.Fields(line)[1], "@")
			cport, _, _ = strings.Cut(rest, ",")
		}
	}
	must(node.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(old.Port), cport).Err())
	newID, err := node.ClusterMyID(ctx).Result()
	must(err)
	srcID, err := src.ClusterMyID(ctx).Result()
	must(err)
	slot := -1
	for s, id := range v.Owners {
		if id == srcID {
			slot = s
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !known(src, newID) {
		if time.Now().After(deadline) {
			t.Fatal("the new node never joined")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := strconv.Itoa(slot)
	must(node.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", srcID).Err())
	must(src.Do(ctx, "CLUSTER", "SETSLOT", s, "MIGRATING", newID).Err())
	must(node.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", newID).Err())
	must(src.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", newID).Err())

	v = until(t, views, "the new master", func(v *View) bool {
		return v.Owners != nil && v.Owners[slot] == newID && len(v.Masters) == 4
	})
	for _, m := range v.Masters {
		if m.Addr == n.Addr() && (m.ID != newID || m.Err != nil || m.Node == nil) {
			t.Fatalf("the new master as walked: %+v", m)
		}
	}
}

// known says whether c's CLUSTER NODES lists node id.
func known(c *redis.Client, id string) bool {
	nodes, _ := c.ClusterNodes(context.Background()).Result()
	return strings.Contains(nodes, id)
}
