package main

import (
	"context"
	"time"
)

// bounded runs call with a context that ends after d, and returns by then
// even if call does not: go-redis (v9.23) gives a new connection's handshake
// its own DialTimeout (5 s by default) whatever the context says, so against
// a Redis that accepts connections and never answers, the context alone does
// not bound the call. The abandoned call ends in the background within
// go-redis's own timeouts.
func bounded[T any](ctx context.Context, d time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		v, err := call(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		// The call's own end cancels ctx too, after it sent its result:
		// then the result is there, and it is the answer (select picks at
		// random among ready cases, so without this look a call that
		// succeeded would answer "canceled" about half the time when both
		// are ready, as on a busy machine).
		select {
		case r := <-done:
			return r.v, r.err
		default:
		}
		var zero T
		return zero, ctx.Err()
	}
}
