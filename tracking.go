package rjwt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Invalidation for the local cache (WithLocalCache) comes from Redis's
// server-assisted client-side caching, in default (not BCAST) mode with
// REDIRECT:
//
//   - per node (one standalone server, or each master of a Cluster) a
//     trackNode holds one pub/sub connection subscribed to
//     __redis__:invalidate, in RESP2, and a heartbeat PING on it;
//   - cache misses are read through a "reads" client of rjwt's own whose
//     every connection runs CLIENT TRACKING on REDIRECT <that node's
//     subscriber id> when it connects, so Redis remembers which of rjwt's
//     keys this process has read and tells the subscriber when any of them
//     changes, expires or is evicted.
//
// Why this and not BCAST or keyspace notifications: both broadcast every
// write under the prefix to every subscribed process (every Sign of every
// user, to every app server of a fleet), while default tracking tells only
// the processes that read the key, at the cost of Redis's tracking table
// (bounded by tracking-table-max-keys, default 1M keys; past it Redis
// evicts entries and sends their invalidations, which is safe). Neither
// tracking mode needs CONFIG SET, which managed Redis services refuse;
// keyspace notifications do. RESP2 REDIRECT rather than RESP3 pushes on the
// reading connections: go-redis reads an idle pooled connection only when
// it is next used, so pushes on it would wait; a dedicated reader does not.
//
// Trust. The cache answers only while every node's invalidations are known
// to arrive: confirmed by a PONG to a heartbeat PING sent at most the cache
// window (WithCacheWindow, 1 s by default) ago. Redis sends invalidations
// and the PONG in order on one connection, so a PONG to a PING sent at t
// proves that every invalidation of a write before t has been applied.
// A broken subscription (CLIENT KILL, a restart, a failover) flushes the
// cache at once; a silent network stops the PONGs, and hits stop when the
// last confirmation is a window old: a revocation is seen at most one
// window after it, whatever happens to the network. When trust returns the
// cache starts empty.

// trackNode is the invalidation connection of one node.
type trackNode struct {
	addr string
	opts *redis.Options // the node's options, for its subscriber

	id      atomic.Int64                 // the subscriber's CLIENT ID while subscribed, else 0
	reads   atomic.Pointer[redis.Client] // misses read through it; nil while none
	readsID atomic.Int64                 // CLIENT ID of reads' one connection
	until   int64                        // under tracker.mu: mono ns up to which it is trusted; 0 lost
}

// tracker runs the trackNodes and owns the trust state.
type tracker struct {
	ctx    context.Context // canceled by stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	c      *Client
	cache  *localCache
	window time.Duration
	nodes  []*trackNode

	mu      sync.Mutex
	trusted bool                       // trust was given and not yet withdrawn
	retired map[*redis.Client]struct{} // old reads clients, closed after the timeout
	subs    map[*redis.PubSub]struct{} // open subscriptions, closed by stop
}

// cacheRefused is set once Redis refuses CLIENT TRACKING (Redis < 6, or a
// proxy that does not pass it): the cache then stays off.
var errTrackingRefused = errors.New("rjwt: local cache: Redis refused CLIENT TRACKING; the cache is off")

// startTracking starts the invalidation connections. Only a *redis.Client
// (single node, or Sentinel failover) is tracked so far; on a Cluster the
// cache stays bypassed (every Verify asks Redis) and an EventError says so.
func (c *Client) startTracking(window time.Duration) {
	t := &tracker{c: c, cache: c.cache, window: window, subs: map[*redis.PubSub]struct{}{}, retired: map[*redis.Client]struct{}{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	c.cache.tracker = t
	rc, ok := c.rdb.(*redis.Client)
	if !ok {
		c.emit(Event{Type: EventError, Err: fmt.Errorf("rjwt: local cache: a %T is not tracked yet (only a single node or Sentinel failover client): Verify asks Redis every time", c.rdb)})
		return
	}
	opts := rc.Options()
	t.nodes = []*trackNode{{addr: opts.Addr, opts: opts}}
	t.wg.Add(len(t.nodes))
	for _, n := range t.nodes {
		go t.run(n)
	}
}

// stop ends the trackNodes' goroutines and closes every connection of the
// cache's.
func (t *tracker) stop() {
	t.cancel()
	t.mu.Lock()
	for ps := range t.subs {
		ps.Close() // unblocks Receive
	}
	t.mu.Unlock()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cache.setUntil(0)
	for r := range t.retired {
		r.Close()
	}
	clear(t.retired)
}

// node is the trackNode that serves session keys of user id, or nil.
func (t *tracker) node(id string) *trackNode {
	if len(t.nodes) == 1 {
		return t.nodes[0]
	}
	return nil
}

// clone copies go-redis options for a client of rjwt's own on the same
// server: same address, dialer, credentials, TLS and database, RESP2, no
// retries (a failed miss falls back to an ordinary Verify), and onConnect
// after the user's own OnConnect.
func clone(o *redis.Options, onConnect func(context.Context, *redis.Conn) error) *redis.Options {
	n := *o
	n.Protocol = 2
	n.MaxRetries = -1
	n.ContextTimeoutEnabled = true
	n.MaintNotificationsConfig = nil
	n.ClientSideCacheConfig = nil
	user := o.OnConnect
	n.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if user != nil {
			if err := user(ctx, cn); err != nil {
				return err
			}
		}
		return onConnect(ctx, cn)
	}
	return &n
}

// run keeps one node's subscriber alive: each session subscribes on a
// fresh connection, learns its id, has the reads client rebuilt to redirect
// to it, then PINGs every quarter window and applies invalidations until
// the connection fails or the client closes.
func (t *tracker) run(n *trackNode) {
	defer t.wg.Done()
	backoff := 50 * time.Millisecond
	for t.ctx.Err() == nil {
		err := t.session(n)
		t.lose(n)
		if t.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errTrackingRefused) {
			t.c.emit(Event{Type: EventError, Err: err})
			return
		}
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 500*time.Millisecond)
		if err == nil {
			backoff = 50 * time.Millisecond
		}
	}
}

// session is one subscriber connection's life. It returns when the
// connection fails (nil after it was confirmed at least once).
func (t *tracker) session(n *trackNode) error {
	ctx := t.ctx
	var id atomic.Int64
	o := clone(n.opts, func(ctx context.Context, cn *redis.Conn) error {
		v, err := cn.ClientID(ctx).Result()
		id.Store(v)
		return err
	})
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
	sub := redis.NewClient(o)
	defer sub.Close()
	sctx, cancel := context.WithTimeout(ctx, t.window+time.Second)
	ps := sub.Subscribe(sctx, "__redis__:invalidate")
	t.mu.Lock()
	t.subs[ps] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.subs, ps)
		t.mu.Unlock()
		ps.Close()
	}()
	if ctx.Err() != nil {
		cancel()
		return nil // stopped while subscribing: stop may have missed ps
	}
	msg, err := ps.ReceiveTimeout(sctx, t.window+time.Second)
	cancel()
	if err != nil {
		return err
	}
	if s, ok := msg.(*redis.Subscription); !ok || s.Kind != "subscribe" {
		return fmt.Errorf("rjwt: local cache: unexpected subscription reply %v", msg)
	}
	myID := id.Load()
	reads, readsID, err := t.redirect(n, myID)
	if err != nil {
		return err
	}
	defer t.retire(n, reads)

	interval := max(t.window/4, time.Millisecond)
	sent := map[string]int64{} // outstanding PINGs: payload → mono ns sent
	var seq uint64
	next := t.cache.now()
	confirmed := false
	for {
		now := t.cache.now()
		if now >= next {
			// The reads connection first: tracking lives with the
			// connection that read, so a PONG on the subscriber proves
			// nothing once it is gone. A PONG to this round's PING then
			// vouches for both, from the time the reads PING was sent.
			seq++
			p := strconv.FormatUint(seq, 10)
			pctx, pcancel := context.WithTimeout(ctx, t.window)
			err := reads.Ping(pctx).Err()
			if err == nil && n.readsID.Load() != readsID {
				err = errors.New("rjwt: local cache: the tracked connection was replaced")
			}
			if err == nil {
				err = ps.Ping(pctx, p)
			}
			pcancel()
			if err != nil {
				return t.ended(confirmed, err)
			}
			sent[p] = now
			next = now + int64(interval)
			for k, at := range sent { // forget PINGs too old to confirm anything
				if now-at > int64(t.window) {
					delete(sent, k)
				}
			}
		}
		t.checkLapse(n, now)
		rctx, rcancel := context.WithTimeout(ctx, t.window+time.Second)
		msg, err := ps.ReceiveTimeout(rctx, time.Duration(max(next-t.cache.now(), int64(time.Millisecond))))
		rcancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return t.ended(confirmed, err)
		}
		if id.Load() != myID || n.readsID.Load() != readsID {
			// go-redis reconnected under us: the new connection is not the
			// one the reads client redirects to.
			return t.ended(confirmed, errors.New("rjwt: local cache: the invalidation connection was replaced"))
		}
		switch m := msg.(type) {
		case *redis.Pong:
			if at, ok := sent[m.Payload]; ok {
				delete(sent, m.Payload)
				t.confirm(n, at)
				confirmed = true
			}
		case *redis.Message:
			if m.Payload == "" && m.PayloadSlice == nil {
				// A null invalidation: FLUSHALL/FLUSHDB, or tracking turned
				// off. Everything may have changed.
				t.cache.flushAll(false)
				continue
			}
			keys := m.PayloadSlice
			if keys == nil {
				keys = []string{m.Payload}
			}
			for _, k := range keys {
				t.cache.invalidateKey(k)
			}
		case *redis.Subscription:
			return t.ended(confirmed, errors.New("rjwt: local cache: the invalidation connection was resubscribed"))
		}
	}
}

func (t *tracker) ended(confirmed bool, err error) error {
	if confirmed {
		return nil
	}
	return err
}

// redirect makes node n's reads client for its new subscriber: one
// connection that turns tracking on with REDIRECT to subscriber id when it
// connects. It checks that the server accepts CLIENT TRACKING, and returns
// the client and its connection's id.
func (t *tracker) redirect(n *trackNode, id int64) (*redis.Client, int64, error) {
	n.id.Store(id)
	o := clone(n.opts, func(ctx context.Context, cn *redis.Conn) error {
		if err := cn.Do(ctx, "CLIENT", "TRACKING", "on", "REDIRECT", id).Err(); err != nil {
			return err
		}
		v, err := cn.ClientID(ctx).Result()
		n.readsID.Store(v)
		return err
	})
	// One connection, never reaped: the keys Redis tracks are the
	// connection's, and a new connection starts with none.
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 1, 1
	o.ConnMaxIdleTime, o.ConnMaxLifetime = -1, 0
	reads := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(t.ctx, t.window+time.Second)
	err := reads.Ping(ctx).Err()
	cancel()
	if err != nil {
		reads.Close()
		var re redis.Error
		if errors.As(err, &re) && (strings.HasPrefix(re.Error(), "ERR ") || strings.HasPrefix(re.Error(), "NOPERM")) {
			return nil, 0, fmt.Errorf("%w: %v", errTrackingRefused, err)
		}
		return nil, 0, err
	}
	n.reads.Store(reads)
	return reads, n.readsID.Load(), nil
}

// retire takes a session's reads client out of use and closes it after the
// call timeout, so misses in flight on it finish (their answers are not
// remembered: the cache was flushed since).
func (t *tracker) retire(n *trackNode, reads *redis.Client) {
	n.reads.CompareAndSwap(reads, nil)
	t.mu.Lock()
	t.retired[reads] = struct{}{}
	t.mu.Unlock()
	time.AfterFunc(t.c.st.Timeout()+time.Second, func() {
		t.mu.Lock()
		_, ok := t.retired[reads]
		delete(t.retired, reads)
		t.mu.Unlock()
		if ok {
			reads.Close()
		}
	})
}

// confirm records that every invalidation Redis sent node n before it saw a
// PING sent at mono time at has been applied.
func (t *tracker) confirm(n *trackNode, at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n.until = max(n.until, at+int64(t.window))
	t.update()
}

// lose withdraws node n's trust (its connection failed): the cache is
// flushed at once.
func (t *tracker) lose(n *trackNode) {
	n.id.Store(0)
	t.mu.Lock()
	defer t.mu.Unlock()
	n.until = 0
	t.update()
}

// checkLapse withdraws trust that ran out without a PONG (a silent
// network), so the cache is flushed and counted even before the connection
// is known dead. Hits stop at the deadline by themselves.
func (t *tracker) checkLapse(n *trackNode, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.trusted && n.until != 0 && now >= n.until {
		t.update()
	}
}

// update recomputes the cache's deadline from the nodes' under t.mu. Trust
// lost, or found lapsed, flushes the cache: whatever was learned before may
// have missed an invalidation.
func (t *tracker) update() {
	until := int64(0)
	for i, n := range t.nodes {
		if i == 0 || n.until < until {
			until = n.until
		}
	}
	now := t.cache.now()
	if t.trusted && (until <= now || t.cache.until.Load() <= now) {
		// Lost, or lapsed (no PONG for a window) even if a late one is
		// here now: start again from an empty cache.
		t.trusted = false
		t.cache.setUntil(0)
		t.cache.flushAll(true)
	}
	if until > now {
		if !t.trusted {
			t.cache.flushAll(false) // nothing learned while untrusted is kept
			t.trusted = true
		}
		t.cache.setUntil(until)
	}
}
