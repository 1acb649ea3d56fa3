package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/store"
)

// The keyspace subscribers: session events from keyspace notifications.

// subscribeLoop keeps one node's keyspace subscription alive and turns its
// messages into session events, until ctx ends (the client closes, or the
// monitor dropped the node). go-redis re-subscribes on reconnect; each
// confirmation re-applies notify-keyspace-events, retrying until it works,
// since a restarted Redis (or a promoted replica) lacks CONFIG SET. After an
// outage the monitor asks the subscriber to prove its connection with a
// PING, so a connection that survived is confirmed by its PONG and a dead
// one reconnects.
func (m *Monitor) subscribeLoop(ctx context.Context, s *subscriber, pattern string) {
	defer m.wg.Done()
	// Every pub/sub call gets a deadline: go-redis reconnects inside the
	// call that met the broken connection (dial, HELLO, re-subscribe), and
	// without one that can hold the loop for seconds before it even reports
	// the outage. A reconnect cut short is retried by the next call.
	pctx, pcancel := context.WithTimeout(ctx, pubsubCallTimeout)
	ps := s.node.PSubscribe(pctx, pattern)
	pcancel()
	defer ps.Close()
	// Closing the PubSub unblocks a Receive at once when ctx ends.
	stopClose := context.AfterFunc(ctx, func() { ps.Close() })
	defer stopClose()
	confirm := func() {
		m.tell(fact{kind: subConfirmed, sub: s})
		if m.ensureKeyspaceConfig(ctx, s.node) {
			m.tell(fact{kind: configDone, sub: s})
		}
	}
	prune := &pruner{m: m}
	backoff := 50 * time.Millisecond
	for {
		if prune.due() {
			prune.flush()
		}
		var err error
		pctx, pcancel := context.WithTimeout(ctx, pubsubCallTimeout)
		select {
		case <-s.recheck:
			err = ps.Ping(pctx)
		default:
		}
		var msg any
		if err == nil {
			wait := 250 * time.Millisecond
			if len(prune.entries) > 0 {
				wait = pruneDelay
			}
			msg, err = ps.ReceiveTimeout(pctx, wait)
		}
		pcancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				continue
			}
			m.tell(fact{kind: subLost, sub: s, err: err})
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 500*time.Millisecond)
			continue
		}
		backoff = 50 * time.Millisecond
		switch v := msg.(type) {
		case *redis.Subscription:
			if v.Kind == "psubscribe" {
				confirm()
			}
		case *redis.Pong:
			confirm()
		case *redis.Message:
			m.onKeyspace(v, prune)
		}
	}
}

// pubsubCallTimeout bounds each call on a keyspace subscription, including
// the reconnect go-redis runs inside it.
const pubsubCallTimeout = time.Second

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ensureKeyspaceConfig merges rjwt's notification classes into the node's
// notify-keyspace-events, keeping the flags already set, and reports whether
// the node is configured. A network failure is retried (with backoff, until
// it works or the client closes): after a restart the setting is gone until
// rjwt applies it again. Where CONFIG is refused (managed Redis) it reports
// what the operator must set, once, and counts the node as configured by the
// operator.
func (m *Monitor) ensureKeyspaceConfig(sctx context.Context, node *redis.Client) bool {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(sctx, 2*time.Second)
		cur, err := node.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err == nil {
			have := cur["notify-keyspace-events"]
			if want := mergeKeyspaceFlags(have); want != have {
				err = node.ConfigSet(ctx, "notify-keyspace-events", want).Err()
			}
		}
		cancel()
		if err == nil {
			return true
		}
		if sctx.Err() != nil {
			return false
		}
		var re redis.Error
		if errors.As(err, &re) {
			m.emit(Error, "", fmt.Errorf(
				"rjwt: keyspace events: CONFIG refused on %s (%v): set notify-keyspace-events to include %q on the server (e.g. notify-keyspace-events %s), or session events will not arrive",
				node.Options().Addr, err, keyspaceFlags, keyspaceFlags))
			return true
		}
		m.emit(Error, "", fmt.Errorf("rjwt: keyspace events: applying notify-keyspace-events on %s (will retry): %w", node.Options().Addr, err))
		select {
		case <-sctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// mergeKeyspaceFlags adds K, g and x to a notify-keyspace-events value. "A"
// already includes g and x.
func mergeKeyspaceFlags(have string) string {
	out := have
	for _, f := range keyspaceFlags {
		if strings.ContainsRune(out, f) || (f != 'K' && strings.ContainsRune(out, 'A')) {
			continue
		}
		out += string(f)
	}
	return out
}

// onKeyspace turns one keyspace notification into a session event. An
// expired session is queued for removal from its user's index.
func (m *Monitor) onKeyspace(msg *redis.Message, prune *pruner) {
	_, key, ok := strings.Cut(msg.Channel, "__:")
	if !ok {
		return
	}
	id, nano, ok := m.st.ParseSession(key)
	if !ok {
		return
	}
	switch msg.Payload {
	case "expired", "evicted":
		if msg.Payload == "expired" {
			m.emit(SessionExpired, id+":"+nano, nil)
		} else {
			m.emit(SessionRevoked, id+":"+nano, nil)
		}
		prune.add(store.Entry{ID: id, Nano: nano})
	case "del":
		m.emit(SessionRevoked, id+":"+nano, nil)
	}
}

// pruner removes expired sessions from their users' indexes in pipelined
// batches: a wave of expiries costs one round trip per batch, not one per
// session, so the subscriber keeps up with Redis (which drops a pub/sub
// client that falls too far behind). Pruning is best effort: Sign also drops
// a user's expired index entries, and an entry without its session never
// verifies.
type pruner struct {
	m       *Monitor
	entries []store.Entry
	started time.Time
}

// pruneBatch and pruneDelay bound how long an expired session stays in its
// index: at most pruneBatch entries or pruneDelay, whichever comes first.
const (
	pruneBatch = 256
	pruneDelay = 100 * time.Millisecond
)

func (p *pruner) add(e store.Entry) {
	if len(p.entries) == 0 {
		p.started = time.Now()
	}
	p.entries = append(p.entries, e)
}

// due says whether the queue should be flushed now.
func (p *pruner) due() bool {
	return len(p.entries) >= pruneBatch || (len(p.entries) > 0 && time.Since(p.started) >= pruneDelay)
}

// flush sends the queued ZREMs in one pipeline.
func (p *pruner) flush() {
	m := p.m
	ctx, cancel := context.WithTimeout(m.ctx, 2*time.Second)
	defer cancel()
	if err := m.st.Prune(ctx, p.entries); err != nil && m.ctx.Err() == nil {
		m.emit(Error, "", err)
	}
	p.entries = p.entries[:0]
}
