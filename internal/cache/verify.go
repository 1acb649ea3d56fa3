package cache

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// verify is Verify's Redis step with the cache: a hit, or one shared
// request to Redis per session whose live answer is remembered.
// Verify answers whether session id:nano (named session) is live, and its
// data with withData: from memory when a trusted entry has it, else from
// Redis (a miss shared by concurrent callers, read through the tracked
// connection and remembered when nothing changed meanwhile).
func (c *Cache) Verify(ctx context.Context, id, nano, session string, withData bool) (bool, []byte, error) {
	lc := c.lc
	if !lc.tracker.readAhead(id) {
		return c.st.Verify(ctx, id, nano, withData) // an invalidation is arriving
	}
	s := lc.shard(id)
	s.mu.Lock()
	// The look and, on a miss, the shared request are decided under one
	// lock: a caller that missed just as a fill ended would otherwise start
	// a second request for an answer now remembered.
	if data, ok := lc.getLocked(s, session, withData); ok {
		s.mu.Unlock()
		return true, data, nil
	}
	s.misses++
	now := lc.now()
	n, slot := lc.tracker.node(id)
	var reads *redis.Client
	if n != nil {
		reads = n.reads.Load()
	}
	if n == nil || !n.usable(now) || reads == nil {
		// No trusted node serves the user's slot (on a Cluster: unknown,
		// lost, or moving): an ordinary Verify.
		s.mu.Unlock()
		return c.st.Verify(ctx, id, nano, withData)
	}
	call := s.inflight[session]
	if call == nil {
		call = &missCall{done: make(chan struct{})}
		s.inflight[session] = call
		gen, epoch := s.gen, n.epoch.Load()
		c.fills.Add(1)
		go c.fill(s, call, n, reads, id, nano, session, slot, gen, epoch)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return false, nil, c.st.Wrap("verify", ctx.Err())
	}
	if call.err != nil {
		// The tracked read failed (its connection, or a new reads client
		// being set up): ask the ordinary way, which reports Redis's state.
		return c.st.Verify(ctx, id, nano, withData)
	}
	t := call.t
	if !t.Live || (withData && !t.HasData) {
		return false, nil, nil
	}
	var data []byte
	if withData && t.Data != nil {
		data = append([]byte(nil), t.Data...)
	}
	return true, data, nil
}

// fill runs one shared miss on node n and remembers a live answer unless
// the session may have changed since the request was sent: an invalidation
// in its shard (the reply and the invalidation travel on different
// connections, so the invalidation can arrive first) or a drop of n's
// entries.
func (c *Cache) fill(s *cacheShard, call *missCall, n *trackNode, reads *redis.Client, id, nano, session string, slot int, gen, epoch uint64) {
	defer c.fills.Done()
	lc := c.lc
	ctx, cancel := c.st.Bound(c.ctx)
	defer cancel()
	sent := lc.now()
	readsID := n.readsID.Load()
	call.t, call.err = c.st.VerifyTTL(ctx, reads, id, nano)
	if call.err == nil && call.t.Live && call.t.Left == 0 {
		// An idle session due for extension: seen.lua extends it (and
		// records the use), in one more round trip, not Check's two; the
		// answer is not cached, the next miss is.
		var r store.CheckResult
		r, call.err = c.st.Record(ctx, id, nano)
		call.t.Live = r.Live
	}
	if n.readsID.Load() != readsID {
		// go-redis redialed the tracked connection: what the old one
		// tracked is no longer watched.
		lc.tracker.lose(n)
	}
	if call.err != nil && store.TopologyMayHaveChanged(call.err) {
		lc.tracker.topologyChanged() // MOVED, ASK, the master gone
	}
	s.mu.Lock()
	delete(s.inflight, session)
	if call.err == nil && call.t.Live && call.t.Left != 0 && s.gen == gen {
		e := &cacheEntry{session: session, id: id, data: call.t.Data, hasData: call.t.HasData, node: n, epoch: epoch, slot: slot}
		// Trusted until the session's expiry in Redis, and never longer
		// than MaxAge without Redis confirming it again.
		e.expires = sent + int64(MaxAge)
		if call.t.Left > 0 && call.t.Left < MaxAge {
			e.expires = sent + int64(call.t.Left)
		}
		if lc.tracker.serves(e, lc.now()) { // the rule every hit checks
			s.put(e)
		}
	}
	s.mu.Unlock()
	close(call.done)
}
