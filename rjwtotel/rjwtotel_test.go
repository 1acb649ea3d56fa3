package rjwtotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/rjwtotel"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// setup is a client on a private redis-server, instrumented with rjwtotel on
// in-memory SDK providers.
type setup struct {
	srv    *redistest.Server
	c      *rjwt.Client
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newSetup(t *testing.T, opts ...rjwtotel.Option) *setup {
	t.Helper()
	s := &setup{srv: redistest.Start(t), reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() { mp.Shutdown(context.Background()); s.tp.Shutdown(context.Background()) })
	hooks, err := rjwtotel.NewHooks(append([]rjwtotel.Option{rjwtotel.WithMeterProvider(mp), rjwtotel.WithTracerProvider(s.tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s.c, err = rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr(s.srv.Addr()), rjwt.WithHooks(hooks), rjwt.WithRefreshGrace(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.c.Close() })
	return s
}

func (s *setup) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != rjwtotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

type key struct{ op, outcome string }

func keyOf(set attribute.Set) key {
	op, _ := set.Value(rjwtotel.OperationKey)
	out, _ := set.Value(rjwtotel.OutcomeKey)
	return key{op.AsString(), out.AsString()}
}

// exercise makes calls of every operation with several outcomes.
func exercise(t *testing.T, c *rjwt.Client) {
	t.Helper()
	ctx := context.Background()
	tok, err := c.Sign(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	c.Verify(ctx, tok)
	c.Verify(ctx, "garbage")
	c.Sign(ctx, "")
	if err := c.Revoke(ctx, claims.Session); err != nil {
		t.Fatal(err)
	}
	c.Verify(ctx, tok)
	pair, err := c.SignPair(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, pair.RefreshToken); !errors.Is(err, rjwt.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	c.RevokeAll(ctx, "bob")
}

// The counter and the histogram agree with the client's own Stats, for
// every operation and outcome.
func TestMetricsMatchStats(t *testing.T) {
	s := newSetup(t)
	exercise(t, s.c)
	s.srv.Kill()
	s.c.Verify(context.Background(), "x.y.z")  // invalid: no Redis needed
	s.c.RevokeAll(context.Background(), "bob") // unavailable

	rm := s.collect(t)
	m, ok := find(rm, "rjwt.operations")
	if !ok {
		t.Fatal("no rjwt.operations")
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("rjwt.operations is %T, not a monotonic int64 sum", m.Data)
	}
	counted := map[key]int64{}
	for _, dp := range sum.DataPoints {
		counted[keyOf(dp.Attributes)] += dp.Value
	}
	want := map[key]int64{}
	stats := s.c.Stats()
	for _, op := range []rjwt.Op{rjwt.OpSign, rjwt.OpSignPair, rjwt.OpVerify, rjwt.OpRefresh, rjwt.OpRevoke, rjwt.OpRevokeAll} {
		for _, out := range []rjwt.Outcome{rjwt.OutcomeOK, rjwt.OutcomeExpired, rjwt.OutcomeRevoked, rjwt.OutcomeInvalid, rjwt.OutcomeUnavailable, rjwt.OutcomeError} {
			if n := stats.Op(op).Get(out); n > 0 {
				want[key{op.String(), out.String()}] = int64(n)
			}
		}
	}
	if len(want) < 9 {
		t.Fatalf("the exercise reached only %d operation/outcome pairs: %v", len(want), want)
	}
	for k, n := range want {
		if counted[k] != n {
			t.Errorf("%v: counted %d, Stats says %d", k, counted[k], n)
		}
	}
	for k, n := range counted {
		if want[k] != n {
			t.Errorf("%v: counted %d, Stats says %d", k, n, want[k])
		}
	}
	if counted[key{"revoke_all", "unavailable"}] != 1 || counted[key{"verify", "ok"}] != 2 || counted[key{"refresh", "revoked"}] != 1 {
		t.Errorf("counts %v", counted)
	}

	m, ok = find(rm, "rjwt.operation.duration")
	if !ok {
		t.Fatal("no rjwt.operation.duration")
	}
	if m.Unit != "s" {
		t.Errorf("duration unit %q", m.Unit)
	}
	hist, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("rjwt.operation.duration is %T", m.Data)
	}
	for _, dp := range hist.DataPoints {
		k := keyOf(dp.Attributes)
		if int64(dp.Count) != want[k] {
			t.Errorf("%v: %d latencies, %d calls", k, dp.Count, want[k])
		}
		if dp.Sum <= 0 || dp.Sum > 10 {
			t.Errorf("%v: latencies sum to %vs", k, dp.Sum)
		}
		if len(dp.Bounds) == 0 || dp.Bounds[0] != 0.0001 {
			t.Errorf("%v: bounds %v", k, dp.Bounds)
		}
	}
}

// One span per call, named after the operation, a child of the caller's
// span, with the outcome, and an Error status only when Redis failed.
func TestSpans(t *testing.T) {
	s := newSetup(t)
	ctx, parent := s.tp.Tracer("test").Start(context.Background(), "request")
	tok, err := s.c.Sign(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	s.c.Verify(ctx, tok)
	s.c.Verify(ctx, "garbage")
	s.srv.Kill()
	s.c.Verify(ctx, tok)
	parent.End()

	var got []sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		if sp.Name() != "request" {
			got = append(got, sp)
		}
	}
	want := []struct {
		name, outcome string
		status        codes.Code
	}{
		{"rjwt.sign", "ok", codes.Unset},
		{"rjwt.verify", "ok", codes.Unset},
		{"rjwt.verify", "invalid", codes.Unset},
		{"rjwt.verify", "unavailable", codes.Error},
	}
	if len(got) != len(want) {
		t.Fatalf("%d spans, want %d", len(got), len(want))
	}
	for i, w := range want {
		sp := got[i]
		attrs := attribute.NewSet(sp.Attributes()...)
		if sp.Name() != w.name || keyOf(attrs).outcome != w.outcome || sp.Status().Code != w.status {
			t.Errorf("span %d: %s outcome %q status %v, want %s %q %v", i, sp.Name(), keyOf(attrs).outcome, sp.Status().Code, w.name, w.outcome, w.status)
		}
		if op, _ := attrs.Value(rjwtotel.OperationKey); "rjwt."+op.AsString() != sp.Name() {
			t.Errorf("span %s: operation attribute %q", sp.Name(), op.AsString())
		}
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s is not a child of the caller's span", sp.Name())
		}
		if sp.SpanKind().String() != "internal" {
			t.Errorf("span %s kind %v", sp.Name(), sp.SpanKind())
		}
		if w.status == codes.Error && len(sp.Events()) == 0 {
			t.Errorf("span %s: the error is not recorded", sp.Name())
		}
	}
}

func TestWithoutTracesOrMetrics(t *testing.T) {
	s := newSetup(t, rjwtotel.WithoutTraces())
	exercise(t, s.c)
	if n := len(s.spans.Ended()); n != 0 {
		t.Errorf("WithoutTraces: %d spans", n)
	}
	if _, ok := find(s.collect(t), "rjwt.operations"); !ok {
		t.Error("WithoutTraces: no metrics")
	}

	s = newSetup(t, rjwtotel.WithoutMetrics())
	exercise(t, s.c)
	if len(s.spans.Ended()) == 0 {
		t.Error("WithoutMetrics: no spans")
	}
	if _, ok := find(s.collect(t), "rjwt.operations"); ok {
		t.Error("WithoutMetrics: metrics recorded")
	}
}

// ObserveCache reports the local cache's counts as the client sees them.
func TestObserveCache(t *testing.T) {
	srv := redistest.Start(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	c, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr(srv.Addr()), rjwt.WithLocalCache(100))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg, err := rjwtotel.ObserveCache(c, rjwtotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	ctx := context.Background()
	tok, err := c.Sign(ctx, "cached")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.CacheStats().Hits < 3 && time.Now().Before(deadline) {
		if _, err := c.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := c.CacheStats()
	if st.Hits < 3 || st.Misses == 0 {
		t.Fatalf("the cache never answered: %+v", st)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	m, ok := find(rm, "rjwt.cache")
	if !ok {
		t.Fatal("no rjwt.cache metric")
	}
	got := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value(rjwtotel.CacheResultKey)
		got[v.AsString()] = dp.Value
	}
	now := c.CacheStats()
	if got["hit"] < int64(st.Hits) || got["hit"] > int64(now.Hits) || got["miss"] < int64(st.Misses) || got["miss"] > int64(now.Misses) {
		t.Errorf("rjwt.cache %v; CacheStats %+v", got, now)
	}
	if s := c.Stats(); s.Cache.Hits < st.Hits {
		t.Errorf("Stats().Cache %+v", s.Cache)
	}
}
