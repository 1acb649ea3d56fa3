package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// Following a Cluster: the slot map, read from a majority of the masters,
// and the trackNodes that follow it.

// current reports whether sm may still be believed at mono time now: read
// less than the window plus a refresh period ago. A map that cannot be read
// again (no majority of the masters answers: this process is cut off with a
// minority of them, whose old master may still answer PINGs and claim its
// slots while the others promoted its replica) stops serving within that.
func (t *tracker) current(sm *slotMap, now int64) bool {
	return sm != nil && now-sm.read < int64(t.window+clusterRefresh)
}

// topologyChanged asks for the slot map to be read again now (a Cluster
// node's subscription ended, or a read found the slot moved or the master
// gone).
func (t *tracker) topologyChanged() {
	if t.cc == nil {
		return
	}
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// follow keeps the Cluster's trackNodes and slot map in step with the
// Cluster: it reads the slot map every clusterRefresh, and at once (at most
// every 100ms) when asked.
func (t *tracker) follow() {
	defer t.wg.Done()
	failing := false
	for {
		err := t.refresh()
		if t.ctx.Err() != nil {
			return
		}
		if err != nil && !failing {
			t.onError(fmt.Errorf("rjwt: local cache: reading the Cluster's slot map: %w", err))
		}
		failing = err != nil
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		timer := time.NewTimer(clusterRefresh - 100*time.Millisecond)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-t.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// refresh reads the slot map once: each master go-redis knows (ForEachMaster,
// which also reloads go-redis's own map) says who it is (CLUSTER MYID) and
// what serves each slot (CLUSTER SLOTS). A slot's owner is the master every
// answer names; slots the answers disagree on, or whose master did not
// answer and is not tracked yet, have none. Then the trackNodes follow the
// map: new masters are started, masters that serve no slot are stopped, and
// entries of slots whose master changed are dropped.
func (t *tracker) refresh() error {
	ctx, cancel := context.WithTimeout(t.ctx, 2*time.Second)
	defer cancel()
	type answer struct {
		id    string
		opts  *redis.Options
		slots []redis.ClusterSlot
	}
	var mu sync.Mutex
	var answers []answer
	asked := 0
	read := t.cache.now()
	err := t.cc.ForEachMaster(ctx, func(ctx context.Context, cl *redis.Client) error {
		mu.Lock()
		asked++
		mu.Unlock()
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return nil // not answering: its slots keep their node, if tracked
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		if err != nil {
			return nil
		}
		mu.Lock()
		answers = append(answers, answer{id, cl.Options(), slots})
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if 2*len(answers) <= asked {
		// A minority may be the side of a partition the Cluster has
		// failed over away from: its view is not believed, and the map
		// in hand ages out (current).
		return fmt.Errorf("%d of %d masters answered CLUSTER SLOTS", len(answers), asked)
	}
	// Agree on each slot's owner, by node ID.
	owner := make([]string, store.SlotCount)
	disputed := make([]bool, store.SlotCount)
	mine := make([]string, store.SlotCount)
	opts := map[string]*redis.Options{} // node ID → its client's options
	for i, a := range answers {
		opts[a.id] = a.opts
		clear(mine)
		for _, r := range a.slots {
			if len(r.Nodes) == 0 || r.Start < 0 || r.End >= store.SlotCount || r.Start > r.End {
				continue
			}
			for s := r.Start; s <= r.End; s++ {
				mine[s] = r.Nodes[0].ID
			}
		}
		if i == 0 {
			copy(owner, mine)
			continue
		}
		for s := range owner {
			if owner[s] != mine[s] {
				disputed[s] = true
			}
		}
	}

	if next, moved := t.apply(owner, disputed, opts, read); moved {
		// Not under t.mu: a walk of the whole cache. Its entries of moved
		// slots already stopped answering (serves); this frees them.
		t.cache.dropMoved(next)
	}
	return nil
}

// apply makes the agreed owners the current slot map, read at mono time
// read, starting and stopping trackNodes to follow it, and reports whether
// any slot changed master.
func (t *tracker) apply(owner []string, disputed []bool, opts map[string]*redis.Options, read int64) (*slotMap, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil, false
	}
	byID := map[string]*trackNode{}
	for _, n := range t.nodes {
		id, _, _ := strings.Cut(n.key, "@")
		byID[id] = n
	}
	next := &slotMap{read: read}
	want := map[string]*trackNode{} // node ID → its trackNode, for the IDs serving slots
	for s, id := range owner {
		if id == "" || disputed[s] {
			continue
		}
		n, ok := want[id]
		if !ok {
			n = byID[id]
			if o := opts[id]; o != nil && (n == nil || n.key != id+"@"+o.Addr) {
				n = t.start(id+"@"+o.Addr, o) // a new master, or one at a new address
				t.nodes[n.key] = n
			}
			want[id] = n
		}
		next.owner[s] = n // nil: not answering and not tracked yet
	}
	for key, n := range t.nodes {
		id, _, _ := strings.Cut(key, "@")
		if want[id] != n {
			t.stopNode(n) // serves no slot now; its entries go when it ends
			delete(t.nodes, key)
		}
	}
	prev := t.slots.Load()
	t.slots.Store(next)
	return next, prev != nil && prev.owner != next.owner
}
