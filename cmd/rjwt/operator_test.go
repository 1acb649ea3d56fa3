package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	r := runCmd(t, "version").want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "rjwt ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("version: %q", r.stdout)
	}
	r = runCmd(t, "-json", "version").want(t, exitOK)
	if !strings.Contains(r.stdout, `"version":"`) {
		t.Errorf("version -json: %q", r.stdout)
	}
	r = runCmd(t, "help").want(t, exitOK)
	if !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "rjwt help [COMMAND]") {
		t.Errorf("help: %q", r.stdout)
	}
	for _, args := range [][]string{{"help", "watch"}, {"watch", "-h"}, {"-h", "watch"}, {"-prefix", "x:", "watch", "--help"}} {
		r = runCmd(t, args...).want(t, exitOK)
		if !strings.HasPrefix(r.stdout, "Usage: rjwt [flags] watch") || !strings.Contains(r.stdout, "-keep-config") || !strings.Contains(r.stdout, "-redis-file") {
			t.Errorf("%v: %q", args, r.stdout)
		}
	}
	for name := range commands {
		r = runCmd(t, "help", name).want(t, exitOK)
		if !strings.HasPrefix(r.stdout, "Usage: rjwt") || !strings.Contains(r.stdout, name) {
			t.Errorf("help %s: %q", name, r.stdout)
		}
	}
	runCmd(t, "help", "frobnicate").want(t, exitUsage)
	runCmd(t, "help", "a", "b").want(t, exitUsage)
	runCmd(t, "version", "extra").want(t, exitUsage)
	runCmd(t, "-keep-config", "stats").want(t, exitUsage)
	runCmd(t, "-keep-config", "-no-config", "watch").want(t, exitUsage)
}

// TestPasswordsAreNeverPrinted: a malformed URL with a password, from each
// source, fails naming its source, without the password.
func TestPasswordsAreNeverPrinted(t *testing.T) {
	t.Parallel()
	const pw = "S3cretPassw0rd"
	bad := "redis://:" + pw + "@127.0.0.1:1/%zz"
	file := filepath.Join(t.TempDir(), "redis-url")
	if err := os.WriteFile(file, []byte(bad+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		how    inv
		flags  []string
		source string
	}{
		{inv{}, []string{"-redis", bad}, "-redis"},
		{inv{env: []string{"REDIS_URL=" + bad}}, nil, "REDIS_URL"},
		{inv{}, []string{"-redis-file", file}, "-redis-file " + file},
		{inv{}, []string{"-json", "-redis", bad}, "-redis"},
	} {
		r := tc.how.run(t, append(tc.flags, "sessions", "alice")...).want(t, exitUsage)
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("%v %v: the password was printed:\n%s%s", tc.how.env, tc.flags, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "rjwt: "+tc.source+": ") || !strings.Contains(r.stderr, "xxxxx@") {
			t.Errorf("%v %v: the error does not name %s or show the redacted URL: %q", tc.how.env, tc.flags, tc.source, r.stderr)
		}
	}
	// A good URL whose server refuses the password: exit 3 or 1, no password.
	dead := deadAddr(t)
	r := runCmd(t, "-redis", "redis://user:"+pw+"@"+dead+"/0", "sessions", "alice")
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("dead server: the password was printed: %q", r.stderr)
	}
}

func TestRedisFlagWithAPasswordWarns(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	sign(t, app(t, redisAddr, p), "alice", "1 hour")
	r := runCmd(t, "-redis", "redis://default:anything@"+redisAddr+"/0", "-prefix", p, "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stderr, "warning: the -redis URL carries a password") || !strings.Contains(r.stderr, "-redis-file") ||
		strings.Contains(r.stderr, "anything") {
		t.Errorf("stderr %q", r.stderr)
	}
	// From REDIS_URL or -redis-file: no warning, and the same sessions.
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte("redis://default:anything@"+redisAddr+"/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, r := range []result{
		inv{env: []string{"REDIS_URL=redis://default:anything@" + redisAddr + "/0"}}.run(t, "-prefix", p, "sessions", "alice"),
		runCmd(t, "-redis-file", file, "-prefix", p, "sessions", "alice"),
	} {
		r.want(t, exitOK)
		if r.stderr != "" || !strings.Contains(r.stdout, "1 live session(s)") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	}
	runCmd(t, "-redis", redisAddr, "-redis-file", file, "sessions", "alice").want(t, exitUsage)
}

// TestPrefixFromTheEnvironmentAndWrongPrefixHint: RJWT_PREFIX is the
// default prefix; a prefix with no rjwt keys says so and names the one
// that has them.
func TestPrefixFromTheEnvironmentAndWrongPrefixHint(t *testing.T) {
	srv := redistest.Start(t) // its own keyspace: the hint walks all of it
	p := "app-" + strings.ToLower(randomKey(t)[:6]) + ":"
	sign(t, app(t, srv.Addr(), p), "alice", "1 hour")
	sign(t, app(t, srv.Addr(), p), "bob", "1 hour")

	env := inv{env: []string{"RJWT_PREFIX=" + p}}
	r := env.run(t, "-redis", srv.Addr(), "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stdout, "1 live session(s)") || r.stderr != "" {
		t.Errorf("RJWT_PREFIX: stdout %q stderr %q", r.stdout, r.stderr)
	}
	r = runCmd(t, "-redis", srv.Addr(), "-prefix", "wrong:", "sessions", "alice").want(t, exitOK)
	if !strings.Contains(r.stderr, `no rjwt session or index keys under prefix "wrong:"`) || !strings.Contains(r.stderr, `"`+p+`" (`) {
		t.Errorf("wrong prefix: stderr %q", r.stderr)
	}
	r = runCmd(t, "-redis", srv.Addr(), "-prefix", "wrong:", "stats").want(t, exitOK)
	if !strings.Contains(r.stdout, `"`+p+`" (`) {
		t.Errorf("stats with a wrong prefix: %q", r.stdout)
	}
	r = runCmd(t, "-redis", srv.Addr(), "-prefix", "wrong:", "revoke-all", "alice").want(t, exitOK)
	if !strings.Contains(r.stderr, `"`+p+`" (`) {
		t.Errorf("revoke-all with a wrong prefix: stderr %q", r.stderr)
	}
	// The right prefix, a user with no sessions: no hint.
	r = env.run(t, "-redis", srv.Addr(), "sessions", "carol").want(t, exitOK)
	if r.stderr != "" {
		t.Errorf("a user without sessions under the right prefix: stderr %q", r.stderr)
	}
}

// TestWatchRestoresKeyspaceConfig: watch says it changes
// notify-keyspace-events and sets the old value back on exit; -keep-config
// keeps it; -no-config changes nothing and still runs.
func TestWatchRestoresKeyspaceConfig(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--notify-keyspace-events", "El")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	nke := func() string {
		t.Helper()
		v, err := rdb.ConfigGet(context.Background(), "notify-keyspace-events").Result()
		if err != nil {
			t.Fatal(err)
		}
		return v["notify-keyspace-events"]
	}
	before := nke()

	w := startWatch(t, "-redis", srv.Addr())
	w.waitFor(t, " ready")
	during := nke()
	if !hasKeyspaceFlags(during) {
		t.Errorf("during watch: notify-keyspace-events %q lacks K, g, x", during)
	}
	w.stop(t, os.Interrupt)
	if got := nke(); got != before {
		t.Errorf("after watch: notify-keyspace-events %q, want %q back", got, before)
	}
	if s := w.stderr.String(); !strings.Contains(s, `set notify-keyspace-events to "`+during+`" (was "`+before+`")`) ||
		!strings.Contains(s, `set back to "`+before+`"`) {
		t.Errorf("watch's stderr does not say what it changed and restored: %q", s)
	}

	w = startWatch(t, "-redis", srv.Addr(), "-no-config")
	w.waitFor(t, " ready")
	if got := nke(); got != before {
		t.Errorf("-no-config changed notify-keyspace-events to %q", got)
	}
	w.stop(t, os.Interrupt)
	if s := w.stderr.String(); !strings.Contains(s, "-no-config leaves it") {
		t.Errorf("-no-config stderr %q", s)
	}

	w = startWatch(t, "-redis", srv.Addr(), "-keep-config")
	w.waitFor(t, " ready")
	w.stop(t, os.Interrupt)
	if got := nke(); !hasKeyspaceFlags(got) {
		t.Errorf("-keep-config: notify-keyspace-events %q after exit, want it kept", got)
	}
	if s := w.stderr.String(); !strings.Contains(s, "-keep-config: it stays set") {
		t.Errorf("-keep-config stderr %q", s)
	}
}
