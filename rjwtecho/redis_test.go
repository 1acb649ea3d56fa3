package rjwtecho_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwttest"
)

// backend makes the clients a test runs against.
type backend struct {
	name      string
	newClient func(t *testing.T, opts ...rjwt.Option) *rjwt.Client
}

// backends are the embedded Redis of rjwttest and, when redis-server is
// installed, a real one (rjwt's own harness is internal to its module, so
// this starts its own). Without redis-server the real one is skipped, with a
// message, unless RJWT_REQUIRE_REDIS=1 makes that a failure.
func backends(t *testing.T) []backend {
	bs := []backend{{"miniredis", func(t *testing.T, opts ...rjwt.Option) *rjwt.Client { return rjwttest.New(t, opts...) }}}
	addr := realRedis(t)
	if addr == "" {
		return bs
	}
	return append(bs, backend{"redis-server", func(t *testing.T, opts ...rjwt.Option) *rjwt.Client {
		base := []rjwt.Option{rjwt.WithAddr(addr), rjwt.WithSecret([]byte("0123456789abcdef0123456789abcdef")),
			rjwt.WithPrefix("t:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":")}
		c, err := rjwt.New(append(base, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}})
}

// realRedis starts a redis-server on a free port for t, or returns "" when
// none is installed.
func realRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("RJWT_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server is not installed and RJWT_REQUIRE_REDIS=1; run ./scripts/test.sh, which installs it")
		}
		t.Logf("redis-server is not installed: only the embedded Redis is tested here; ./scripts/test.sh installs it")
		return ""
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); rdb.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}
