package redistest

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy between clients and a Redis that injects network
// faults on demand: a reply lost after the server ran the command
// (DropReplyTo), a silent network (SetBlackhole), a reset of every connection
// (CloseAll) and refused connections (SetRefuse). Each client connection gets
// its own connection to the target.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu        sync.Mutex
	conns     map[*proxyConn]struct{}
	closed    bool
	refuse    bool
	blackhole bool
	unblock   chan struct{} // closed when the blackhole lifts
	drops     []*dropTrigger
}

// dropTrigger is one DropReplyTo call, waiting for a connection to send its
// match.
type dropTrigger struct {
	match []byte
	fired chan struct{}
}

func (t *dropTrigger) hasFired() bool {
	select {
	case <-t.fired:
		return true
	default:
		return false
	}
}

type proxyConn struct {
	client, server net.Conn
	done           chan struct{} // closed by close
	closeOnce      sync.Once
	drop           *dropTrigger // guarded by Proxy.mu: the next reply is to be swallowed
}

// tailSize is how many bytes of a connection's client→server stream are kept
// to find a DropReplyTo match split across reads; matches up to this long
// are always found.
const tailSize = 4096

// StartProxy starts a proxy on a free 127.0.0.1 port that forwards every
// connection to target (e.g. a Server's Addr). It stops, closing every
// connection, when the test ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's "127.0.0.1:port", for clients to dial instead of the
// target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DropReplyTo arms the proxy: the next command sent by a client whose bytes
// contain match is forwarded to Redis, so Redis runs it, but the reply to it
// is swallowed and that client's connection is closed: a reply lost after the
// server ran the command. The returned channel is closed when that happened.
//
// Matching is on each connection's client→server byte stream (RESP), so match
// should be something only the command in view sends, such as its key: a
// bare command name like "SET" also matches CLIENT SETINFO, which go-redis
// sends on every new connection. Bytes a connection sent before the call
// never match. Once a connection matched, the next bytes Redis sends on it
// are discarded and both sides closed; the reply is the next bytes only if
// the client waits for each reply before sending more (no pipelining).
// Several calls arm several one-shot triggers; each fires once.
//
// go-redis retries a command whose connection failed (MaxRetries), so to see
// the lost reply as an error give the client MaxRetries: -1.
func (p *Proxy) DropReplyTo(match string) <-chan struct{} {
	if match == "" {
		panic("redistest: DropReplyTo with an empty match")
	}
	t := &dropTrigger{match: []byte(match), fired: make(chan struct{})}
	p.mu.Lock()
	p.drops = append(p.drops, t)
	p.mu.Unlock()
	return t.fired
}

// SetBlackhole makes the network silent (on) or heals it (off). While on,
// connections stay open and new ones are accepted, but nothing is forwarded
// either way: bytes are held, as TCP would hold them in a partition, and
// delivered when the blackhole is lifted, even to Redis for a client that has
// since given up and closed its connection (the proxy notices the close only
// then), as TCP would deliver data it had queued.
func (p *Proxy) SetBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && !p.blackhole {
		p.unblock = make(chan struct{})
	}
	if !on && p.blackhole {
		close(p.unblock)
	}
	p.blackhole = on
}

// CloseAll closes every current connection, both the client's (with a TCP
// reset) and Redis's, like a network reset. New connections are still
// accepted.
func (p *Proxy) CloseAll() {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close(true)
	}
}

// SetRefuse makes the proxy refuse new connections (on: they are accepted and
// reset at once) or take them again (off). Open connections are not touched.
func (p *Proxy) SetRefuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Conns is the number of client connections open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.CloseAll()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		refuse := p.refuse || p.closed
		p.mu.Unlock()
		if refuse {
			reset(client)
			continue
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

// reset closes c with an RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		reset(client)
		return
	}
	c := &proxyConn{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close(true)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.clientToServer(c) }()
	go func() { defer wg.Done(); p.serverToClient(c) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	if t := c.drop; t != nil && !t.hasFired() {
		// The connection ended before a reply came: re-arm for the next one.
		p.drops = append(p.drops, t)
	}
	p.mu.Unlock()
}

func (c *proxyConn) close(rst bool) {
	c.closeOnce.Do(func() {
		close(c.done)
		if rst {
			reset(c.client)
		} else {
			c.client.Close()
		}
		c.server.Close()
	})
}

// waitOpen waits while the blackhole is on; false if c closed meanwhile.
func (p *Proxy) waitOpen(c *proxyConn) bool {
	for {
		p.mu.Lock()
		on, unblock := p.blackhole, p.unblock
		p.mu.Unlock()
		if !on {
			return true
		}
		select {
		case <-unblock:
		case <-c.done:
			return false
		}
	}
}

func (p *Proxy) clientToServer(c *proxyConn) {
	defer c.close(false)
	buf := make([]byte, 32<<10)
	var tail []byte // the stream's last bytes before buf, for matches split across reads
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.match(c, tail, chunk)
			tail = append(tail, chunk...)
			if len(tail) > tailSize {
				tail = append(tail[:0], tail[len(tail)-tailSize:]...)
			}
			if !p.waitOpen(c) {
				return
			}
			if _, err := c.server.Write(chunk); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// match arms c to swallow its next reply if tail+chunk holds an armed
// trigger's match that ends inside chunk (so bytes sent before the trigger
// was armed cannot fire it on their own).
func (p *Proxy) match(c *proxyConn, tail, chunk []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.drop != nil || len(p.drops) == 0 {
		return
	}
	for i, t := range p.drops {
		from := len(tail) - (len(t.match) - 1)
		if from < 0 {
			from = 0
		}
		window := append(append([]byte(nil), tail[from:]...), chunk...)
		if bytes.Contains(window, t.match) {
			c.drop = t
			p.drops = append(p.drops[:i:i], p.drops[i+1:]...)
			return
		}
	}
}

func (p *Proxy) serverToClient(c *proxyConn) {
	defer c.close(false)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := c.drop
			p.mu.Unlock()
			if drop != nil {
				c.close(false)
				close(drop.fired)
				return
			}
			if !p.waitOpen(c) {
				return
			}
			if _, err := c.client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
