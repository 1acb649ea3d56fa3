package cache

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/topology"
)

// Following a Cluster: the slot map the topology watcher's walk agreed
// (internal/topology: a majority of the masters), and the trackNodes that
// follow it.

// current reports whether sm may still be believed at mono time now: read
// less than the window plus a refresh period ago (the watcher walks at
// least once a second while the cache is on). A map that cannot be read
// again (no majority of the masters answers: this process is cut off with a
// minority of them, whose old master may still answer PINGs and claim its
// slots while the others promoted its replica) stops serving within that.
func (t *tracker) current(sm *slotMap, now int64) bool {
	return sm != nil && now-sm.read < int64(t.window+clusterRefresh)
}

// topologyChanged asks the topology watcher for a walk now (a Cluster
// node's subscription ended, or a read found the slot moved or the master
// gone).
func (t *tracker) topologyChanged() {
	if t.cc != nil && t.topo != nil {
		t.topo.Kick()
	}
}

// onView follows one walk of the topology watcher's (on its goroutine): the
// slot map the masters agree on becomes the cache's, the trackNodes follow
// it (new masters are started, masters that serve no slot are stopped), and
// entries of slots whose master changed are dropped. A walk without a
// majority of the masters' answers changes nothing: the map in hand ages
// out (current).
func (t *tracker) onView(v *topology.View) {
	if t.cc == nil || t.ctx.Err() != nil {
		return
	}
	if v.Owners == nil {
		if !t.failing {
			cause := v.Err
			if cause == nil {
				cause = errNoMajority
			}
			t.onError(fmt.Errorf("rjwt: local cache: reading the Cluster's slot map: %w", cause))
		}
		t.failing = true
		return
	}
	t.failing = false
	opts := map[string]*redis.Options{} // node ID → its client's options, for the masters that answered
	for _, m := range v.Masters {
		if m.Err == nil && m.ID != "" && m.Node != nil {
			opts[m.ID] = m.Node.Options()
		}
	}
	read := t.cache.now() - int64(time.Since(v.Started))
	if next, moved := t.apply(v.Owners, opts, read); moved {
		// Not under t.mu: a walk of the whole cache. Its entries of moved
		// slots already stopped answering (serves); this frees them.
		t.cache.dropMoved(next)
	}
}

var errNoMajority = errors.New("no majority of the masters answered CLUSTER SLOTS")

// apply makes the agreed owners (node IDs; "" none, or disputed) the
// current slot map, read at mono time read, starting and stopping
// trackNodes to follow it, and reports whether any slot changed master.
func (t *tracker) apply(owner []string, opts map[string]*redis.Options, read int64) (*slotMap, bool) {
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
		if id == "" {
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
