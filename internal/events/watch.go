package events

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/topology"
)

// What the monitor learns from the topology watcher's walks.

// onView is the watcher's report of one walk (on its goroutine): a fact
// for the monitor.
func (m *Monitor) onView(v *topology.View) { m.tell(fact{kind: walked, view: v}) }

// kickProbe asks the watcher to walk now.
func (m *Monitor) kickProbe() { m.st.MarkSuspect() }

// walked applies one walk: on a single node or Sentinel whether the node
// answered, on a Cluster which masters serve slots and which answered.
func (st *state) walked(v *topology.View) {
	if v.Cluster {
		st.mastersProbed(v)
		return
	}
	if err := v.Masters[0].Err; err != nil {
		st.lost(err, all)
		return
	}
	st.answered()
}

// checkEvictionPolicy reports, off the monitor's goroutine, a
// maxmemory-policy that can evict rjwt's keys (every key rjwt writes has a
// TTL, so volatile-* policies can too). rjwt stays correct (an evicted index
// logs its user out), but users are logged out for Redis's memory. Where
// CONFIG is refused it says nothing. Asked each time Redis answers after it
// did not.
func (m *Monitor) checkEvictionPolicy() {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, 2*time.Second)
		defer cancel()
		res, err := m.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			return
		}
		if p := res["maxmemory-policy"]; p != "" && p != "noeviction" {
			m.emit(Error, "", fmt.Errorf("rjwt: maxmemory-policy is %q, which can evict rjwt's keys: an evicted session index logs its user out; use noeviction", p))
		}
	}()
}

// db is the database the client's keys live in (0 on a Cluster).
func (m *Monitor) db() int {
	if rc, ok := m.rdb.(*redis.Client); ok {
		return rc.Options().DB
	}
	return 0
}
