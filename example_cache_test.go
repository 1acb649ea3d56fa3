package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rjwt/rjwt"
)

// A server of a fleet verifies from memory, and sees a revocation made by
// another server within milliseconds.
func ExampleWithLocalCache() {
	ctx := context.Background()
	opts := []rjwt.Option{rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-cache:")}
	api, err := rjwt.New(append(opts, rjwt.WithLocalCache(100_000))...)
	if err != nil {
		panic(err)
	}
	defer api.Close()
	auth, err := rjwt.New(opts...) // another process: the login service
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	token, _ := auth.Sign(ctx, "alice")
	// The first Verify asks Redis; once the cache's invalidation connection
	// is confirmed (a few milliseconds after New), repeats cost no round trip.
	for api.CacheStats().Hits == 0 {
		if _, err := api.Verify(ctx, token); err != nil {
			panic(err)
		}
		time.Sleep(time.Millisecond)
	}
	claims, err := api.Verify(ctx, token)
	fmt.Println("verified from memory:", claims.ID, err)

	_ = auth.Revoke(ctx, claims.Session) // logout, on the other process
	for {
		_, err := api.Verify(ctx, token)
		if errors.Is(err, rjwt.ErrSessionNotFound) {
			fmt.Println("revoked everywhere")
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("invalidations:", api.CacheStats().Invalidations)
	// Output:
	// verified from memory: alice <nil>
	// revoked everywhere
	// invalidations: 1
}
