// Package rjwtotel records rjwt's operations with OpenTelemetry: counts by
// outcome, latency histograms, and a span around each call. It is a module
// of its own, so that OpenTelemetry enters only the module graphs of the
// programs that import it, the way go-redis ships extra/redisotel.
//
// # Example
//
//	hooks, err := rjwtotel.NewHooks() // the global MeterProvider and TracerProvider
//	if err != nil { ... }
//	c, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithHooks(hooks))
//
// # What is recorded
//
// For Sign, SignPair, Verify, Refresh, Revoke and RevokeAll, with the
// attributes rjwt.operation ("sign", "sign_pair", "verify", "refresh",
// "revoke", "revoke_all") and rjwt.outcome ("ok", "expired", "revoked",
// "invalid", "unavailable", "error"; see rjwt.Outcome):
//
//   - rjwt.operations, a counter of calls;
//   - rjwt.operation.duration, a histogram of their latency in seconds,
//     with buckets from 100µs to 5s;
//   - a span named "rjwt.<operation>" (for example "rjwt.verify"), of kind
//     internal, with both attributes. The span is in the context the
//     operation's Redis calls run with, so a go-redis client instrumented
//     with redisotel shows its commands under it. Its status is Error, with
//     the error recorded, only for "unavailable" and "error": a refused
//     token is an answer, not a failure of the system.
//
// The client's own counts are also readable without OpenTelemetry
// (rjwt.Client.Stats).
package rjwtotel

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/rjwt/rjwt"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/rjwt/rjwt/rjwtotel"

// Attribute keys.
const (
	OperationKey = attribute.Key("rjwt.operation")
	OutcomeKey   = attribute.Key("rjwt.outcome")
)

// Option configures NewHooks.
type Option func(*config)

type config struct {
	mp      metric.MeterProvider
	tp      trace.TracerProvider
	metrics bool
	traces  bool
}

// WithMeterProvider sets where metrics go. The default is the global
// MeterProvider (otel.GetMeterProvider) at the time NewHooks is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider sets where spans go. The default is the global
// TracerProvider (otel.GetTracerProvider) at the time NewHooks is called.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithoutMetrics records spans only.
func WithoutMetrics() Option { return func(c *config) { c.metrics = false } }

// WithoutTraces records metrics only.
func WithoutTraces() Option { return func(c *config) { c.traces = false } }

// durationBuckets are the histogram's bounds, in seconds: a Verify answered
// from memory takes microseconds, one that reaches Redis a fraction of a
// millisecond on a LAN, and a call that waits out Redis up to WithTimeout
// (5s by default).
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// The operations and outcomes rjwt reports; each pair's attributes are built
// once, so recording allocates nothing for them.
var (
	ops      = rjwt.Ops()
	outcomes = []rjwt.Outcome{rjwt.OutcomeOK, rjwt.OutcomeExpired, rjwt.OutcomeRevoked, rjwt.OutcomeInvalid, rjwt.OutcomeUnavailable, rjwt.OutcomeError}
)

const maxOp, maxOutcome = 16, 16 // room for operations and outcomes rjwt may add

// Hooks implements rjwt.Hooks with OpenTelemetry. Make one with NewHooks and
// give it to rjwt.WithHooks; one Hooks may serve many clients.
type Hooks struct {
	tracer   trace.Tracer
	calls    metric.Int64Counter
	duration metric.Float64Histogram

	spanNames [maxOp]string
	startOpts [maxOp][]trace.SpanStartOption
	addOpts   [maxOp][maxOutcome][]metric.AddOption
	recOpts   [maxOp][maxOutcome][]metric.RecordOption
	outAttrs  [maxOutcome]attribute.KeyValue
}

var _ rjwt.Hooks = (*Hooks)(nil)

// NewHooks makes Hooks that record on the given (or global) providers.
func NewHooks(opts ...Option) (*Hooks, error) {
	cfg := config{metrics: true, traces: true}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	h := new(Hooks)
	if cfg.traces {
		h.tracer = cfg.tp.Tracer(ScopeName)
	}
	if cfg.metrics {
		meter := cfg.mp.Meter(ScopeName)
		var err error
		h.calls, err = meter.Int64Counter("rjwt.operations",
			metric.WithDescription("rjwt calls (Sign, SignPair, Verify, Refresh, Revoke, RevokeAll) by operation and outcome"),
			metric.WithUnit("{operation}"))
		if err != nil {
			return nil, fmt.Errorf("rjwtotel: %w", err)
		}
		h.duration, err = meter.Float64Histogram("rjwt.operation.duration",
			metric.WithDescription("latency of rjwt calls by operation and outcome"),
			metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		if err != nil {
			return nil, fmt.Errorf("rjwtotel: %w", err)
		}
	}
	for _, out := range outcomes {
		h.outAttrs[out] = OutcomeKey.String(out.String())
	}
	for _, op := range ops {
		opAttr := OperationKey.String(op.String())
		h.spanNames[op] = "rjwt." + op.String()
		h.startOpts[op] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(opAttr)}
		for _, out := range outcomes {
			set := metric.WithAttributeSet(attribute.NewSet(opAttr, h.outAttrs[out]))
			h.addOpts[op][out] = []metric.AddOption{set}
			h.recOpts[op][out] = []metric.RecordOption{set}
		}
	}
	return h, nil
}

// Start starts the operation's span.
func (h *Hooks) Start(ctx context.Context, op rjwt.Op) context.Context {
	if h.tracer == nil || int(op) >= maxOp || h.spanNames[op] == "" {
		return ctx
	}
	ctx, _ = h.tracer.Start(ctx, h.spanNames[op], h.startOpts[op]...)
	return ctx
}

// End records the call and ends its span.
func (h *Hooks) End(ctx context.Context, op rjwt.Op, out rjwt.Outcome, err error, d time.Duration) {
	if int(op) >= maxOp || int(out) >= maxOutcome || h.spanNames[op] == "" || h.addOpts[op][out] == nil {
		return // an operation or outcome newer than this module
	}
	if h.calls != nil {
		h.calls.Add(ctx, 1, h.addOpts[op][out]...)
		h.duration.Record(ctx, d.Seconds(), h.recOpts[op][out]...)
	}
	if h.tracer == nil {
		return
	}
	span := trace.SpanFromContext(ctx) // Start's: rjwt gives End its own Start's context
	if span.IsRecording() {
		span.SetAttributes(h.outAttrs[out])
		if err != nil && (out == rjwt.OutcomeUnavailable || out == rjwt.OutcomeError) {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

// CacheResultKey is the attribute of rjwt.cache: hit, miss, invalidation or
// flush.
const CacheResultKey = attribute.Key("rjwt.cache.result")

// ObserveCache reports a client's local cache (rjwt.WithLocalCache) as the
// observable counter rjwt.cache, by rjwt.cache.result: hits and misses of
// Verify, entries invalidated by Redis, and flushes (the whole cache, or on
// a Cluster one master's entries, dropped because invalidation could not be
// trusted). It reads Client.CacheStats at each collection, so
// it costs Verify nothing. Unregister the returned registration when the
// client closes.
func ObserveCache(c *rjwt.Client, opts ...Option) (metric.Registration, error) {
	cfg := config{metrics: true}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	meter := cfg.mp.Meter(ScopeName)
	counter, err := meter.Int64ObservableCounter("rjwt.cache",
		metric.WithDescription("local verify cache: Verify hits and misses, invalidations from Redis, flushes"),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("rjwtotel: %w", err)
	}
	sets := [4]metric.ObserveOption{}
	for i, name := range []string{"hit", "miss", "invalidation", "flush"} {
		sets[i] = metric.WithAttributeSet(attribute.NewSet(CacheResultKey.String(name)))
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.CacheStats()
		for i, v := range [4]uint64{st.Hits, st.Misses, st.Invalidations, st.Flushes} {
			o.ObserveInt64(counter, int64(v), sets[i])
		}
		return nil
	}, counter)
	if err != nil {
		return nil, fmt.Errorf("rjwtotel: %w", err)
	}
	return reg, nil
}
