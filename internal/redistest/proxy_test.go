package redistest_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

// dial opens a raw connection to addr.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send writes a RESP command on c.
func send(t *testing.T, c net.Conn, args ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
}

// readLine reads one reply line from c within d.
func readLine(c net.Conn, r *bufio.Reader, d time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(d))
	return r.ReadString('\n')
}

// rawPing dials addr and sends a PING on a raw connection.
func rawPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	l, err := readLine(c, bufio.NewReader(c), time.Second)
	if err == nil && l != "+PONG\r\n" {
		err = errors.New("reply " + l)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func directClient(t *testing.T, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestProxyForwards(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	ctx := context.Background()
	rdb := directClient(t, p.Addr())
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := directClient(t, s.Addr()).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET on the server = %q, %v; want v", v, err)
	}
	if p.Conns() != 1 {
		t.Fatalf("Conns = %d, want 1", p.Conns())
	}
}

// A SET whose reply is dropped: go-redis gets an error, yet the key is set.
func TestProxyDropReplyTo(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil { // the handshake is done before arming
		t.Fatal(err)
	}

	fired := p.DropReplyTo("lost-reply-key")
	if err := rdb.Set(ctx, "other", "1", 0).Err(); err != nil {
		t.Fatalf("a command not matching failed: %v", err)
	}
	select {
	case <-fired:
		t.Fatal("fired on a command that does not match")
	default:
	}
	err := rdb.Set(ctx, "lost-reply-key", "ran", 0).Err()
	if err == nil {
		t.Fatal("SET whose reply was dropped succeeded")
	}
	t.Logf("client error: %v", err)
	select {
	case <-fired:
	case <-time.After(time.Second):
		t.Fatal("DropReplyTo's channel not closed after it fired")
	}
	if v, err := directClient(t, s.Addr()).Get(ctx, "lost-reply-key").Result(); err != nil || v != "ran" {
		t.Fatalf("GET on the server = %q, %v; want the SET to have run", v, err)
	}
	// One-shot: the client reconnects (HELLO etc.) and the same command works.
	if err := rdb.Set(ctx, "lost-reply-key", "again", 0).Err(); err != nil {
		t.Fatalf("after the drop fired: %v", err)
	}
}

// The match is found when it is split across two writes, and only on the
// connection that sent it: others keep working.
func TestProxyDropReplyToSplitMatch(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	ra, rb := bufio.NewReader(a), bufio.NewReader(b)
	send(t, a, "PING")
	if l, err := readLine(a, ra, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("PING = %q, %v", l, err)
	}
	fired := p.DropReplyTo("split-key")

	io.WriteString(a, "*3\r\n$3\r\nSET\r\n$9\r\nspli")
	time.Sleep(50 * time.Millisecond) // the proxy reads the two halves apart
	send(t, b, "PING")
	if l, err := readLine(b, rb, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("other connection's PING = %q, %v", l, err)
	}
	io.WriteString(a, "t-key\r\n$1\r\nx\r\n")

	l, err := readLine(a, ra, 2*time.Second)
	if err == nil || isTimeout(err) {
		t.Fatalf("read after the dropped reply = %q, %v; want the connection closed", l, err)
	}
	<-fired
	if v, err := directClient(t, s.Addr()).Get(context.Background(), "split-key").Result(); err != nil || v != "x" {
		t.Fatalf("GET on the server = %q, %v; want x", v, err)
	}
	send(t, b, "PING")
	if l, err := readLine(b, rb, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("other connection after the drop: %q, %v", l, err)
	}
}

func TestProxyBlackholeHoldsThenDelivers(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	old := dial(t, p.Addr())
	rold := bufio.NewReader(old)
	send(t, old, "PING")
	if l, err := readLine(old, rold, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("PING = %q, %v", l, err)
	}

	p.SetBlackhole(true)
	send(t, old, "SET", "bh-key", "1")
	fresh := dial(t, p.Addr()) // accepted, but silent
	rfresh := bufio.NewReader(fresh)
	send(t, fresh, "PING")
	for _, c := range []struct {
		conn net.Conn
		r    *bufio.Reader
	}{{old, rold}, {fresh, rfresh}} {
		if l, err := readLine(c.conn, c.r, 300*time.Millisecond); !isTimeout(err) {
			t.Fatalf("read in a blackhole = %q, %v; want a timeout", l, err)
		}
	}
	if n, err := directClient(t, s.Addr()).Exists(context.Background(), "bh-key").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS = %d, %v: the SET reached Redis through the blackhole", n, err)
	}

	p.SetBlackhole(false)
	if l, err := readLine(old, rold, time.Second); err != nil || l != "+OK\r\n" {
		t.Fatalf("held SET after the blackhole lifted = %q, %v", l, err)
	}
	if l, err := readLine(fresh, rfresh, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("held PING after the blackhole lifted = %q, %v", l, err)
	}
}

func TestProxyCloseAll(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	c := dial(t, p.Addr())
	r := bufio.NewReader(c)
	send(t, c, "PING")
	if _, err := readLine(c, r, time.Second); err != nil {
		t.Fatal(err)
	}
	p.CloseAll()
	if l, err := readLine(c, r, time.Second); err == nil || isTimeout(err) {
		t.Fatalf("read after CloseAll = %q, %v; want the connection closed", l, err)
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Logf("closed with %v (not a reset)", err)
	}
	rdb := directClient(t, p.Addr())
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("new connection after CloseAll: %v", err)
	}
}

func TestProxyRefuse(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	open := dial(t, p.Addr())
	ropen := bufio.NewReader(open)
	send(t, open, "PING") // the proxy has accepted it
	if l, err := readLine(open, ropen, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("PING = %q, %v", l, err)
	}

	p.SetRefuse(true)
	if err := rawPing(p.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("PING on a refused connection: %v; want it reset", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Fatal("go-redis PING through a refusing proxy succeeded")
	}
	send(t, open, "PING") // connections made before keep working
	if l, err := readLine(open, ropen, time.Second); err != nil || l != "+PONG\r\n" {
		t.Fatalf("open connection while refusing: %q, %v", l, err)
	}

	p.SetRefuse(false)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING after SetRefuse(false): %v", err)
	}
}

// A trigger whose connection ends before any reply is re-armed.
func TestProxyDropReplyToRearmsWhenConnectionEnds(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.StartProxy(t, s.Addr())
	fired := p.DropReplyTo("rearm-key")
	c := dial(t, p.Addr())
	send(t, c, "BLPOP", "rearm-key", "0") // matched, but Redis blocks: no reply comes
	time.Sleep(50 * time.Millisecond)
	c.Close()
	deadline := time.Now().Add(time.Second)
	for p.Conns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Conns() != 0 {
		t.Fatalf("Conns = %d after the client closed", p.Conns())
	}
	select {
	case <-fired:
		t.Fatal("fired without a reply")
	default:
	}

	c2 := dial(t, p.Addr())
	send(t, c2, "SET", "rearm-key", "2")
	if l, err := readLine(c2, bufio.NewReader(c2), 2*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("reply after re-arming = %q, %v; want it dropped", l, err)
	}
	select {
	case <-fired:
	case <-time.After(time.Second):
		t.Fatal("not fired")
	}
}
