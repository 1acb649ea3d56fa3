package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

var redisAddr string

func TestMain(m *testing.M) { redistest.Main(m, &redisAddr) }

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestWalkthroughOnARealRedis(t *testing.T) {
	var out bytes.Buffer
	rdb, closeRedis, err := connect(redisAddr, &out)
	require.NoError(t, err)
	defer closeRedis()
	require.NoError(t, walkthrough(context.Background(), &out, rdb, secret))
	text := out.String()
	for _, want := range []string{"redis: " + redisAddr, "1. sign alice", "2. verify: id=alice", `private={"plan":"pro"}`,
		"ErrSessionNotFound: true", "4. revoke alice:", "ErrInvalidToken: true"} {
		assert.Contains(t, text, want)
	}
}

func TestWithoutATargetTheDemoEmbedsARedisAndTouchesNoOther(t *testing.T) {
	var out bytes.Buffer
	rdb, closeRedis, err := connect("", &out)
	require.NoError(t, err)
	defer closeRedis()
	addr := rdb.(*redis.Client).Options().Addr
	assert.Contains(t, out.String(), "embedded in-process Redis (miniredis at "+addr+")")
	assert.NotContains(t, addr, ":6379")
	require.NoError(t, walkthrough(context.Background(), &out, rdb, secret))
	assert.Contains(t, out.String(), "ErrSessionNotFound: true")
	assert.Contains(t, out.String(), "4. revoke alice:")
}

func TestRedisTargets(t *testing.T) {
	for _, tc := range []struct {
		target string
		check  func(t *testing.T, o *redis.Options)
	}{
		{"127.0.0.1:6380", func(t *testing.T, o *redis.Options) {
			assert.Equal(t, "127.0.0.1:6380", o.Addr)
			assert.Nil(t, o.TLSConfig)
		}},
		{"redis://bob:pw@cache.internal:6390/2?dial_timeout=1s", func(t *testing.T, o *redis.Options) {
			assert.Equal(t, "cache.internal:6390", o.Addr)
			assert.Equal(t, "bob", o.Username)
			assert.Equal(t, "pw", o.Password)
			assert.Equal(t, 2, o.DB)
			assert.Equal(t, time.Second, o.DialTimeout)
			assert.Nil(t, o.TLSConfig)
			assert.Equal(t, "cache.internal:6390 db 2", describe(o))
		}},
		{"rediss://:pw@cache.example.com:6380/1", func(t *testing.T, o *redis.Options) {
			require.NotNil(t, o.TLSConfig, "rediss is TLS")
			assert.Equal(t, "cache.example.com", o.TLSConfig.ServerName)
			assert.Equal(t, 1, o.DB)
			assert.Equal(t, "cache.example.com:6380 db 1 (TLS)", describe(o))
		}},
		{"unix:///run/redis.sock?db=3", func(t *testing.T, o *redis.Options) {
			assert.Equal(t, "unix", o.Network)
			assert.Equal(t, "/run/redis.sock", o.Addr)
			assert.Equal(t, 3, o.DB)
		}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			o, err := redisOptions(tc.target)
			require.NoError(t, err)
			tc.check(t, o)
			assert.NotContains(t, describe(o), "pw", "no password in what the demo prints")
		})
	}
	for _, bad := range []string{"localhost", "http://cache:6379", "redis://:s3cret@cache:6379/notadb", "redis://:s3cret@cache:port/"} {
		_, err := redisOptions(bad)
		require.Error(t, err, bad)
		assert.NotContains(t, err.Error(), "s3cret", bad)
	}
}

func TestRedisURLIsHonoured(t *testing.T) {
	var out bytes.Buffer
	rdb, closeRedis, err := connect("redis://"+redisAddr+"/2", &out)
	require.NoError(t, err)
	defer closeRedis()
	assert.Equal(t, 2, rdb.(*redis.Client).Options().DB)
	assert.Contains(t, out.String(), "redis: "+redisAddr+" db 2")
	_, _, err = connect("redis://:s3cret@127.0.0.1:1", io.Discard)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

// syncBuffer is an io.Writer run's goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// startDemo runs the demo as main does, on a free port, and returns its URL;
// the demo stops when the test ends.
func startDemo(t *testing.T, getenv func(string) string, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), getenv, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "a graceful shutdown")
		case <-time.After(10 * time.Second):
			t.Error("the demo did not stop")
		}
	})
	var base string
	require.Eventually(t, func() bool {
		_, rest, ok := strings.Cut(out.String(), "serving on http://")
		if !ok {
			return false
		}
		host, _, _ := strings.Cut(rest, " ")
		base = "http://" + host
		return true
	}, 10*time.Second, 10*time.Millisecond, "the demo serves: %s", out)
	return base, out
}

func TestTheDemoRunsOnAnEmbeddedRedisByDefault(t *testing.T) {
	base, out := startDemo(t, env(map[string]string{"RJWT_SECRET": string(secret)}))
	assert.Contains(t, out.String(), "redis: an embedded in-process Redis (miniredis at ")
	assert.Contains(t, out.String(), "4. revoke alice:", "the walkthrough ran first")
	srv := &httptest.Server{URL: base}

	creds := `{"account":"zoe","password":"correct horse"}`
	status, first := call(t, srv, "POST", "/register", "", creds)
	require.Equal(t, 200, status, first)
	status, pair := call(t, srv, "POST", "/authorize", "", creds)
	require.Equal(t, 200, status, pair)
	status, body := call(t, srv, "GET", "/me", tokenOf(t, pair), "")
	require.Equal(t, 200, status, body)
	assert.Equal(t, float64(1), body["views"])
	status, body = call(t, srv, "GET", "/sessions", tokenOf(t, pair), "")
	require.Equal(t, 200, status, body)
	assert.Len(t, body["sessions"], 2, "register's and authorize's")
	status, body = call(t, srv, "POST", "/logoutAll", tokenOf(t, pair), "")
	require.Equal(t, 200, status, body)
	assert.Equal(t, float64(2), body["revoked"])
	status, _ = call(t, srv, "GET", "/me", tokenOf(t, first), "")
	assert.Equal(t, 401, status)
}

func TestTheFlagNamesTheRedisBeforeREDIS_URL(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), []string{"-walkthrough", "-redis", redisAddr},
		env(map[string]string{"REDIS_URL": "redis://127.0.0.1:1/5", "RJWT_SECRET": string(secret)}), &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "redis: "+redisAddr+"\n")
	assert.Contains(t, out.String(), "5. a tampered token")

	out = syncBuffer{}
	err = run(context.Background(), []string{"-walkthrough"}, env(map[string]string{"REDIS_URL": "redis://" + redisAddr + "/3"}), &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "redis: "+redisAddr+" db 3\n")
	assert.Contains(t, out.String(), "secret: a random one for this run")
}

func TestUsageNamesEveryRouteAndTheDemoServesThem(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), []string{"-h"}, env(nil), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	text := out.String()
	for _, flagName := range []string{"-addr", "-redis", "-walkthrough", "REDIS_URL", "rediss://"} {
		assert.Contains(t, text, flagName)
	}
	var routes [][2]string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "GET" || f[0] == "POST") && strings.HasPrefix(f[1], "/") {
			routes = append(routes, [2]string{f[0], f[1]})
		}
	}
	assert.ElementsMatch(t, [][2]string{{"POST", "/register"}, {"POST", "/authorize"}, {"POST", "/refreshToken"},
		{"GET", "/me"}, {"GET", "/sessions"}, {"POST", "/revokeSession"}, {"POST", "/logout"}, {"POST", "/logoutAll"},
		{"POST", "/oauth/introspect"}, {"POST", "/oauth/revoke"}}, routes)

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithPrefix("routes:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	h = withEndpoints(h, client, "a secret")
	for _, r := range routes {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(r[0], r[1], strings.NewReader("{}")))
		assert.Contains(t, []int{400, 401}, rec.Code, "%s %s is served (refused for want of a body or token, not 404 or 405)", r[0], r[1])
	}
}

// tokenOf is the "token" of a login's or a refresh's answer; a test whose
// login failed stops here, showing the answer, instead of panicking on a
// missing field (which would hide the failure).
func tokenOf(t *testing.T, answer map[string]any) string {
	t.Helper()
	tok, ok := answer["token"].(string)
	if !ok {
		t.Fatalf("no token in the answer %v", answer)
	}
	return tok
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestDemoServerFlow(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("demo:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	creds := `{"account":"alice","password":"correct horse"}`
	status, pair := call(t, srv, "POST", "/register", "", creds)
	require.Equal(t, 200, status, pair)
	status, _ = call(t, srv, "POST", "/register", "", creds)
	assert.Equal(t, 409, status)
	status, _ = call(t, srv, "POST", "/register", "", `{"account":"bob","password":"short"}`)
	assert.Equal(t, 400, status)
	status, _ = call(t, srv, "POST", "/authorize", "", `{"account":"alice","password":"wrong horse"}`)
	assert.Equal(t, 401, status)
	status, _ = call(t, srv, "POST", "/authorize", "", `{"account":"nobody","password":"wrong horse"}`)
	assert.Equal(t, 401, status)
	status, pair = call(t, srv, "POST", "/authorize", "", creds)
	require.Equal(t, 200, status)
	token := tokenOf(t, pair)
	assert.Equal(t, float64(900), pair["expiresIn"])

	for want := 1; want <= 2; want++ {
		status, body := call(t, srv, "GET", "/me", token, "")
		require.Equal(t, 200, status)
		assert.Equal(t, float64(want), body["views"])
		assert.Equal(t, "alice", body["claims"].(map[string]any)["id"])
	}
	status, next := call(t, srv, "POST", "/refreshToken", "", `{"refreshToken":"`+pair["refreshToken"].(string)+`"}`)
	require.Equal(t, 200, status)
	token = tokenOf(t, next)
	_, body := call(t, srv, "GET", "/me", token, "")
	assert.Equal(t, float64(3), body["views"], "the same session after refresh")

	// The device list: this session (refreshed) and the one /register opened.
	status, body = call(t, srv, "GET", "/sessions", token, "")
	require.Equal(t, 200, status, body)
	list := body["sessions"].([]any)
	require.Len(t, list, 2, body)
	var current []string
	for _, e := range list {
		e := e.(map[string]any)
		assert.True(t, strings.HasPrefix(e["session"].(string), "alice:"))
		if e["current"] == true {
			current = append(current, e["session"].(string))
		}
	}
	status, me := call(t, srv, "GET", "/me", token, "")
	require.Equal(t, 200, status, me)
	assert.Equal(t, []string{me["claims"].(map[string]any)["rjwt"].(string)}, current, "the caller's own session is marked")

	status, _ = call(t, srv, "POST", "/logout", token, "")
	assert.Equal(t, 204, status)
	status, _ = call(t, srv, "GET", "/me", token, "")
	assert.Equal(t, 401, status)
	status, _ = call(t, srv, "GET", "/sessions", token, "")
	assert.Equal(t, 401, status)

	// Logout everywhere: every session of alice's ends, bob's do not.
	var tokens []string
	for range 3 {
		_, p := call(t, srv, "POST", "/authorize", "", creds)
		tokens = append(tokens, tokenOf(t, p))
	}
	status, p := call(t, srv, "POST", "/register", "", `{"account":"bob","password":"battery staple"}`)
	require.Equal(t, 200, status, p)
	status, body = call(t, srv, "POST", "/logoutAll", tokens[0], "")
	require.Equal(t, 200, status, body)
	assert.Equal(t, float64(4), body["revoked"], "three logins and the session /register opened")
	for _, tok := range tokens {
		status, _ = call(t, srv, "GET", "/me", tok, "")
		assert.Equal(t, 401, status)
	}
	status, _ = call(t, srv, "GET", "/me", tokenOf(t, p), "")
	assert.Equal(t, 200, status, "another user's session lives on")

	// Passwords are stored hashed.
	stored, err := rdb.Get(context.Background(), accountKey("alice")).Result()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(stored, "$2"), "bcrypt hash")
	assert.NotContains(t, stored, "correct horse")
}

func TestThePrintedCurlSessionWorks(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("curl:"))
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, rdb.Del(context.Background(), accountKey("alice")).Err())
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	script := curlSession(srv.URL)
	for _, r := range []string{"/register", "/authorize", "/me", "/sessions", "/refreshToken", "/logout"} {
		assert.Contains(t, script, "$B"+r)
	}
	out, err := exec.Command("bash", "-e", "-c", script).CombinedOutput()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 8, string(out))
	assert.Contains(t, lines[0], `"refreshToken":`, "register")
	assert.Contains(t, lines[1], `"refreshToken":`, "authorize")
	assert.Contains(t, lines[2], `"views":1}`)
	assert.Contains(t, lines[3], `"views":2}`)
	assert.Contains(t, lines[4], `"current":true`, "sessions")
	assert.Equal(t, 2, strings.Count(lines[4], `"session":"alice:`), "register's and authorize's sessions: %s", lines[4])
	assert.Contains(t, lines[5], `"refreshToken":`, "refresh")
	assert.Equal(t, "204", lines[6], "logout")
	assert.Contains(t, lines[7], `"error":"invalid_token"`, "the token stops working")
}

func TestAccountStoreDownIs503(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/register", "/authorize"} {
		status, body := call(t, srv, "POST", path, "", `{"account":"alice","password":"correct horse"}`)
		assert.Equal(t, 503, status, path)
		assert.Equal(t, "unavailable", body["error"], path)
	}
}

// A Redis that hangs (paused, or packets dropped) answers nothing: the
// account store's calls give up after accountTimeout, not after go-redis's
// retries of its 3-second read timeout.
func TestAHungRedisCostsALoginAtMostTheAccountTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // never accepts: the kernel queues connections, nothing answers
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String()}) // go-redis's defaults: 3 retries of a 3 s read
	t.Cleanup(func() { rdb.Close() })
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// Register hashes the password before it calls Redis: allow for that
	// (slow under -race).
	start := time.Now()
	_, err = bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.DefaultCost)
	require.NoError(t, err)
	hashing := time.Since(start)
	for path, allowed := range map[string]time.Duration{
		"/authorize": accountTimeout + time.Second,
		"/register":  accountTimeout + time.Second + 2*hashing,
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			status, body := call(t, srv, "POST", path, "", `{"account":"alice","password":"correct horse"}`)
			took := time.Since(start)
			t.Logf("%s answered %d in %v (allowed %v)", path, status, took, allowed)
			assert.Equal(t, 503, status, body)
			assert.Equal(t, "unavailable", body["error"])
			assert.Less(t, took, allowed)
		})
	}
}

func TestPasswordsOverBcryptsLimitAreRefusedAtLoginToo(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("pw:"))
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, rdb.Del(context.Background(), accountKey("long")).Err())
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	pw72 := strings.Repeat("p", 72)
	creds := func(pw string) string { return `{"account":"long","password":"` + pw + `"}` }
	status, body := call(t, srv, "POST", "/register", "", creds(pw72+"x"))
	assert.Equal(t, 400, status, body)
	status, body = call(t, srv, "POST", "/register", "", creds(pw72))
	require.Equal(t, 200, status, body)
	status, body = call(t, srv, "POST", "/authorize", "", creds(pw72))
	assert.Equal(t, 200, status, "72 bytes is within the limit: %v", body)
	for _, pw := range []string{pw72 + "x", pw72 + "anything at all"} {
		status, body = call(t, srv, "POST", "/authorize", "", creds(pw))
		assert.Equal(t, 400, status, "a password sharing the first 72 bytes must not log in: %v", body)
		assert.Contains(t, body["error_description"], "8 to 72 bytes")
	}
	status, _ = call(t, srv, "POST", "/authorize", "", `{"account":"nobody","password":"`+pw72+`x"}`)
	assert.Equal(t, 400, status, "the same answer for an unknown account: the rule says nothing of accounts")
}

func TestTheServerSetsEveryTimeout(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), defaultTimeouts)
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		assert.Greater(t, d, time.Duration(0), name)
		assert.LessOrEqual(t, d, time.Minute, name)
	}
	assert.Greater(t, srv.WriteTimeout, srv.ReadTimeout, "a slow body must not eat the answer's time")
}

// Slow and idle clients lose their connections: without the timeouts each
// of these would hold one (and a goroutine) for as long as it liked.
func TestTheServerDropsSlowAndIdleClients(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithPrefix("slow:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	limits := timeouts{header: 300 * time.Millisecond, read: 600 * time.Millisecond, write: 2 * time.Second, idle: 400 * time.Millisecond}
	srv := newHTTPServer(h, limits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	defer srv.Close()

	// closedWithin reads conn until the server closes it, and fails if that
	// takes longer than d.
	closedWithin := func(t *testing.T, conn net.Conn, d time.Duration) string {
		t.Helper()
		start := time.Now()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
		got, err := io.ReadAll(conn)
		require.NoError(t, err, "the server should have closed the connection within %v (after %v)", d, time.Since(start))
		return string(got)
	}
	dial := func(t *testing.T, send string) net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = io.WriteString(conn, send)
		require.NoError(t, err)
		return conn
	}

	t.Run("headers never finished", func(t *testing.T) {
		conns := make([]net.Conn, 20)
		for i := range conns {
			conns[i] = dial(t, "POST /register HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n")
		}
		for _, c := range conns {
			closedWithin(t, c, limits.header+time.Second)
		}
	})
	t.Run("a body that never arrives", func(t *testing.T) {
		conns := make([]net.Conn, 20)
		for i := range conns {
			conns[i] = dial(t, "POST /register HTTP/1.1\r\nHost: demo\r\nContent-Length: 1000\r\n\r\n{\"account\":")
		}
		for _, c := range conns {
			got := closedWithin(t, c, limits.read+time.Second)
			if got != "" {
				assert.True(t, strings.HasPrefix(got, "HTTP/1.1 400"), got)
			}
		}
	})
	t.Run("an idle keep-alive connection", func(t *testing.T) {
		conn := dial(t, "GET /me HTTP/1.1\r\nHost: demo\r\n\r\n")
		got := closedWithin(t, conn, limits.idle+time.Second)
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 401"), "answered, then closed when idle: %s", got)
	})
}

// TestConcurrentViewsAllCount: 51 concurrent /me requests of one session
// count 51 views (a Get then Set counted 3).
func TestConcurrentViewsAllCount(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("views:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	status, pair := call(t, srv, "POST", "/register", "", `{"account":"counter","password":"correct horse"}`)
	require.Equal(t, 200, status, pair)
	token := tokenOf(t, pair)

	const n = 51
	var wg sync.WaitGroup
	seen := make([]float64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := call(t, srv, "GET", "/me", token, "")
			assert.Equal(t, 200, status, body)
			seen[i], _ = body["views"].(float64)
		}()
	}
	wg.Wait()
	sort.Float64s(seen)
	for i, v := range seen {
		assert.Equal(t, float64(i+1), v, "each request saw its own count")
	}
	_, body := call(t, srv, "GET", "/me", token, "")
	assert.Equal(t, float64(n+1), body["views"])
}

func TestDeviceListAndRevokeOne(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("devices:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	creds := `{"account":"dana","password":"correct horse"}`
	_, first := call(t, srv, "POST", "/register", "", creds)
	_, second := call(t, srv, "POST", "/authorize", "", creds)
	_, other := call(t, srv, "POST", "/register", "", `{"account":"dana:x","password":"correct horse"}`)

	status, body := call(t, srv, "GET", "/sessions", tokenOf(t, second), "")
	require.Equal(t, 200, status, body)
	list := body["sessions"].([]any)
	require.Len(t, list, 2)
	var firstSession string
	for _, e := range list {
		e := e.(map[string]any)
		meta := e["meta"].(map[string]any)
		assert.Equal(t, "127.0.0.1", meta["ip"])
		assert.Contains(t, meta["userAgent"], "Go-http-client")
		assert.NotNil(t, e["createdAt"])
		if e["current"] != true {
			firstSession = e["session"].(string)
		}
	}
	status, theirs := call(t, srv, "GET", "/sessions", tokenOf(t, other), "")
	require.Equal(t, 200, status, theirs)
	otherSession := theirs["sessions"].([]any)[0].(map[string]any)["session"].(string)
	require.True(t, strings.HasPrefix(otherSession, "dana:"), "a hostile id: dana:x's sessions start with dana:")

	status, _ = call(t, srv, "POST", "/revokeSession", tokenOf(t, second), `{"session":"`+otherSession+`"}`)
	assert.Equal(t, 404, status, "not hers")
	status, _ = call(t, srv, "GET", "/me", tokenOf(t, other), "")
	assert.Equal(t, 200, status)
	status, _ = call(t, srv, "POST", "/revokeSession", tokenOf(t, second), `{"session":"`+firstSession+`"}`)
	assert.Equal(t, 204, status)
	status, _ = call(t, srv, "GET", "/me", tokenOf(t, first), "")
	assert.Equal(t, 401, status)
	status, _ = call(t, srv, "GET", "/me", tokenOf(t, second), "")
	assert.Equal(t, 200, status)
}
