package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// The tests build the command once and run the binary, as an operator
// would, against a private redis-server.
var (
	bin         string
	redisAddr   string
	raceEnabled bool // set by race_test.go: the binary is built with -race too
)

// secret is the application's key in these tests.
var secret = []byte("0123456789abcdef0123456789abcdef-test-key")

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rjwt-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "rjwt")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building rjwt:", err)
		os.Exit(1)
	}
	// The shared server has the keyspace classes rjwt needs, so that no
	// watch changes (and, on exit, restores) its configuration under the
	// others running in parallel; watch_config_test.go uses servers of its own.
	srv, err := redistest.StartServer("--notify-keyspace-events", "KEA")
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		os.Exit(1)
	}
	redisAddr = srv.Addr()
	code := m.Run()
	srv.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// inv is one invocation of the binary: extra environment and stdin.
type inv struct {
	env   []string // "NAME=value"
	stdin string
}

// run runs the binary with args. The caller's REDIS_URL, RJWT_SECRET and RJWT_PREFIX are
// never inherited: each test says what it sets.
func (i inv) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), i.env...)
	cmd.Stdin = strings.NewReader(i.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("rjwt %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	return inv{}.run(t, args...)
}

func cleanEnv() []string {
	// A race-built binary sleeps a second at a clean exit unless told not
	// to; a data race still fails it (exit 66, report on stderr).
	env := []string{"GORACE=atexit_sleep_ms=0 exitcode=66"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDIS_URL=") && !strings.HasPrefix(kv, "RJWT_SECRET=") && !strings.HasPrefix(kv, "RJWT_PREFIX=") {
			env = append(env, kv)
		}
	}
	return env
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// prefix is a key prefix of the test's own, so tests share one Redis.
func prefix(t *testing.T) string {
	return "t-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + ":"
}

// app is the application's client: it signs the sessions the command sees.
func app(t *testing.T, addr, prefix string, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	// The classic layout on every server, so that the tests that read keys
	// know them; the command itself takes the layout the server supports,
	// and reads both (TestCommandsReadBothLayouts).
	c, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(secret), rjwt.WithAddr(addr), rjwt.WithPrefix(prefix), rjwt.WithMultiple(true),
		rjwt.WithLayout(rjwt.LayoutClassic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sign signs a session and returns its token and session name.
func sign(t *testing.T, c *rjwt.Client, user, ttl string) (token, session string) {
	t.Helper()
	ctx := context.Background()
	token, err := c.Sign(ctx, user, rjwt.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.Verify(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	return token, claims.Session
}

func deadAddr(t *testing.T) string {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func randomKey(t *testing.T) string {
	b := make([]byte, 24)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	r := runCmd(t).want(t, exitUsage)
	if !strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
		t.Errorf("no args: usage belongs on stderr; stdout %q stderr %q", r.stdout, r.stderr)
	}
	r = runCmd(t, "-h").want(t, exitOK)
	if !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "revoke-all USER") {
		t.Errorf("-h: usage not on stdout: %q", r.stdout)
	}
	r = runCmd(t, "frobnicate").want(t, exitUsage)
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr %q", r.stderr)
	}
}

// TestUsageErrors runs the command in process: these fail before any Redis.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sessions"},
		{"sessions", "a", "b"},
		{"revoke"},
		{"revoke-all"},
		{"inspect"},
		{"watch", "extra"},
		{"stats", "extra"},
		{"-bogus", "stats"},
		{"-timeout", "0s", "stats"},
		{"-timeout", "soon", "stats"},
		{"-redis", "no-port-here", "sessions", "alice"},
		{"-redis", "ftp://127.0.0.1:1", "sessions", "alice"},
		{"-prefix", "bad{prefix}:", "-redis", redisAddr, "stats"},
		{"-secret-file", "/nonexistent/key", "-redis", redisAddr, "inspect", "a.b.c"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr, func(string) string { return "" })
		if code != exitUsage {
			t.Errorf("rjwt %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), code, exitUsage, stderr.String())
		}
		if !strings.HasPrefix(stderr.String(), "rjwt: ") || stdout.Len() != 0 {
			t.Errorf("rjwt %s: stdout %q, stderr %q: want only an error on stderr", strings.Join(args, " "), stdout.String(), stderr.String())
		}
	}
	for _, h := range []string{"-h", "-help", "--help", "stats -h"} {
		var stdout, stderr bytes.Buffer
		if code := run(strings.Fields(h), nil, &stdout, &stderr, os.Getenv); code != exitOK || !strings.Contains(stdout.String(), "Usage:") {
			t.Errorf("%s: exit %d, stdout %q", h, code, stdout.String())
		}
	}
}

func TestFlagsAfterTheCommandAndDoubleDash(t *testing.T) {
	t.Parallel()
	c := app(t, redisAddr, prefix(t))
	sign(t, c, "-dash", "10 minutes")
	// Flags may follow the subcommand; "--" makes "-dash" a user, not a flag.
	r := runCmd(t, "sessions", "-redis", redisAddr, "-prefix", prefix(t), "-json", "--", "-dash").want(t, exitOK)
	if !strings.Contains(r.stdout, `"user":"-dash","count":1`) {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestSecretIsNeverAFlag(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	for _, args := range [][]string{
		{"-secret", key, "inspect", "x.y.z"},
		{"--secret=" + key, "inspect", "x.y.z"},
		{"inspect", "x.y.z", "-secret", key},
		{"-key", key, "stats"},
	} {
		r := runCmd(t, append(args, "-redis", redisAddr)...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
		}
		if !strings.Contains(r.stderr, "RJWT_SECRET") || !strings.Contains(r.stderr, "-secret-file") {
			t.Errorf("%v: stderr %q does not say where the key goes", args, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, key) {
			t.Errorf("%v: the refused key was echoed back", args)
		}
	}
}
