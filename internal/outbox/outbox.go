// Package outbox is a client's public event channel: buffered, fed without
// ever blocking the sender (a full channel drops the value and counts it),
// closed once, with a latch for the first "ready" value.
package outbox

import (
	"sync"
	"sync/atomic"
)

// An Outbox feeds one buffered channel of E.
type Outbox[E any] struct {
	ch      chan E
	mu      sync.RWMutex // guards closed against sends on a closed ch
	closed  bool
	dropped atomic.Uint64

	ready     chan struct{} // closed at the first ready Send
	readyOnce sync.Once
}

// New makes an Outbox whose channel holds size values.
func New[E any](size int) *Outbox[E] {
	return &Outbox[E]{ch: make(chan E, size), ready: make(chan struct{})}
}

// C is the channel; Close closes it.
func (o *Outbox[E]) C() <-chan E { return o.ch }

// Dropped is how many values a full channel dropped.
func (o *Outbox[E]) Dropped() uint64 { return o.dropped.Load() }

// Ready is closed at the first Send with ready.
func (o *Outbox[E]) Ready() <-chan struct{} { return o.ready }

// Send sends e without blocking, and closes Ready when ready. It returns 0,
// or when the channel was full and e was dropped, how many values have
// been dropped so far. After Close it does nothing.
func (o *Outbox[E]) Send(e E, ready bool) (dropped uint64) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return 0
	}
	select {
	case o.ch <- e:
	default:
		dropped = o.dropped.Add(1)
	}
	if ready {
		o.readyOnce.Do(func() { close(o.ready) })
	}
	return dropped
}

// Close closes the channel; later Sends do nothing.
func (o *Outbox[E]) Close() {
	o.mu.Lock()
	o.closed = true
	close(o.ch)
	o.mu.Unlock()
}
