package cache

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// connWatch watches the connections of one tracker session (the
// invalidation subscriber and the tracked reads connection) for the
// server's hang-up (CLIENT KILL, a restart, a failover that drops clients),
// which go-redis would see only when it next reads them: an idle pooled
// connection is read when it is next used, and a killed reads connection
// takes with it Redis's memory of what this process read. Each connection's
// descriptor is duplicated into one epoll set, for the hang-up only
// (EPOLLRDHUP, never EPOLLIN), so the watch consumes nothing go-redis reads.
//
// Two readers of that set: a goroutine blocked on it calls died as soon as
// the kernel reports a hang-up, and, so that a busy CPU cannot delay what
// the scheduler delays, the cache's hits look at it themselves (without
// blocking) when the last look is over checkEvery old: a hit after a kill
// is refused even when the goroutine has not run yet. Where a descriptor
// cannot be had (a TLS conn without a plain one below, another platform)
// the connection is not watched and the heartbeat remains the bound.
type connWatch struct {
	ep     int
	mu     sync.RWMutex // write: add, close; read: every epoll_wait (no wait on a closed, reused number)
	dups   []int
	closed bool
	next   atomic.Int64 // mono ns from which a hit looks again
	dead   atomic.Bool

	sub      atomic.Int32 // the subscriber's duplicate descriptor (-1: none): readAhead's
	peekMu   sync.RWMutex // read: each read-ahead; write: close, which waits for them
	peekNext atomic.Int64 // mono ns from which a hit reads ahead again

	apply   func(keys []string) // applies invalidations (nil keys: all); set before the subscriber dials
	applied atomic.Int64        // bytes read from the subscriber's socket and applied (subConn)
}

// peekBufs are the read-aheads' buffers.
var peekBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// checkEvery is how often, at most, hits look at the epoll set: one
// non-blocking epoll_wait per node per checkEvery, whatever the hit rate.
const checkEvery = 100 * time.Microsecond

func newConnWatch() *connWatch {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &connWatch{ep: ep}
	w.sub.Store(-1)
	return w
}

// add watches cn and returns the conn to give go-redis; with sub, cn is
// the invalidation subscriber's, which readAhead reads ahead of go-redis.
func (w *connWatch) add(cn net.Conn, sub bool) net.Conn {
	if w == nil {
		return cn
	}
	under := cn
	if u, ok := cn.(interface{ NetConn() net.Conn }); ok {
		under = u.NetConn()
	}
	sc, ok := under.(syscall.Conn)
	if !ok {
		return cn
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return cn
	}
	dup := -1
	raw.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno == 0 {
			dup = int(r)
		}
	})
	if dup < 0 {
		return cn
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR, Fd: int32(dup)}
	if w.closed || syscall.EpollCtl(w.ep, syscall.EPOLL_CTL_ADD, dup, &ev) != nil {
		syscall.Close(dup)
		return cn
	}
	w.dups = append(w.dups, dup)
	if sub && under == cn && w.apply != nil { // through TLS the socket holds records, not RESP: no read-ahead
		w.sub.Store(int32(dup))
		return &subConn{Conn: cn, w: w}
	}
	return cn
}

// readAhead applies the invalidations that have reached the subscriber's
// socket and that go-redis has not read yet (peek.go), at most once per
// checkEvery; sure is false when what is there cannot be read whole.
func (w *connWatch) readAhead(now int64, drop func(keys []string)) (sure bool) {
	if w == nil {
		return true
	}
	next := w.peekNext.Load()
	// Read-aheads do not wait for each other: one that the kernel takes
	// off the CPU halfway must not keep the next ones from looking (a
	// read lock, and a buffer each). The write lock is close's: a session
	// ending has withdrawn its trust already.
	if now < next || !w.peekNext.CompareAndSwap(next, now+int64(checkEvery)) || !w.peekMu.TryRLock() {
		return true
	}
	defer w.peekMu.RUnlock()
	fd := int(w.sub.Load())
	if fd < 0 {
		return true
	}
	buf := peekBufs.Get().(*[64 << 10]byte)
	defer peekBufs.Put(buf)
	n, _, err := syscall.Recvfrom(fd, buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err != nil || n < 0 {
		n = 0 // nothing has arrived (EAGAIN), or the watch says the rest
	}
	if n > 0 && !parseInvalidations(buf[:n], drop) {
		return false
	}
	return !w.inFlight(fd, n)
}

// setApply is how the connection's reads apply invalidations; before the
// subscriber dials.
func (w *connWatch) setApply(apply func(keys []string)) {
	if w != nil {
		w.apply = apply
	}
}

// inFlight says whether bytes have left the subscriber's socket (fd) that
// are not applied yet: read by go-redis's reader, whose thread the kernel
// may hold off the CPU between its read and anything else, for as long as
// the machine is busy. What the socket has received in all (TCP_INFO), less
// what is queued (queued: what the peek just saw), is what was read from
// it; subConn applies each read before it counts it. Bytes that arrive
// between the peek and the count make it say yes: the caller asks Redis.
// Where TCP_INFO does not tell (a Unix socket, an old kernel), no.
func (w *connWatch) inFlight(fd, queued int) bool {
	var info unix.TCPInfo
	size := uint32(unsafe.Sizeof(info))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 || uintptr(size) <= unsafe.Offsetof(info.Bytes_received) {
		return false
	}
	return int64(info.Bytes_received)-int64(queued) > w.applied.Load()
}

// subConn is the subscriber's connection as go-redis reads it: each read
// applies the invalidations it carries before go-redis sees them, and then
// counts its bytes as applied (inFlight), so that no invalidation is ever
// out of the socket and not yet applied without the hits knowing. go-redis's
// reader applies them again, harmlessly.
type subConn struct {
	net.Conn
	w       *connWatch
	carry   []byte // the start of a reply whose end has not arrived
	total   int64  // bytes read so far
	garbled bool   // a reply that does not parse: stop applying (go-redis will fail it)
}

func (c *subConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.total += int64(n)
		if !c.garbled {
			c.carry = append(c.carry, p[:n]...)
			used, ok := applyReplies(c.carry, c.w.apply)
			c.carry = c.carry[:copy(c.carry, c.carry[used:])]
			if !ok { // back to go-redis's reader alone, as without this
				c.garbled, c.carry = true, nil
			}
		}
		c.w.applied.Store(c.total - int64(len(c.carry)))
	}
	return n, err
}

// run calls died once when a watched connection hangs up, and returns then
// or when stop closes (within 100ms).
func (w *connWatch) run(stop <-chan struct{}, died func()) {
	if w == nil {
		return
	}
	events := make([]syscall.EpollEvent, 1)
	for {
		select {
		case <-stop:
			return
		default:
		}
		w.mu.RLock()
		if w.closed {
			w.mu.RUnlock()
			return
		}
		n, err := syscall.EpollWait(w.ep, events, 100)
		w.mu.RUnlock()
		if err != nil && err != syscall.EINTR {
			return
		}
		if n > 0 {
			w.dead.Store(true)
			died()
			return
		}
	}
}

// hungUp is the hits' look: whether a watched connection has hung up, asking
// the kernel at most once per checkEvery (now: the cache's mono ns, which
// the caller has read anyway).
func (w *connWatch) hungUp(now int64) bool {
	if w == nil {
		return false
	}
	if w.dead.Load() {
		return true
	}
	next := w.next.Load()
	if now < next || !w.next.CompareAndSwap(next, now+int64(checkEvery)) {
		return false
	}
	var events [1]syscall.EpollEvent
	w.mu.RLock()
	n := 0
	if !w.closed {
		n, _ = syscall.EpollWait(w.ep, events[:], 0)
	}
	w.mu.RUnlock()
	if n > 0 {
		w.dead.Store(true)
		return true
	}
	return false
}

// close ends the watch: the duplicates go (so the sockets close with
// go-redis's descriptors), then the set.
func (w *connWatch) close() {
	if w == nil {
		return
	}
	w.peekMu.Lock() // no read-ahead on a descriptor being closed
	defer w.peekMu.Unlock()
	w.mu.Lock() // waits for an epoll_wait in flight (run's: at most 100ms)
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.sub.Store(-1)
	w.dead.Store(true) // a late look must not trust a closed set
	for _, fd := range w.dups {
		syscall.Close(fd)
	}
	syscall.Close(w.ep)
}
