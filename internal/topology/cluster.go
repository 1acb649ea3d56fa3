package topology

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

// Walking a Cluster.

var errNoMaster = errors.New("rjwt: cluster: no master serves slots")

// clusterState is what the walks remember of a Cluster; only the watcher's
// goroutine touches it.
type clusterState struct {
	nodes   []*redis.Client          // the masters walked: go-redis's clients
	ids     map[*redis.Client]string // each client's node ID, once it answered
	refresh bool                     // ask go-redis for its masters at the next walk
}

// answer is one master's reply to a walk.
type answer struct {
	node  *redis.Client
	id    string
	slots []redis.ClusterSlot
	err   error
}

// walkCluster walks the masters it knows, or go-redis's list of them when
// it knows none or was told to reload, and once more with go-redis's list
// when the answers name a master it has no client for.
func (w *Watcher) walkCluster() *View {
	cs := &w.cluster
	started := time.Now()
	reloaded := cs.refresh || len(cs.nodes) == 0
	answers, err := w.ask(reloaded)
	v := w.agree(answers, err, started)
	if !reloaded && cs.refresh && w.ctx.Err() == nil {
		answers, err = w.ask(true)
		v = w.agree(answers, err, started)
	}
	return v
}

// ask runs one walk's round trip on each master: the known ones, or with
// reload go-redis's list (ForEachMaster, which reloads its slot map first).
func (w *Watcher) ask(reload bool) ([]answer, error) {
	var mu sync.Mutex
	var answers []answer
	one := func(node *redis.Client) {
		a := w.askNode(node)
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
	}
	if !reload {
		var wg sync.WaitGroup
		for _, node := range w.cluster.nodes {
			wg.Go(func() { one(node) })
		}
		wg.Wait()
		return answers, nil
	}
	w.cluster.refresh = false
	// Listing reloads go-redis's slot map from the first node that answers,
	// trying the others in turn (a dead one costs its dial retries), so it
	// gets a longer bound than one master's round trip.
	lctx, cancel := context.WithTimeout(w.ctx, max(w.timeout(), 2*time.Second))
	defer cancel()
	err := w.cc.ForEachMaster(lctx, func(_ context.Context, node *redis.Client) error {
		one(node)
		return nil
	})
	if err == nil && len(answers) == 0 {
		err = errNoMaster
	}
	if err != nil {
		w.cluster.refresh = true
		return nil, fmt.Errorf("rjwt: cluster: listing masters: %w", err)
	}
	w.cluster.nodes = w.cluster.nodes[:0]
	for _, a := range answers {
		w.cluster.nodes = append(w.cluster.nodes, a.node)
	}
	return answers, nil
}

// askNode sends one master CLUSTER MYID and CLUSTER SLOTS in one pipeline.
func (w *Watcher) askNode(node *redis.Client) answer {
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout())
	defer cancel()
	pipe := node.Pipeline()
	myID, slots := pipe.ClusterMyID(ctx), pipe.ClusterSlots(ctx)
	_, err := pipe.Exec(ctx)
	if store.BrokenConn(err) && w.ctx.Err() == nil {
		// That connection broke (an idle reset, CLIENT KILL): once more on
		// another says whether the master is down.
		pipe = node.Pipeline()
		myID, slots = pipe.ClusterMyID(ctx), pipe.ClusterSlots(ctx)
		_, err = pipe.Exec(ctx)
	}
	if err != nil {
		if errors.Is(err, redis.ErrClosed) {
			w.cluster.refresh = true // go-redis dropped that client: ask it for its masters
		}
		return answer{node: node, err: err}
	}
	return answer{node: node, id: myID.Val(), slots: slots.Val()}
}

// agree makes a walk's View: the slot owners every master that answered
// names (when a majority answered), the masters serving slots, and a reload
// of go-redis's list at the next walk when an owner has no client here.
func (w *Watcher) agree(answers []answer, err error, started time.Time) *View {
	cs := &w.cluster
	v := &View{Cluster: true, Err: err, Started: started}
	if err != nil {
		return v
	}
	clients := map[string]*redis.Client{} // node ID → client
	ok := 0
	for _, a := range answers {
		if a.err == nil {
			cs.ids[a.node] = a.id
			ok++
		}
		if id := cs.ids[a.node]; id != "" {
			clients[id] = a.node
		}
	}
	owner, addrs := owners(answers)
	if 2*ok > len(answers) {
		// A minority may be the side of a partition the Cluster has failed
		// over away from: its view is not believed.
		v.Owners = owner
	}
	serving := map[string]bool{}
	for _, id := range v.Owners {
		if id == "" || serving[id] {
			continue
		}
		serving[id] = true
		if clients[id] != nil {
			continue
		}
		// Not answering since before this walk knew its ID (down from the
		// start): its client, by the address the others give for it.
		for _, a := range answers {
			if a.err != nil && cs.ids[a.node] == "" && a.node.Options().Addr == addrs[id] {
				cs.ids[a.node], clients[id] = id, a.node
			}
		}
		if clients[id] == nil {
			cs.refresh = true // a master this walk has no client for
		}
	}
	keep := cs.nodes[:0]
	for _, a := range answers {
		id := cs.ids[a.node]
		if v.Owners != nil && a.err == nil && !serving[id] {
			continue // serves no slot (a demoted master, an empty one): not walked
		}
		keep = append(keep, a.node)
		v.Masters = append(v.Masters, Master{Addr: a.node.Options().Addr, ID: id, Node: a.node, Err: a.err})
	}
	cs.nodes = keep
	for node := range cs.ids {
		if !slices.Contains(keep, node) {
			delete(cs.ids, node)
		}
	}
	slices.SortFunc(v.Masters, func(a, b Master) int { return strings.Compare(a.Addr, b.Addr) })
	if len(v.Masters) == 0 {
		v.Err = errNoMaster
	}
	if v.Owners != nil {
		addrs := make([]string, len(v.Masters))
		for i, m := range v.Masters {
			addrs[i] = m.Addr
		}
		w.st.KeepClocks(addrs)
	}
	return v
}

// owners is each slot's master by node ID, as every answer names it (""
// where they disagree or none does), and the address each answer gives for
// each master.
func owners(answers []answer) ([]string, map[string]string) {
	addrs := map[string]string{}
	owner := make([]string, store.SlotCount)
	mine := make([]string, store.SlotCount)
	first := true
	for _, a := range answers {
		if a.err != nil {
			continue
		}
		clear(mine)
		for _, r := range a.slots {
			if len(r.Nodes) == 0 || r.Start < 0 || r.End >= store.SlotCount || r.Start > r.End {
				continue
			}
			addrs[r.Nodes[0].ID] = r.Nodes[0].Addr
			for s := r.Start; s <= r.End; s++ {
				mine[s] = r.Nodes[0].ID
			}
		}
		if first {
			copy(owner, mine)
			first = false
			continue
		}
		for s := range owner {
			if owner[s] != mine[s] {
				owner[s] = ""
			}
		}
	}
	return owner, addrs
}
