package rjwt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

// hookCall is what recordingHooks saw of one operation.
type hookCall struct {
	name    string
	op      Op
	outcome Outcome
	err     error
	d       time.Duration
	ctxMark any // the value Start put in the context, as End saw it
}

type markKey struct{}

// recordingHooks records Start and End in a shared log.
type recordingHooks struct {
	name string
	mu   *sync.Mutex
	log  *[]string
	ends *[]hookCall
}

func (h recordingHooks) Start(ctx context.Context, op Op) context.Context {
	h.mu.Lock()
	*h.log = append(*h.log, h.name+" start "+op.String())
	h.mu.Unlock()
	return context.WithValue(ctx, markKey{}, h.name+":"+op.String())
}

func (h recordingHooks) End(ctx context.Context, op Op, o Outcome, err error, d time.Duration) {
	h.mu.Lock()
	*h.log = append(*h.log, h.name+" end "+op.String()+" "+o.String())
	*h.ends = append(*h.ends, hookCall{h.name, op, o, err, d, ctx.Value(markKey{})})
	h.mu.Unlock()
}

// expiredToken is an access token of a session of c's that expired an hour
// ago, correctly signed.
func expiredToken(t *testing.T, c *Client, id string) string {
	t.Helper()
	claims := c.accessClaims(id, "V1StGXR8_Z5jdHi6B-myT", "V1StGXR8_Z5jdHi6B-myU", nil, time.Minute, time.Now().Add(-time.Hour))
	tok, err := c.signToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Every outcome of every counted operation, against a real Redis.
func TestStatsCountOutcomes(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c, err := New(WithSecret(testKey), WithAddr(srv.Addr()), WithPrefix("stats:"), WithMultiple(true), WithRefreshGrace(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := c.Stats(); s != (Stats{}) {
		t.Fatalf("a new client's stats are %+v", s)
	}

	tok, err := c.Sign(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	c.Verify(ctx, "garbage")                              // invalid
	c.Verify(ctx, expiredToken(t, c, "alice"))            // expired
	c.Sign(ctx, "")                                       // invalid id
	c.Sign(ctx, "alice", WithTTL("forever"))              // invalid TTL
	if err := c.Revoke(ctx, claims.Session); err != nil { // ok
		t.Fatal(err)
	}
	c.Revoke(ctx, claims.Session) // revoked
	c.Verify(ctx, tok)            // revoked
	c.Revoke(ctx, "no-colon")     // invalid
	pair, err := c.SignPair(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, pair.RefreshToken); err != nil { // ok
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, pair.RefreshToken); !errors.Is(err, ErrRefreshReused) { // reused: revoked
		t.Fatalf("second refresh: %v", err)
	}
	c.Refresh(ctx, pair.Token) // an access token: invalid
	c.Sign(ctx, "bob")
	if n, err := c.RevokeAll(ctx, "bob"); err != nil || n != 1 { // ok
		t.Fatalf("RevokeAll: %d %v", n, err)
	}
	c.RevokeAll(ctx, "") // invalid

	// With Redis gone: unavailable.
	srv.Kill()
	c.Verify(ctx, tok)
	c.Sign(ctx, "carol")

	want := Stats{
		Sign:      OpStats{OK: 2, Invalid: 2, Unavailable: 1},
		SignPair:  OpStats{OK: 1},
		Verify:    OpStats{OK: 1, Invalid: 1, Expired: 1, Revoked: 1, Unavailable: 1},
		Refresh:   OpStats{OK: 1, Revoked: 1, Invalid: 1},
		Revoke:    OpStats{OK: 1, Revoked: 1, Invalid: 1},
		RevokeAll: OpStats{OK: 1, Invalid: 1},
	}
	if got := c.Stats(); got != want {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
	if got := c.Stats().Op(OpVerify).Total(); got != 5 {
		t.Errorf("Verify total %d, want 5", got)
	}
	if got := c.Stats().Op(OpRefresh).Get(OutcomeRevoked); got != 1 {
		t.Errorf("Refresh revoked %d, want 1", got)
	}
}

func TestOutcomeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
	}{
		{nil, OutcomeOK},
		{fmt.Errorf("x: %w", ErrTokenExpired), OutcomeExpired},
		{fmt.Errorf("x: %w", ErrSessionNotFound), OutcomeRevoked},
		{ErrRefreshReused, OutcomeRevoked},
		{ErrInvalidToken, OutcomeInvalid},
		{ErrInvalidID, OutcomeInvalid},
		{ErrInvalidTTL, OutcomeInvalid},
		{ErrTooLarge, OutcomeInvalid},
		{fmt.Errorf("rjwt: verify: %w: %w", ErrUnavailable, &net.OpError{Op: "dial"}), OutcomeUnavailable},
		{errors.New("rjwt: verify: redis: ERR something"), OutcomeError},
		{context.Canceled, OutcomeError},
	} {
		if got := tc.err; OutcomeOf(got) != tc.want {
			t.Errorf("OutcomeOf(%v) = %v, want %v", tc.err, OutcomeOf(got), tc.want)
		}
	}
	if OutcomeUnavailable.String() != "unavailable" || OpRevokeAll.String() != "revoke_all" || Op(99).String() != "Op(99)" {
		t.Error("names")
	}
}

// Hooks: Start in order and End in reverse, each End sees its own Start's
// context, the outcome and the error, and the operation's Redis calls run
// with the last Start's context.
func TestHooks(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	var (
		mu   sync.Mutex
		log  []string
		ends []hookCall
	)
	h1 := recordingHooks{"h1", &mu, &log, &ends}
	h2 := recordingHooks{"h2", &mu, &log, &ends}

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	var redisMarks []any
	rdb.AddHook(ctxHook{func(ctx context.Context) {
		if m := ctx.Value(markKey{}); m != nil {
			mu.Lock()
			redisMarks = append(redisMarks, m)
			mu.Unlock()
		}
	}})
	c, err := New(WithSecret(testKey), WithRedisClient(rdb), WithPrefix("hooks:"), WithHooks(h1), WithHooks(h2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	tok, err := c.Sign(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	log, ends, redisMarks = nil, nil, nil
	mu.Unlock()
	if _, err := c.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	_, verr := c.Verify(ctx, "garbage")

	mu.Lock()
	defer mu.Unlock()
	wantLog := []string{
		"h1 start verify", "h2 start verify", "h2 end verify ok", "h1 end verify ok",
		"h1 start verify", "h2 start verify", "h2 end verify invalid", "h1 end verify invalid",
	}
	if fmt.Sprint(log) != fmt.Sprint(wantLog) {
		t.Errorf("hook calls\n got %v\nwant %v", log, wantLog)
	}
	if len(ends) != 4 {
		t.Fatalf("%d End calls", len(ends))
	}
	for _, e := range ends {
		if e.ctxMark != e.name+":verify" {
			t.Errorf("%s End saw context mark %v", e.name, e.ctxMark)
		}
		if e.d <= 0 {
			t.Errorf("%s End duration %v", e.name, e.d)
		}
	}
	if ends[0].err != nil || ends[2].err != verr || ends[2].outcome != OutcomeInvalid {
		t.Errorf("End errors: %v, %v (Verify returned %v)", ends[0].err, ends[2].err, verr)
	}
	// EVALSHA, and EVAL the first time (NOSCRIPT): each with the mark.
	if len(redisMarks) == 0 {
		t.Error("Verify's Redis calls did not run with the hooks' context")
	}
	for _, m := range redisMarks {
		if m != "h2:verify" {
			t.Errorf("a Redis call of Verify ran with mark %v, want h2:verify", m)
		}
	}
}

// ctxHook is a go-redis hook that reports each command's context.
type ctxHook struct{ see func(context.Context) }

func (h ctxHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h ctxHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.see(ctx)
		return next(ctx, cmd)
	}
}
func (h ctxHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestWithHooksNil(t *testing.T) {
	if _, err := New(WithSecret(testKey), WithHooks(nil)); err == nil {
		t.Fatal("New accepted nil hooks")
	}
}

// Counting allocates nothing, on success and on failure.
func TestCountingAllocatesNothing(t *testing.T) {
	c, err := New(WithSecret(testKey), WithAddr(deadAddr(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	fail := fmt.Errorf("rjwt: %w: x", ErrUnavailable)
	for _, err := range []error{nil, fail} {
		if n := testing.AllocsPerRun(1000, func() {
			ctx, cl := c.begin(ctx, OpVerify)
			c.end(ctx, cl, err)
		}); n != 0 {
			t.Errorf("begin+end with error %v: %v allocations", err, n)
		}
	}
	if got := c.Stats().Verify; got.OK < 1000 || got.Unavailable < 1000 {
		t.Errorf("counted %+v", got)
	}
}

// BenchmarkCounting is what Stats costs each call: begin and end without
// hooks, from every core at once.
func BenchmarkCounting(b *testing.B) {
	c, err := New(WithSecret(testKey), WithAddr("127.0.0.1:1"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cl := c.begin(ctx, OpVerify)
			c.end(ctx, cl, nil)
		}
	})
}
