package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

func TestSentinel(t *testing.T) {
	start := time.Now()
	s := redistest.StartSentinel(t)
	t.Logf("master, replica and 3 sentinels up in %v", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	if len(s.SentinelAddrs()) != 3 {
		t.Fatalf("SentinelAddrs = %v", s.SentinelAddrs())
	}

	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    s.MasterName(),
		SentinelAddrs: s.SentinelAddrs(),
	})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old, replica := s.Master(), s.Replica()
	direct := redis.NewClient(&redis.Options{Addr: old.Addr()})
	if v, err := direct.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("the failover client did not write to the master %s: %q, %v", old.Addr(), v, err)
	}
	if n, err := direct.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d replicas, %v", n, err)
	}
	direct.Close()

	old.Kill()
	killed := time.Now()
	addr, err := s.WaitFailover(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failover %v after the kill", time.Since(killed).Round(time.Millisecond))
	if addr != replica.Addr() || s.Master() != replica || s.Replica() != old {
		t.Fatalf("new master %s, Master %s, Replica %s; want the old replica %s promoted",
			addr, s.Master().Addr(), s.Replica().Addr(), replica.Addr())
	}

	// The failover client follows the switch and finds the data replicated.
	var v string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = rdb.Set(ctx, "after", "2", 0).Err(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("SET through the failover client after the failover: %v", err)
	}
	t.Logf("client writes again %v after the kill", time.Since(killed).Round(time.Millisecond))
	if v, err = rdb.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("GET before on the new master = %q, %v", v, err)
	}
	onNew := redis.NewClient(&redis.Options{Addr: addr})
	defer onNew.Close()
	if v, err := onNew.Get(ctx, "after").Result(); err != nil || v != "2" {
		t.Fatalf("the write after the failover is not on the new master %s: %q, %v", addr, v, err)
	}
}
