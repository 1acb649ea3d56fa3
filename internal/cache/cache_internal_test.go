package cache

import (
	"math"
	"testing"
)

// TestCacheTrustPerNode: on a Cluster an entry answers only while the
// master it was read from is trusted, has not dropped its entries since,
// and still serves the entry's slot in the current slot map; losing one
// master drops its entries only, and a new slot map drops the entries of
// the slots that moved.
func TestCacheTrustPerNode(t *testing.T) {
	lc := newLocalCache(100)
	tr := &tracker{cache: lc}
	lc.tracker = tr
	a, b := &trackNode{key: "a"}, &trackNode{key: "b"}
	a.hitUntil.Store(math.MaxInt64)
	b.hitUntil.Store(math.MaxInt64)
	sm := &slotMap{read: lc.now()}
	sm.owner[1], sm.owner[2], sm.owner[3] = a, a, b
	tr.slots.Store(sm)
	put := func(id string, n *trackNode, slot int) {
		s := lc.shard(id)
		s.mu.Lock()
		s.put(&cacheEntry{session: id + ":s", id: id, node: n, epoch: n.epoch.Load(), slot: slot})
		s.mu.Unlock()
	}
	served := func(id string) bool {
		_, ok := lc.get(id, id+":s", false)
		return ok
	}
	put("u1", a, 1)
	put("u2", a, 2)
	put("u3", b, 3)
	for _, id := range []string{"u1", "u2", "u3"} {
		if !served(id) {
			t.Fatalf("%s not served", id)
		}
	}

	// Slot 2 moves to b: u2's entry (read on a) stops answering at once,
	// and the new map's drop removes it; the others stay.
	next := &slotMap{read: lc.now()}
	next.owner[1], next.owner[2], next.owner[3] = a, b, b
	tr.slots.Store(next)
	if served("u2") {
		t.Fatal("an entry read on the slot's old master answered")
	}
	lc.dropMoved(next)
	if !served("u1") || !served("u3") || lc.len() != 2 {
		t.Fatalf("dropMoved: u1 %v, u3 %v, %d entries", served("u1"), served("u3"), lc.len())
	}

	// a is lost: its entries go (one flush), b's stay.
	a.trusted = true // given earlier, now lost
	a.until = 0
	tr.update(a)
	if served("u1") || !served("u3") || lc.len() != 1 || lc.flushes.Load() != 1 {
		t.Fatalf("a lost: u1 %v, u3 %v, %d entries, %d flushes", served("u1"), served("u3"), lc.len(), lc.flushes.Load())
	}

	// An entry whose node dropped its entries since it was read (a fill
	// that raced the drop) never answers.
	put("u4", b, 3)
	b.epoch.Add(1)
	if served("u4") {
		t.Fatal("an entry of an older epoch answered")
	}
	// A slot nobody is known to serve answers nothing.
	put("u5", b, 3)
	tr.slots.Store(&slotMap{read: lc.now()})
	if served("u5") {
		t.Fatal("an entry of a slot with no master answered")
	}

	// A map not read again for the window plus a refresh period (no
	// majority of the masters answers) stops answering, even for a master
	// that is trusted and named the slot's owner.
	put("u6", b, 3)
	fresh := &slotMap{read: lc.now()}
	fresh.owner[3] = b
	tr.slots.Store(fresh)
	if !served("u6") {
		t.Fatal("u6 not served by a current map")
	}
	stale := &slotMap{read: lc.now() - int64(tr.window+clusterRefresh)}
	stale.owner[3] = b
	tr.slots.Store(stale)
	if served("u6") {
		t.Fatal("an entry answered from a slot map too old to believe")
	}
	if n, _ := tr.node("u6"); n != nil {
		t.Fatal("a stale map named a node for a miss")
	}
}
