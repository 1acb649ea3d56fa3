package rjwt_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// New refuses a bad address at once, instead of every call failing later.
func TestNewRefusesBadAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []rjwt.Option
		want string // in the error
	}{
		{"URL given to WithAddr", []rjwt.Option{rjwt.WithAddr("redis://127.0.0.1:6379")}, "use WithURL"},
		{"rediss URL given to WithAddr", []rjwt.Option{rjwt.WithAddr("rediss://cache:6380/1")}, "use WithURL"},
		{"no port", []rjwt.Option{rjwt.WithAddr("localhost")}, "not host:port"},
		{"empty port", []rjwt.Option{rjwt.WithAddr("localhost:")}, "not host:port"},
		{"relative socket path", []rjwt.Option{rjwt.WithAddr("redis.sock")}, "not host:port"},
		{"WithURL then WithAddr", []rjwt.Option{rjwt.WithURL("redis://127.0.0.1:6379"), rjwt.WithAddr("127.0.0.1:6379")}, "give one"},
		{"WithAddr then WithURL", []rjwt.Option{rjwt.WithAddr("127.0.0.1:6379"), rjwt.WithURL("redis://127.0.0.1:6379")}, "give one"},
		{"other scheme", []rjwt.Option{rjwt.WithURL("http://127.0.0.1:6379")}, "WithURL"},
		{"bad database", []rjwt.Option{rjwt.WithURL("redis://127.0.0.1:6379/x")}, "WithURL"},
		{"unknown parameter", []rjwt.Option{rjwt.WithURL("redis://127.0.0.1:6379?pool=3")}, "WithURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(testSecret)}, tc.opts...)...)
			if err == nil {
				c.Close()
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rjwt: ") {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"127.0.0.1:6379", "[::1]:6379", ":6379", "cache.internal:6380", "/run/redis/redis.sock"} {
		c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(ok))
		if err != nil {
			t.Errorf("WithAddr(%q): %v", ok, err)
			continue
		}
		c.Close()
	}
}

// signAndCheck signs a session for alice and verifies its token.
func signAndCheck(t *testing.T, c *rjwt.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	token, err := c.Sign(ctx, "alice")
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if _, err := c.Verify(ctx, token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// keysIn counts the keys under prefix in database db of the Redis at addr.
func keysIn(t *testing.T, addr string, db int, prefix string) int {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), rjwt.EscapePattern(prefix)+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

func TestWithURLDatabaseAndPassword(t *testing.T) {
	srv := redistest.Start(t)
	setup := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	if err := setup.ConfigSet(context.Background(), "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	setup.Close()
	prefix := "url:" + rand.Text()[:6] + ":"
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithPrefix(prefix), rjwt.WithURL("redis://:s3cret@"+srv.Addr()+"/3"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signAndCheck(t, c)

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "s3cret", DB: 3})
	defer admin.Close()
	n, err := admin.Keys(context.Background(), rjwt.EscapePattern(prefix)+"*").Result()
	if err != nil || len(n) == 0 {
		t.Errorf("no keys of the session in database 3: %v %v", n, err)
	}

	// WithPassword after the URL replaces the URL's.
	wrong, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithURL("redis://:s3cret@"+srv.Addr()+"/3"), rjwt.WithPassword("nope"), rjwt.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if _, err := wrong.Sign(context.Background(), "alice"); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("Sign with the replaced password: %v, want WRONGPASS", err)
	}
}

func TestWithURLUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	srv := redistest.Start(t, "--unixsocket", sock, "--unixsocketperm", "700")
	prefix := "unix:" + rand.Text()[:6] + ":"
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithPrefix(prefix), rjwt.WithURL("unix://"+sock+"?db=2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signAndCheck(t, c)
	if keysIn(t, srv.Addr(), 2, prefix) == 0 {
		t.Error("no keys of the session in database 2")
	}
}

func TestWithURLTLS(t *testing.T) {
	certFile, keyFile := redistest.SelfSignedCert(t, t.TempDir())
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, "--tls-port", fmt.Sprint(port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	prefix := "tls:" + rand.Text()[:6] + ":"
	tlsURL := fmt.Sprintf("rediss://127.0.0.1:%d/1", port)

	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithPrefix(prefix), rjwt.WithURL(tlsURL+"?skip_verify=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signAndCheck(t, c)
	if keysIn(t, srv.Addr(), 1, prefix) == 0 { // over the plain port
		t.Error("no keys of the session in database 1")
	}

	// The self-signed certificate does not verify: no session is made.
	strict, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithPrefix(prefix), rjwt.WithURL(tlsURL))
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if _, err := strict.Sign(context.Background(), "bob"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Sign over an unverifiable certificate: %v", err)
	}
	// Plain text to the TLS port fails too, within the call's deadline.
	plain, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithURL(fmt.Sprintf("redis://127.0.0.1:%d", port)))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := plain.Sign(ctx, "bob"); err == nil {
		t.Error("Sign in plain text to the TLS port succeeded")
	}
}
