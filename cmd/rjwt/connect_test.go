package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

func TestRedisUnavailableIsExit3(t *testing.T) {
	t.Parallel()
	dead := deadAddr(t)
	c := app(t, redisAddr, prefix(t))
	token, session := sign(t, c, "alice", "1 hour")
	withKey := inv{env: []string{"RJWT_SECRET=" + string(secret)}}
	for i, args := range [][]string{
		{"sessions", "alice"},
		{"revoke", session},
		{"revoke-all", "alice"},
		{"inspect", token},
		{"stats"},
		{"watch"},
	} {
		// Half from -redis, half from REDIS_URL; inspect with and without a key.
		how, flags := withKey, []string{"-redis", dead}
		if i%2 == 1 {
			how, flags = inv{env: []string{"REDIS_URL=redis://" + dead + "/0"}}, nil
		}
		start := time.Now()
		r := how.run(t, append(flags, args...)...)
		if r.code != exitUnavailable || !strings.Contains(r.stderr, "(Redis unavailable)") {
			t.Errorf("%v %v: exit %d, want %d; stderr %q", how.env, args, r.code, exitUnavailable, r.stderr)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%v: took %v to report a dead port", args, d)
		}
	}
	// The session was not touched, and inspect without a key says so too.
	r := runCmd(t, "-redis", dead, "-json", "inspect", token).want(t, exitUnavailable)
	if !strings.Contains(r.stdout, `"redis":{"state":"unavailable"`) || !strings.Contains(r.stdout, `"user":"alice"`) {
		t.Errorf("inspect still decodes with Redis down: %q", r.stdout)
	}
	r = runCmd(t, "-redis", dead, "-json", "sessions", "alice").want(t, exitUnavailable)
	if !strings.Contains(r.stdout, `"status":"unavailable"`) {
		t.Errorf("-json failure object %q", r.stdout)
	}
}

// A server that accepts connections and never answers: -timeout bounds the
// wait, and a timeout is "unavailable" too.
func TestTimeoutIsExit3(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	start := time.Now()
	runCmd(t, "-redis", l.Addr().String(), "-timeout", "300ms", "sessions", "alice").want(t, exitUnavailable)
	t.Logf("-timeout 300ms: exit 3 after %v", time.Since(start))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("-timeout 300ms took %v", d)
	}
}

func TestRedisFlagWinsOverREDIS_URL(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	sign(t, app(t, redisAddr, p), "alice", "1 hour")
	env := inv{env: []string{"REDIS_URL=redis://" + deadAddr(t)}}
	r := env.run(t, "-redis", "redis://"+redisAddr+"/0", "-prefix", p, "-json", "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stdout, `"count":1`) {
		t.Errorf("stdout %q", r.stdout)
	}
	// Another database holds none of them.
	r = runCmd(t, "-redis", "redis://"+redisAddr+"/3", "-prefix", p, "-json", "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stdout, `"count":0`) {
		t.Errorf("db 3: stdout %q", r.stdout)
	}
}

// TestTLS runs the command over rediss:// against a redis-server with a
// self-signed certificate.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := redistest.SelfSignedCert(t, dir)
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t, "--tls-port", fmt.Sprint(port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	p := prefix(t)
	sign(t, app(t, srv.Addr(), p), "alice", "1 hour") // over the plain port

	tlsURL := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)
	r := runCmd(t, "-redis", tlsURL+"?skip_verify=true", "-prefix", p, "-json", "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stdout, `"count":1`) {
		t.Errorf("stdout %q", r.stdout)
	}
	// Unverifiable certificate, or plain text to a TLS port: no connection.
	runCmd(t, "-redis", tlsURL, "sessions", "alice").want(t, exitUnavailable)
	runCmd(t, "-redis", fmt.Sprintf("redis://127.0.0.1:%d", port), "-timeout", "500ms", "sessions", "alice").want(t, exitUnavailable)
}

func TestRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		in, network, addr string
		db                int
		password          string
		tls               bool
	}{
		{"127.0.0.1:6380", "", "127.0.0.1:6380", 0, "", false},
		{"[::1]:6380", "", "[::1]:6380", 0, "", false},
		{"redis://:pw@10.0.0.1:6380/2", "tcp", "10.0.0.1:6380", 2, "pw", false},
		{"rediss://user:pw@cache.example:6390/1", "tcp", "cache.example:6390", 1, "pw", true},
		{"/run/redis.sock", "unix", "/run/redis.sock", 0, "", false},
		{"unix:///run/redis.sock?db=4", "unix", "/run/redis.sock", 4, "", false},
	} {
		o, err := redisOptions(target{tc.in, "-redis"})
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if o.Network != tc.network || o.Addr != tc.addr || o.DB != tc.db || o.Password != tc.password || (o.TLSConfig != nil) != tc.tls || !o.ContextTimeoutEnabled {
			t.Errorf("%s: network %q addr %q db %d password %q tls %v", tc.in, o.Network, o.Addr, o.DB, o.Password, o.TLSConfig != nil)
		}
	}
	if o, _ := redisOptions(target{"redis://h:1?max_retries=7", "-redis"}); o.MaxRetries != 7 {
		t.Errorf("a URL's max_retries was overridden: %d", o.MaxRetries)
	}
}

func TestIsUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("rjwt: x: %w", rjwt.ErrUnavailable), true},
		{fmt.Errorf("rjwt: sessions: redis: %w", refused), true},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true},
		{redis.ErrPoolTimeout, true},
		{rjwt.ErrSessionNotFound, false},
		{rjwt.ErrInvalidToken, false},
		{redis.Nil, false},
		{errors.New("WRONGPASS invalid username-password pair"), false},
	} {
		if got := isUnavailable(tc.err); got != tc.want {
			t.Errorf("isUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestClassifyKey(t *testing.T) {
	const p = "rjwt:"
	for _, tc := range []struct {
		key  string
		kind keyKind
		user string
	}{
		{"rjwt:{alice}:V1StGXR8_Z5jdHi6B-myT", kindSession, "alice"},
		{"rjwt:{alice}:idx", kindIndex, "alice"},
		{"rjwt:{alice}", kindLean, "alice"},
		{"rjwt:{%7Bx%7D}", kindLean, "{x}"},
		{"rjwt:{}", kindOther, ""},
		{"rjwt:{a:b}:V1StGXR8_Z5jdHi6B-myT", kindSession, "a:b"},
		{"rjwt:{%7Bx%7D}:idx", kindIndex, "{x}"},
		{"rjwt:{alice}:op:V1StGXR8_Z5jdHi6B-myT", kindAnswer, "alice"},
		{"rjwt:{alice}:short", kindOther, ""},
		{"rjwt:{alice}:V1StGXR8_Z5jdHi6B-my!", kindOther, ""},
		{"rjwt:alice:V1StGXR8_Z5jdHi6B-myT", kindOther, ""},
		{"rjwt:{}:idx", kindOther, ""},
		{"other:{alice}:idx", kindOther, ""},
	} {
		kind, user := classifyKey(p, tc.key)
		if kind != tc.kind || user != tc.user {
			t.Errorf("classifyKey(%q) = %v, %q; want %v, %q", tc.key, kind, user, tc.kind, tc.user)
		}
	}
}

// The JSON field names are what scripts read: keep them.
func TestJSONFieldNames(t *testing.T) {
	b, _ := json.Marshal(statsOut{})
	for _, f := range []string{`"prefix"`, `"sessions"`, `"users"`, `"indexes"`, `"otherKeys"`, `"dbKeys"`, `"scan"`, `"warnings"`, `"notes"`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("stats JSON lacks %s: %s", f, b)
		}
	}
}

func TestVerdictWords(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "valid"},
		{fmt.Errorf("%w: token is expired", rjwt.ErrTokenExpired), "expired"},
		{fmt.Errorf("%w: alice:x", rjwt.ErrSessionNotFound), "revoked"},
		{fmt.Errorf("%w: token signature is invalid: signature is invalid", rjwt.ErrInvalidToken), "bad signature"},
		{fmt.Errorf("%w: 'none' signature type is not allowed", rjwt.ErrInvalidToken), "invalid"},
		{fmt.Errorf("rjwt: verify: redis: %w", &net.OpError{Op: "dial", Err: errors.New("refused")}), "not checked (redis unavailable)"},
		{errors.New("rjwt: verify: redis: NOPERM this user has no permissions"), "not checked (redis error)"},
	} {
		if got, _ := verdict(tc.err); got != tc.want {
			t.Errorf("verdict(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
