package cache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// run keeps one node's subscriber alive: each session subscribes on a
// fresh connection, learns its id, has the reads client rebuilt to redirect
// to it, then beats (beatEvery) and applies invalidations until the
// connection fails or the client closes.
func (t *tracker) run(n *trackNode) {
	defer t.wg.Done()
	backoff := 50 * time.Millisecond
	for n.ctx.Err() == nil {
		err := t.session(n)
		t.lose(n)
		if err == nil || backoff == 50*time.Millisecond {
			// A Cluster master lost after it served, or at its first try:
			// has it failed over? (While it stays down, the periodic read
			// of the slot map is enough.)
			t.topologyChanged()
		}
		if n.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errTrackingRefused) {
			t.onError(err)
			return
		}
		select {
		case <-n.ctx.Done():
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
	s := &sess{t: t, n: n, alive: make(chan struct{}), w: newConnWatch(), sent: map[string]int64{}}
	defer s.end()
	if err := s.subscribe(); err != nil || n.ctx.Err() != nil {
		return err
	}
	if err := s.track(); err != nil {
		return err
	}
	return s.loop()
}

// sess is the state of one session of a node's: its connections, what its
// heartbeat sent, and the cleanups end runs.
type sess struct {
	t     *tracker
	n     *trackNode
	alive chan struct{} // closed as the session ends
	w     *connWatch
	undo  []func() // run last first by end

	id      atomic.Int64 // the subscriber's CLIENT ID, as its connection says
	pubsub  atomic.Pointer[redis.PubSub]
	ps      *redis.PubSub
	myID    int64 // the subscriber's CLIENT ID the reads redirect to
	reads   *redis.Client
	readsID int64
	can     *canary
	tracked string // with Sentinel: the run_id of the server this session reads

	sent      map[string]int64 // outstanding PINGs: payload → mono ns sent
	seq       uint64
	next      int64 // mono ns of the next heartbeat
	confirmed bool
}

func (s *sess) end() {
	s.t.lose(s.n) // trust goes first, before the cleanups' round trips
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
}

// died is the watch's report: a connection of this session's closed under
// it (the subscriber, or the tracked reads connection: Redis then forgot
// what this process read). Trust goes now, before go-redis has noticed;
// the session ends (closing ps wakes its Receive) and the next one starts
// afresh.
func (s *sess) died() {
	select {
	case <-s.alive:
		return // a redial of a retired client's
	default:
	}
	s.t.lose(s.n)
	if ps := s.pubsub.Load(); ps != nil {
		ps.Close()
	}
}

// subscribe opens the subscriber to __redis__:invalidate and waits for its
// confirmation.
func (s *sess) subscribe() error {
	t, n := s.t, s.n
	s.w.setApply(func(keys []string) { t.applyKeys(n, keys) })
	n.watch.Store(s.w)
	s.undo = append(s.undo, s.w.close, func() { close(s.alive) }) // alive closes first: run stops, then the watch closes
	o := clone(n.opts, func(ctx context.Context, cn *redis.Conn) error {
		v, err := cn.ClientID(ctx).Result()
		s.id.Store(v)
		return err
	})
	t.watched(o, s.alive, s.w, true)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		s.w.run(s.alive, s.died)
	}()
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
	sub := redis.NewClient(o)
	s.undo = append(s.undo, func() { sub.Close() })
	sctx, cancel := context.WithTimeout(n.ctx, t.window+time.Second)
	defer cancel()
	ps := sub.Subscribe(sctx, "__redis__:invalidate")
	s.ps = ps
	s.pubsub.Store(ps)
	t.mu.Lock()
	t.subs[ps] = n
	t.mu.Unlock()
	s.undo = append(s.undo, func() {
		t.mu.Lock()
		delete(t.subs, ps)
		t.mu.Unlock()
		ps.Close()
	})
	if n.ctx.Err() != nil {
		return nil // stopped while subscribing: stop may have missed ps
	}
	msg, err := ps.ReceiveTimeout(sctx, t.window+time.Second)
	if err != nil {
		return err
	}
	if sub, ok := msg.(*redis.Subscription); !ok || sub.Kind != "subscribe" {
		return fmt.Errorf("rjwt: local cache: unexpected subscription reply %v", msg)
	}
	return nil
}

// track makes the reads client that redirects to the subscriber, and what
// the heartbeat checks besides: the canary on one node (or Sentinel's
// master), the master's run_id with Sentinel.
func (s *sess) track() error {
	t, n := s.t, s.n
	s.myID = s.id.Load()
	reads, readsID, err := t.redirect(n, s.myID, s.alive, s.w)
	if err != nil {
		return err
	}
	s.reads, s.readsID = reads, readsID
	s.undo = append(s.undo, func() { t.retire(n, reads) })
	s.can = t.plantCanary(n.ctx, n, reads)
	s.undo = append(s.undo, func() { s.can.remove(reads) })
	if t.failover != nil {
		if s.tracked, err = runID(n.ctx, reads); err != nil {
			return err
		}
	}
	s.next = t.cache.now()
	return nil
}

// loop beats and applies invalidations until the session ends.
func (s *sess) loop() error {
	t, n, ctx := s.t, s.n, s.n.ctx
	for {
		now := t.cache.now()
		if now >= s.next {
			if err := s.beat(now); err != nil {
				return t.ended(s.confirmed, err)
			}
		}
		t.checkLapse(n, now)
		rctx, rcancel := context.WithTimeout(ctx, t.window+time.Second)
		msg, err := s.ps.ReceiveTimeout(rctx, time.Duration(max(s.next-t.cache.now(), int64(time.Millisecond))))
		rcancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return t.ended(s.confirmed, err)
		}
		if s.id.Load() != s.myID || n.readsID.Load() != s.readsID {
			// go-redis reconnected under us: the new connection is not the
			// one the reads client redirects to.
			return t.ended(s.confirmed, errors.New("rjwt: local cache: the invalidation connection was replaced"))
		}
		if err := s.apply(msg); err != nil {
			return t.ended(s.confirmed, err)
		}
	}
}

// beatEvery is how often a session beats: a quarter window, but not more
// than once a second unless the window is under two seconds (then every
// half window). Each beat is one read of the canary on the tracked
// connection and one PING on the subscriber, so at the default window
// (2 s) a master gets one of each a second; trust lasts a window from the
// PING, so a PONG may be late by half a window before hits stop.
func (t *tracker) beatEvery() time.Duration {
	return max(t.window/4, min(t.window/2, time.Second), time.Millisecond)
}

// beat is one heartbeat round. The reads connection first: tracking lives
// with the connection that read, so a PONG on the subscriber proves nothing
// once it is gone. A PONG to this round's PING then vouches for both, from
// the time the reads were checked.
func (s *sess) beat(now int64) error {
	t := s.t
	s.seq++
	p := strconv.FormatUint(s.seq, 10)
	ctx, cancel := context.WithTimeout(s.n.ctx, t.window)
	defer cancel()
	err := s.can.check(ctx, s.reads)
	if errors.Is(err, errCanaryMoved) {
		// On a Cluster the canary's slot went to another master: a new
		// one, in a slot this master serves.
		s.can.remove(s.reads)
		s.can, err = t.plantCanary(ctx, s.n, s.reads), nil
	}
	if err == nil && s.w.hungUp(s.next) {
		// A connection hung up before the session could close it
		// (ps was not yet made): its watch stays dead, so end it.
		err = errors.New("rjwt: local cache: a tracked connection hung up")
	}
	if err == nil && s.n.readsID.Load() != s.readsID {
		err = errors.New("rjwt: local cache: the tracked connection was replaced")
	}
	if err == nil && s.tracked != "" {
		err = t.sameMaster(ctx, s.tracked)
	}
	if err == nil {
		err = s.ps.Ping(ctx, p)
	}
	if err != nil {
		return err
	}
	s.sent[p] = now
	s.next = now + int64(t.beatEvery())
	for k, at := range s.sent { // forget PINGs too old to confirm anything
		if now-at > int64(t.window) {
			delete(s.sent, k)
		}
	}
	return nil
}

// apply applies one message of the subscriber's: a PONG confirms, an
// invalidation drops what it names.
func (s *sess) apply(msg any) error {
	t := s.t
	switch m := msg.(type) {
	case *redis.Pong:
		if at, ok := s.sent[m.Payload]; ok {
			delete(s.sent, m.Payload)
			t.confirm(s.n, at)
			s.confirmed = true
		}
	case *redis.Message:
		if m.Payload == "" && m.PayloadSlice == nil {
			// A null invalidation: FLUSHALL/FLUSHDB, or tracking turned
			// off. Everything may have changed.
			t.cache.dropNode(s.n, false)
			return nil
		}
		keys := m.PayloadSlice
		if keys == nil {
			keys = []string{m.Payload}
		}
		for _, k := range keys {
			t.cache.invalidateKey(k)
		}
	case *redis.Subscription:
		return errors.New("rjwt: local cache: the invalidation connection was resubscribed")
	}
	return nil
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
func (t *tracker) redirect(n *trackNode, id int64, alive <-chan struct{}, w *connWatch) (*redis.Client, int64, error) {
	n.id.Store(id)
	o := clone(n.opts, func(ctx context.Context, cn *redis.Conn) error {
		if err := cn.Do(ctx, "CLIENT", "TRACKING", "on", "REDIRECT", id).Err(); err != nil {
			return err
		}
		v, err := cn.ClientID(ctx).Result()
		n.readsID.Store(v)
		return err
	})
	t.watched(o, alive, w, false)
	// One connection, never reaped: the keys Redis tracks are the
	// connection's, and a new connection starts with none.
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 1, 1
	o.ConnMaxIdleTime, o.ConnMaxLifetime = -1, 0
	reads := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(n.ctx, t.window+time.Second)
	err := reads.Ping(ctx).Err()
	cancel()
	if err != nil {
		reads.Close()
		if store.Refused(err) {
			return nil, 0, fmt.Errorf("%w: %v", errTrackingRefused, err)
		}
		return nil, 0, err
	}
	n.reads.Store(reads)
	return reads, n.readsID.Load(), nil
}

// watched puts o's connections in w while alive is open.
func (t *tracker) watched(o *redis.Options, alive <-chan struct{}, w *connWatch, sub bool) {
	dial := o.Dialer
	if dial == nil {
		dial = (&net.Dialer{Timeout: o.DialTimeout}).DialContext
	}
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		cn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		select {
		case <-alive:
			return cn, nil // the session is over: nothing to watch for
		default:
		}
		return w.add(cn, sub), nil
	}
}

// retire takes a session's reads client out of use and closes it after the
// call timeout, so misses in flight on it finish (their answers are not
// remembered: the cache was flushed since).
func (t *tracker) retire(n *trackNode, reads *redis.Client) {
	n.reads.CompareAndSwap(reads, nil)
	t.mu.Lock()
	t.retired[reads] = struct{}{}
	t.mu.Unlock()
	time.AfterFunc(t.st.Timeout()+time.Second, func() {
		t.mu.Lock()
		_, ok := t.retired[reads]
		delete(t.retired, reads)
		t.mu.Unlock()
		if ok {
			reads.Close()
		}
	})
}
