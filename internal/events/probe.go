package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// The prober: how the monitor learns whether Redis answers.

// kickProbe asks the prober to check Redis now.
func (m *Monitor) kickProbe() { m.st.MarkSuspect() }

// prober PINGs Redis every interval while it answers, and every 100ms (at
// most the interval) while it does not or a call found it down, and tells the
// monitor what it saw. An outage is noticed within one interval plus the
// ping's timeout (the interval, at least 200ms and at most 2s); a dropped
// subscription or a refused dial has it probed at once. On a Cluster each
// probe lists the masters (CLUSTER SLOTS, which also refreshes the client's
// slot map) and PINGs each.
func (m *Monitor) prober(interval time.Duration) {
	defer m.wg.Done()
	timeout := min(max(interval, 200*time.Millisecond), 2*time.Second)
	fast := min(interval, 100*time.Millisecond)
	wasUp := false
	for {
		ok := m.probe(timeout)
		if m.ctx.Err() != nil {
			return
		}
		if ok && !wasUp {
			m.checkEvictionPolicy()
		}
		wasUp = ok
		wait := interval
		if !ok {
			wait = fast
		}
		t := time.NewTimer(wait)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-m.st.Kicked():
			t.Stop()
		case <-t.C:
		}
	}
}

// probe checks Redis once, each PING bounded by timeout, tells the monitor,
// and reports whether all of it answered.
func (m *Monitor) probe(timeout time.Duration) bool {
	cc, ok := m.rdb.(*redis.ClusterClient)
	if !ok {
		ctx, cancel := context.WithTimeout(m.ctx, timeout)
		err := m.rdb.Ping(ctx).Err()
		cancel()
		if store.BrokenConn(err) && m.ctx.Err() == nil {
			// Only this connection broke (an idle reset, CLIENT KILL): one
			// PING on another says whether Redis is down.
			ctx, cancel := context.WithTimeout(m.ctx, timeout)
			err = m.rdb.Ping(ctx).Err()
			cancel()
		}
		if m.ctx.Err() != nil {
			return false
		}
		if err != nil {
			m.tell(fact{kind: probeFailed, err: err})
			return false
		}
		m.tell(fact{kind: probeOK})
		return true
	}
	// Listing the masters reloads the slot map from the first node that
	// answers, trying the others in turn (a dead one costs go-redis's dial
	// retries), so it gets a longer bound than a PING; when no node answers
	// in time, go-redis falls back to the map it has. Each master's PING has
	// a bound of its own, so that a slow listing or one dead master does not
	// make the others look down.
	lctx, lcancel := context.WithTimeout(m.ctx, max(timeout, 2*time.Second))
	defer lcancel()
	var mu sync.Mutex
	var masters []masterProbe
	err := cc.ForEachMaster(lctx, func(_ context.Context, node *redis.Client) error {
		ctx, cancel := context.WithTimeout(m.ctx, timeout)
		err := node.Ping(ctx).Err()
		cancel()
		mu.Lock()
		masters = append(masters, masterProbe{addr: node.Options().Addr, node: node, err: err})
		mu.Unlock()
		return nil
	})
	if m.ctx.Err() != nil {
		return false
	}
	if err == nil && len(masters) == 0 {
		err = errors.New("no master serves slots")
	}
	if err != nil {
		err = fmt.Errorf("rjwt: cluster: listing masters: %w", err)
	}
	slices.SortFunc(masters, func(a, b masterProbe) int { return strings.Compare(a.addr, b.addr) })
	m.tell(fact{kind: mastersProbed, masters: masters, err: err})
	if err != nil {
		return false
	}
	for _, m := range masters {
		if m.err != nil {
			return false
		}
	}
	return true
}

// checkEvictionPolicy reports a maxmemory-policy that can evict rjwt's keys
// (every key rjwt writes has a TTL, so volatile-* policies can too). rjwt
// stays correct (an evicted index logs its user out), but users are logged
// out for Redis's memory. Where CONFIG is refused it says nothing.
func (m *Monitor) checkEvictionPolicy() {
	ctx, cancel := context.WithTimeout(m.ctx, 2*time.Second)
	defer cancel()
	res, err := m.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return
	}
	if p := res["maxmemory-policy"]; p != "" && p != "noeviction" {
		m.emit(Error, "", fmt.Errorf("rjwt: maxmemory-policy is %q, which can evict rjwt's keys: an evicted session index logs its user out; use noeviction", p))
	}
}

// db is the database the client's keys live in (0 on a Cluster).
func (m *Monitor) db() int {
	if rc, ok := m.rdb.(*redis.Client); ok {
		return rc.Options().DB
	}
	return 0
}
