package main

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
)

// outside measures uncached Verify against EXISTS the way a harness written
// against the public API only would (README's usage), not the way the
// rest of rjwt-bench does: its own go-redis client with go-redis's
// defaults (pool of 10 connections per GOMAXPROCS, no context timeouts),
// given to rjwt with WithRedisClient and shared with the baseline; rjwt
// with default options; Verify without options; the baseline the same
// client's Exists; inflight goroutines; rounds of d, each measuring EXISTS
// then Verify (the order a harness would write); tokens: one shared by
// every goroutine, or one per goroutine (perGoroutine). It runs on its own
// clients against the bench's server, in a process that did nothing before
// when run alone (-only outside).
func outside(addr string, inflights []int, rounds int, d time.Duration, perGoroutine bool, client string) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	opts := []rjwt.Option{rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb)}
	how := "WithRedisClient (the harness's client, shared with EXISTS)"
	switch client {
	case "own":
		opts = []rjwt.Option{rjwt.WithSecret(secret), rjwt.WithAddr(addr)}
		how = "WithAddr (rjwt's own client)"
	case "separate":
		other := redis.NewClient(&redis.Options{Addr: addr})
		defer other.Close()
		opts = []rjwt.Option{rjwt.WithSecret(secret), rjwt.WithRedisClient(other)}
		how = "WithRedisClient (a second client with go-redis's defaults)"
	case "cte":
		other := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		defer other.Close()
		opts = []rjwt.Option{rjwt.WithSecret(secret), rjwt.WithRedisClient(other)}
		how = "WithRedisClient (a second client, ContextTimeoutEnabled)"
	}
	c, err := rjwt.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rdb.Set(ctx, "harness:exists", "1", time.Hour)
	toks := make([]string, 512)
	for i := range toks {
		id := "harness"
		if perGoroutine {
			id = "harness" + strconv.Itoa(i)
		}
		if i == 0 || perGoroutine {
			if toks[i], err = c.Sign(ctx, id, rjwt.WithTTL("1 hour")); err != nil {
				log.Fatal(err)
			}
		} else {
			toks[i] = toks[0]
		}
	}
	tokens := "one token shared"
	if perGoroutine {
		tokens = "a token per goroutine"
	}
	fmt.Printf("outside-style harness: %s, %s, default options, %d rounds of %v:\n", how, tokens, rounds, d)
	for _, n := range inflights {
		var ratios, vs, es []float64
		for range rounds {
			e := runIndexed(n, d, func(int) error { return rdb.Exists(ctx, "harness:exists").Err() })
			v := runIndexed(n, d, func(g int) error { _, err := c.Verify(ctx, toks[g%len(toks)]); return err })
			ratios, vs, es = append(ratios, v/e), append(vs, v), append(es, e)
		}
		fmt.Printf("  %3d in flight  Verify / EXISTS %5.2fx  (%s vs %s ops/s; rounds:", n, median(ratios), kops(median(vs)), kops(median(es)))
		for _, r := range ratios {
			fmt.Printf(" %.2f", r)
		}
		fmt.Println(")")
	}
}

// runIndexed is run with each goroutine's index passed to f.
func runIndexed(inflight int, d time.Duration, f func(g int) error) float64 {
	var ops atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for g := range inflight {
		wg.Go(func() {
			for !stop.Load() {
				if err := f(g); err != nil {
					log.Fatal(err)
				}
				ops.Add(1)
			}
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return float64(ops.Load()) / time.Since(start).Seconds()
}
