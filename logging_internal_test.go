package rjwt

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

// recorder is a slog.Handler that keeps every record, for tests.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// find returns the first record at level whose message contains msg, and
// whether there is one.
func (r *recorder) find(level slog.Level, msg string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Level == level && strings.Contains(rec.Message, msg) {
			return rec, true
		}
	}
	return slog.Record{}, false
}

func attr(rec slog.Record, key string) string {
	var v string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// syncBuffer is a bytes.Buffer safe for go-redis's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// captureStderr sends what rjwt's go-redis logger passes on to stderr to a
// buffer until the test ends.
func captureStderr(t *testing.T) *syncBuffer {
	buf := new(syncBuffer)
	RouteRedisLogs()
	redisLog.SetOutput(buf)
	t.Cleanup(func() { redisLog.SetOutput(os.Stderr) })
	return buf
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// A client rjwt built, with Redis down: go-redis's dial failures and rjwt's
// own report go to WithLogger's logger, and nothing of it to stderr, while
// a go-redis client of the program's own still prints there as go-redis's
// default logger does.
func TestLoggerRoutesGoRedisDialFailures(t *testing.T) {
	stderr := captureStderr(t)
	addr := deadAddr(t)
	rec := new(recorder)
	c, err := New(WithSecret(testKey), WithAddr(addr), WithLogger(slog.New(rec)), WithHealthCheck(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	waitFor(t, "go-redis's dial failure in the client's log", func() bool {
		_, ok := rec.find(slog.LevelDebug, "failed to dial")
		return ok
	})
	waitFor(t, "a Warn record for Redis unreachable at start", func() bool {
		_, ok := rec.find(slog.LevelWarn, "rjwt: background error")
		return ok
	})
	r, _ := rec.find(slog.LevelWarn, "rjwt: background error")
	if got := attr(r, "event"); got != "error" {
		t.Errorf("event attribute %q, want error", got)
	}
	if got := attr(r, "error"); !strings.Contains(got, "connection refused") {
		t.Errorf("error attribute %q does not name the cause", got)
	}
	// A call during the outage fails, and its own dial failure is routed too.
	if _, err := c.Sign(context.Background(), "alice"); err == nil {
		t.Fatal("Sign succeeded with Redis down")
	}

	// The program's own client, on the same dead port.
	own := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	defer own.Close()
	own.Ping(context.Background())
	waitFor(t, "the program's own client's message on stderr", func() bool {
		return strings.Contains(stderr.String(), "failed to dial")
	})
	out := stderr.String()
	if !strings.HasPrefix(out, "redis: ") || !strings.Contains(out, "pool.go:") {
		t.Errorf("passed-on message is not in go-redis's default format (prefix, file:line): %q", out)
	}
	if n := strings.Count(out, "failed to dial"); n != 1 {
		t.Errorf("stderr has %d dial failures, want only the program's own client's one:\n%s", n, out)
	}
}

// Without WithLogger, a client rjwt built prints nothing at all.
func TestNoLoggerPrintsNothing(t *testing.T) {
	stderr := captureStderr(t)
	c, err := New(WithSecret(testKey), WithAddr(deadAddr(t)), WithHealthCheck(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if c.Logger() != nil {
		t.Error("Logger() is not nil without WithLogger")
	}
	if _, err := c.Verify(context.Background(), "x"); err == nil {
		t.Fatal("Verify of garbage succeeded")
	}
	c.Sign(context.Background(), "alice")
	time.Sleep(300 * time.Millisecond) // a dozen health checks
	c.Close()
	if out := stderr.String(); strings.Contains(out, "127.0.0.1") {
		t.Errorf("stderr got rjwt's client's messages:\n%s", out)
	}
}

func TestLoggerGetter(t *testing.T) {
	l := slog.New(new(recorder))
	c, err := New(WithSecret(testKey), WithLogger(l), WithAddr(deadAddr(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Logger() != l {
		t.Error("Logger() is not WithLogger's logger")
	}
}

// Event drops are logged at the 1st, 2nd, 4th... drop, with the count.
func TestLoggerEventDrops(t *testing.T) {
	rec := new(recorder)
	c, err := New(WithSecret(testKey), WithAddr(deadAddr(t)), WithLogger(slog.New(rec)), WithEventBuffer(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := c.DroppedEvents()
	for range 10 {
		c.emit(Event{Type: EventSessionRevoked, Session: "a:b"})
	}
	dropped := c.DroppedEvents() - before
	if dropped < 9 {
		t.Fatalf("dropped %d of 10 events into a buffer of 1", dropped)
	}
	rec.mu.Lock()
	var counts []string
	for _, r := range rec.recs {
		if strings.Contains(r.Message, "event dropped") {
			if r.Level != slog.LevelWarn {
				t.Errorf("drop logged at %v", r.Level)
			}
			counts = append(counts, attr(r, "dropped"))
		}
	}
	rec.mu.Unlock()
	// The client's own lifecycle events may have been dropped first.
	for _, n := range counts {
		switch n {
		case "1", "2", "4", "8", "16":
		default:
			t.Errorf("drop logged at count %s, not a power of two", n)
		}
	}
	if len(counts) < 3 || len(counts) > 5 {
		t.Errorf("%d drop records for %d drops: %v", len(counts), dropped, counts)
	}
}

// Health transitions against a real Redis: connected and ready at Info, an
// outage at Warn with its cause, and the recovery.
func TestLoggerHealthTransitions(t *testing.T) {
	srv := redistest.Start(t)
	rec := new(recorder)
	c, err := New(WithSecret(testKey), WithAddr(srv.Addr()), WithLogger(slog.New(rec)), WithHealthCheck(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "ready logged", func() bool { _, ok := rec.find(slog.LevelInfo, "rjwt: ready"); return ok })
	if _, ok := rec.find(slog.LevelInfo, "rjwt: redis connected"); !ok {
		t.Error("connected not logged at Info")
	}
	srv.Kill()
	waitFor(t, "disconnect logged", func() bool { _, ok := rec.find(slog.LevelWarn, "rjwt: redis disconnected"); return ok })
	r, _ := rec.find(slog.LevelWarn, "rjwt: redis disconnected")
	if got := attr(r, "error"); !strings.Contains(got, "refused") && !strings.Contains(got, "EOF") && !strings.Contains(got, "reset") {
		t.Errorf("disconnect's error attribute %q names no cause", got)
	}
	rec.mu.Lock()
	n := len(rec.recs)
	rec.mu.Unlock()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnect logged", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, r := range rec.recs[n:] {
			if r.Message == "rjwt: redis connected" {
				return true
			}
		}
		return false
	})
}
