// Command rjwt-bench measures rjwt against the least the same work costs
// elsewhere, on a private redis-server it starts and stops itself:
//
//   - cached Verify against golang-jwt's ParseWithClaims (same token, same
//     claims), uncached Verify against a plain go-redis EXISTS, Verify
//     WithSession against GET and Sign against SET EX, at 50 and 200 calls
//     in flight;
//   - how soon a revocation made by one client is seen by another that
//     verifies from its local cache (p50, p99);
//   - the cost of Sign, Verify, Sessions and RevokeAll with 1k to 1M live
//     sessions, and Redis's memory per session, key by key;
//   - a PNG plot of throughput against calls in flight (1 to 512).
//
// Each measurement is a closed loop of N goroutines for -duration; the
// rounds are interleaved (every series once per round) and the medians are
// reported, because a shared machine drifts by tens of percent in a minute.
//
// It is a module of its own, so that its plotting stays out of the module
// graph of rjwt's users; run it from its directory:
//
//	cd cmd/rjwt-bench
//	go run .                                      # a few minutes
//	go run . -sessions 1000,10000,100000,1000000 -rounds 5
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// layoutOpt is -layout's option for the measured clients (nil: auto).
var layoutOpt rjwt.Option

func main() {
	duration := flag.Duration("duration", 500*time.Millisecond, "length of one measurement")
	rounds := flag.Int("rounds", 3, "interleaved rounds; medians are reported")
	sessions := flag.String("sessions", "1000,10000,100000", "live session counts for the scale test (the long run: 1000,10000,100000,1000000)")
	levels := flag.String("concurrency", "1,2,4,8,16,32,64,128,256,512", "calls in flight for the plot")
	out := flag.String("plot", "bench.png", "PNG file of throughput against calls in flight ('' for none)")
	revokes := flag.Int("revokes", 300, "revocations timed for the visibility percentiles")
	pollers := flag.Int("pollers", 1, "goroutines looping on the cached client's Verify while it waits to see a revocation (4 keep both cores of a 2-core machine busy)")
	only := flag.String("only", "ratios,visibility,memory,scale,plot", "parts to run, comma-separated")
	layoutFlag := flag.String("layout", "auto", "key layout of the measured clients: auto, classic or lean (the memory part measures both where the server has hash-field expiry)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (this process: rjwt and the baselines, not redis-server) to this file")
	addr := flag.String("addr", "", "an existing redis-server to measure against (one run under callgrind, say) instead of a private one started here; its data is flushed")
	calls := flag.Int("calls", 20000, "calls of each series in the profile part")
	profileInflight := flag.Int("profile-inflight", 50, "profile part: calls in flight (fewer for a redis-server under callgrind, whose slowness would otherwise reach the calls' timeout)")
	series := flag.String("series", "sign,setex,verify,exists", "profile part: the series to run")
	perGoroutine := flag.Bool("outside-tokens", false, "outside part: a token per goroutine (else one shared)")
	outsideClient := flag.String("outside-client", "shared", "outside part: rjwt's client: shared (the harness's, WithRedisClient), separate (another with go-redis's defaults), cte (another with ContextTimeoutEnabled), own (WithAddr)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	switch *layoutFlag {
	case "auto":
	case "classic":
		layoutOpt = rjwt.WithLayout(rjwt.LayoutClassic)
	case "lean":
		layoutOpt = rjwt.WithLayout(rjwt.LayoutLean)
	default:
		log.Fatalf("-layout: %q is not auto, classic or lean", *layoutFlag)
	}
	part := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		part[strings.TrimSpace(p)] = true
	}

	if *addr == "" {
		srv, err := redistest.StartServer("--maxmemory", "0")
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Close()
		*addr = srv.Addr()
	} else {
		rdb := redis.NewClient(&redis.Options{Addr: *addr})
		if err := rdb.FlushAll(context.Background()).Err(); err != nil {
			log.Fatal(err)
		}
		rdb.Close()
	}
	fmt.Printf("rjwt-bench: go %s %s/%s, %d CPUs, redis-server on %s\n\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *addr)

	// The outside-style harness first, on a server nothing else touched.
	if part["outside"] {
		outside(*addr, []int{50, 200}, *rounds, *duration, *perGoroutine, *outsideClient)
	}
	if !part["profile"] && !part["ratios"] && !part["sign"] && !part["visibility"] && !part["memory"] && !part["scale"] && !part["plot"] {
		return
	}

	b := newBench(*addr)
	defer b.close()

	// Sign's profile: CPU per call, client and Redis, over a fixed number
	// of calls.
	if part["profile"] {
		b.profile(*calls, *profileInflight, strings.Split(*series, ","))
	}

	// Ratios at 50 and 200 in flight.
	pairs := []struct{ name, a, base string }{
		{"cached Verify / golang-jwt ParseWithClaims", "verify-cached", "parse"},
		{"uncached Verify / go-redis EXISTS", "verify", "exists"},
		{"Verify WithSession / go-redis GET", "verify-session", "get"},
		{"Sign / go-redis SET EX", "sign", "setex"},
	}
	if part["ratios"] {
		fmt.Println("ratios (median of rounds, throughput of rjwt / baseline, same run):")
	}
	for _, inflight := range []int{50, 200} {
		if !part["ratios"] {
			break
		}
		res := map[string][]float64{}
		for range *rounds {
			for _, p := range pairs {
				for _, op := range []string{p.a, p.base} {
					res[op] = append(res[op], b.rate(op, inflight, *duration))
				}
			}
		}
		for _, p := range pairs {
			var ratios []float64
			for i := range res[p.a] {
				ratios = append(ratios, res[p.a][i]/res[p.base][i])
			}
			fmt.Printf("  %3d in flight  %-44s %5.2fx  (%s vs %s ops/s)\n", inflight, p.name, median(ratios), kops(median(res[p.a])), kops(median(res[p.base])))
		}
	}

	// Sign alone: its ratio at 50 in flight, and its cost inside Redis.
	if part["sign"] {
		b.signCost(*rounds, *duration)
	}

	// Revocation visibility.
	if part["visibility"] {
		fmt.Printf("\nrevocation seen by a cached client (another client revokes; %d revocations; %d goroutines verifying; seen = by every one of them):\n", *revokes, *pollers)
		for _, pace := range []time.Duration{0, 100 * time.Microsecond} {
			seen, revoke, lag, stale := b.visibility(*revokes, pace, *pollers)
			how := "polling without pause"
			if pace > 0 {
				how = "polling every " + pace.String()
			}
			fmt.Printf("  %-27s seen %s (the Revoke call itself: %s; seen after it returned: %s; the last Verify begun after it returned that still accepted it, begun: %s, max %v)\n",
				how, pcts(seen), pcts(revoke), pcts(lag), pcts(stale), stale[len(stale)-1].Round(time.Microsecond))
		}
	}

	// A busy user's cached sessions while one of them changes its data.
	if part["busyuser"] {
		b.busyUser(*rounds, *duration)
	}

	// Memory per session, key by key.
	if part["memory"] {
		b.memory()
	}

	// Scale.
	var counts []int
	for _, s := range strings.Split(*sessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("-sessions: %v", err)
		}
		counts = append(counts, n)
	}
	if part["scale"] {
		b.scale(counts, *rounds, *duration)
	}

	// Plot.
	if *out != "" && part["plot"] {
		var ls []int
		for _, s := range strings.Split(*levels, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				log.Fatalf("-concurrency: %v", err)
			}
			ls = append(ls, n)
		}
		b.plot(*out, ls, *rounds, *duration)
	}
}

type bench struct {
	addr    string
	ctx     context.Context
	cached  *rjwt.Client // WithLocalCache
	plain   *rjwt.Client // no cache, autopipelined
	signer  *rjwt.Client // multiple mode
	apSign  *rjwt.Client // multiple mode, on go-redis's AutoPipeliner instead of rjwt's batcher
	apRdb   *redis.Client
	ap      *redis.AutoPipeliner
	rdb     *redis.Client
	tok     string // a live session's token, with data
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	n       atomic.Int64
}

func newBench(addr string) *bench {
	b := &bench{addr: addr, ctx: context.Background()}
	var err error
	opts := []rjwt.Option{rjwt.WithSecret(secret), rjwt.WithAddr(addr), rjwt.WithPrefix("bench:"), layoutOpt}
	if l, err := mustLayout(addr, opts); err == nil {
		fmt.Printf("layout of the measured clients: %v\n\n", l)
	}
	if b.cached, err = rjwt.New(append(opts, rjwt.WithLocalCache(100_000))...); err != nil {
		log.Fatal(err)
	}
	if b.plain, err = rjwt.New(opts...); err != nil {
		log.Fatal(err)
	}
	if b.signer, err = rjwt.New(append(opts, rjwt.WithMultiple(true))...); err != nil {
		log.Fatal(err)
	}
	b.rdb = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	// go-redis's own autopipelining (v9.23, blocking mode, its defaults) is a
	// UniversalClient: rjwt's EVALSHA goes through it when given with
	// WithRedisClient and rjwt's batcher is off.
	b.apRdb = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	if b.ap, err = b.apRdb.AutoPipeline(); err != nil {
		log.Fatal(err)
	}
	if b.apSign, err = rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(b.ap), rjwt.WithAutoPipeline(false), rjwt.WithPrefix("bench:"), rjwt.WithMultiple(true)); err != nil {
		log.Fatal(err)
	}
	b.tok, err = b.plain.Sign(b.ctx, "bench-user", rjwt.WithDataToken(map[string]string{"role": "admin"}),
		rjwt.WithDataSession(map[string]any{"views": 12, "cart": []int{1, 2, 3}}))
	if err != nil {
		log.Fatal(err)
	}
	b.rdb.Set(b.ctx, "baseline:exists", "", time.Hour)
	b.rdb.Set(b.ctx, "baseline:get", `{"views":12,"cart":[1,2,3]}`, time.Hour)
	b.parser = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	b.keyFunc = func(*jwt.Token) (any, error) { return secret, nil }
	deadline := time.Now().Add(10 * time.Second)
	for b.cached.CacheStats().Hits == 0 {
		if time.Now().After(deadline) {
			log.Fatal("the local cache never answered")
		}
		if _, err := b.cached.Verify(b.ctx, b.tok); err != nil {
			log.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	return b
}

func (b *bench) close() {
	b.cached.Close()
	b.plain.Close()
	b.signer.Close()
	b.apSign.Close()
	b.ap.Close()
	b.apRdb.Close()
	b.rdb.Close()
}

// claims are rjwt's claims as golang-jwt users would declare them.
type claims struct {
	ID        string          `json:"id"`
	Session   string          `json:"rjwt"`
	DataToken json.RawMessage `json:"dataToken,omitempty"`
	TTL       int64           `json:"ttl"`
	jwt.RegisteredClaims
}

// op runs one call of the named series.
func (b *bench) op(name string) error {
	ctx := b.ctx
	switch name {
	case "verify-cached":
		_, err := b.cached.Verify(ctx, b.tok)
		return err
	case "verify":
		_, err := b.plain.Verify(ctx, b.tok)
		return err
	case "verify-session":
		_, err := b.plain.Verify(ctx, b.tok, rjwt.WithSession())
		return err
	case "sign":
		// A million users: each holds one or two live sessions, as after
		// real logins. (With 1,000 users, as before stop 15, every index
		// grew by hundreds of sessions over a run, and Sign's cost in Redis
		// with it: its ratio then depended on how long the run had gone.)
		id := "user" + strconv.FormatInt(b.n.Add(1)%1_000_000, 10)
		_, err := b.signer.Sign(ctx, id, rjwt.WithTTL("1 minute"))
		return err
	case "sign-ap":
		id := "user" + strconv.FormatInt(b.n.Add(1)%1_000_000, 10)
		_, err := b.apSign.Sign(ctx, id, rjwt.WithTTL("1 minute"))
		return err
	case "parse":
		_, err := b.parser.ParseWithClaims(b.tok, &claims{}, b.keyFunc)
		return err
	case "exists":
		return b.rdb.Exists(ctx, "baseline:exists").Err()
	case "get":
		return b.rdb.Get(ctx, "baseline:get").Err()
	case "setex":
		n := b.n.Add(1)
		return b.rdb.Set(ctx, "baseline:{user"+strconv.FormatInt(n%1_000_000, 10)+"}:"+strconv.FormatInt(n, 10), "", time.Minute).Err()
	}
	panic("unknown series " + name)
}

// rate is ops/s of series name with inflight goroutines for d.
func (b *bench) rate(name string, inflight int, d time.Duration) float64 {
	return run(inflight, d, func() error { return b.op(name) })
}

// run is a closed loop of inflight goroutines calling f for d; ops/s.
func run(inflight int, d time.Duration, f func() error) float64 {
	var ops atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for range inflight {
		wg.Go(func() {
			for !stop.Load() {
				if err := f(); err != nil {
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

// visibility signs with one client, has the cached client remember the
// session, revokes with the first, and times how long the cached client's
// Verify loop keeps succeeding after the revocation was sent. The loop
// polls without pause when pace is 0, else once every pace. It also returns
// the revoking call's own round trip (a floor: the revocation cannot be
// seen before Redis has made it), and how long after that call returned
// the revocation was seen (the cache's own lag; can be negative), and how
// long after that call returned the last Verify that still accepted the
// token began (0 when none did: a poller that waits for the CPU sees the
// revocation late, but a Verify begun before the Revoke returned, or one
// not running, accepts nothing stale).
func (b *bench) visibility(n int, pace time.Duration, pollers int) (seen, revoke, lag, stale []time.Duration) {
	for i := range n {
		tok, err := b.plain.Sign(b.ctx, "vis"+strconv.Itoa(i))
		if err != nil {
			log.Fatal(err)
		}
		for {
			h := b.cached.CacheStats().Hits
			if _, err := b.cached.Verify(b.ctx, tok); err != nil {
				log.Fatal(err)
			}
			if b.cached.CacheStats().Hits > h {
				break
			}
		}
		session := sessionOf(tok)
		at := make(chan [2]time.Time, pollers) // refused at, last accepting call begun at
		for range pollers {
			go func() {
				var ok time.Time
				for {
					begin := time.Now()
					if _, err := b.cached.Verify(b.ctx, tok); err != nil {
						at <- [2]time.Time{time.Now(), ok}
						return
					}
					ok = begin
					if pace > 0 {
						time.Sleep(pace)
					}
				}
			}()
		}
		start := time.Now()
		if err := b.plain.Revoke(b.ctx, session); err != nil {
			log.Fatal(err)
		}
		done := time.Now()
		var t, last time.Time
		for range pollers { // the last poller to see it
			s := <-at
			if s[0].After(t) {
				t = s[0]
			}
			if s[1].After(last) {
				last = s[1]
			}
		}
		seen = append(seen, t.Sub(start))
		revoke = append(revoke, done.Sub(start))
		lag = append(lag, t.Sub(done))
		stale = append(stale, max(last.Sub(done), 0))
	}
	for _, v := range [][]time.Duration{seen, revoke, lag, stale} {
		slices.Sort(v)
	}
	return seen, revoke, lag, stale
}

// pcts formats the p50 and p99 of sorted durations.
func pcts(v []time.Duration) string {
	return fmt.Sprintf("p50 %v, p99 %v", v[len(v)/2].Round(time.Microsecond), v[len(v)*99/100].Round(time.Microsecond))
}

func sessionOf(tok string) string {
	var c claims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		log.Fatal(err)
	}
	return c.Session
}

// memory prints MEMORY USAGE of one session's keys and of a plain SET EX.
func (b *bench) memory() {
	ctx := b.ctx
	data := map[string]any{"views": 12, "cart": []int{1, 2, 3, 4}} // 29 bytes of JSON, as issue 22 measured
	raw, _ := json.Marshal(data)
	b.memoryTable()
	// The classic layout, key by key.
	c, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr(b.addr), rjwt.WithPrefix("mem:"), rjwt.WithMultiple(true), rjwt.WithLayout(rjwt.LayoutClassic))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Many users with one session each, and users with 10: the index's
	// per-session share depends on it.
	const users = 20_000 // issue 22's count
	before := usedMemory(b.rdb)
	var one string
	for i := range users {
		tok, err := c.Sign(ctx, "m"+strconv.Itoa(i), rjwt.WithDataSession(data))
		if err != nil {
			log.Fatal(err)
		}
		one = tok
	}
	after := usedMemory(b.rdb)
	answers := b.countKeys("mem:{m[0-9]*}:op:*")
	session := sessionOf(one)
	id, nano, _ := strings.Cut(session, ":")
	hash := b.rdb.MemoryUsage(ctx, "mem:{"+id+"}:"+nano, 0).Val()
	idx := b.rdb.MemoryUsage(ctx, "mem:{"+id+"}:idx", 0).Val()
	b.rdb.Set(ctx, "mem:plain:"+nano, string(raw), time.Hour)
	plain := b.rdb.MemoryUsage(ctx, "mem:plain:"+nano, 0).Val()
	fmt.Printf("\nRedis memory per session (%d bytes of session data, key prefix %q, user id %q):\n", len(raw), "mem:", id)
	fmt.Printf("  MEMORY USAGE  session hash %d B + index with one session %d B = %d B; a plain SET of the same data with EX: %d B\n", hash, idx, hash+idx, plain)
	fmt.Printf("  used_memory delta over %d one-session users: %.0f B per session (answer keys left by the Signs: %d)\n", users,
		float64(after-before)/users, answers)
	before = usedMemory(b.rdb)
	for i := range users {
		if _, err := c.Sign(ctx, "mm"+strconv.Itoa(i%(users/10)), rjwt.WithDataSession(data)); err != nil {
			log.Fatal(err)
		}
	}
	after = usedMemory(b.rdb)
	fmt.Printf("  used_memory delta over %d sessions of %d users (10 each): %.0f B per session (answer keys left: %d)\n", users, users/10,
		float64(after-before)/users, b.countKeys("mem:{mm*}:op:*"))
	b.layouts(data)
}

// busyUser measures what a data update costs a cached client's other
// sessions of the same user: one user with 10 sessions, 50 goroutines
// verifying them (round robin) on a cached client while another client
// updates one session's data every 10 ms. On the classic layout the update
// invalidates that session's entry; on the lean one, the user's hash, so
// every cached session of the user. Reported per layout: cached Verify/s
// and the hit rate, with and without the updates.
func (b *bench) busyUser(rounds int, d time.Duration) {
	ctx := b.ctx
	fmt.Println("\none busy user on a cached client (10 sessions, 50 goroutines verifying; another client updates one session's data every 10 ms):")
	for _, layout := range []rjwt.Layout{rjwt.LayoutClassic, rjwt.LayoutLean} {
		prefix := "busy" + strconv.Itoa(int(layout)) + ":"
		opts := []rjwt.Option{rjwt.WithSecret(secret), rjwt.WithAddr(b.addr), rjwt.WithPrefix(prefix), rjwt.WithMultiple(true), rjwt.WithLayout(layout)}
		writer, err := rjwt.New(opts...)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := writer.Layout(ctx); err != nil {
			fmt.Printf("  %-14v not on this server (%v)\n", layout, err)
			writer.Close()
			continue
		}
		cached, err := rjwt.New(append(opts, rjwt.WithLocalCache(1000))...)
		if err != nil {
			log.Fatal(err)
		}
		var toks []string
		for range 10 {
			tok, err := writer.Sign(ctx, "busy", rjwt.WithDataSession(map[string]int{"n": 0}))
			if err != nil {
				log.Fatal(err)
			}
			toks = append(toks, tok)
		}
		cl, err := writer.Verify(ctx, toks[0])
		if err != nil {
			log.Fatal(err)
		}
		var next atomic.Int64
		verify := func() error {
			_, err := cached.Verify(ctx, toks[next.Add(1)%int64(len(toks))])
			return err
		}
		measure := func(updates bool) (float64, float64) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if updates {
				wg.Go(func() {
					t := time.NewTicker(10 * time.Millisecond)
					defer t.Stop()
					for n := 1; ; n++ {
						select {
						case <-stop:
							return
						case <-t.C:
							if err := writer.UpdateSessionData(ctx, cl.Session, rjwt.SetField("n", n)); err != nil {
								log.Fatal(err)
							}
						}
					}
				})
			}
			before := cached.CacheStats()
			rate := run(50, d, verify)
			after := cached.CacheStats()
			close(stop)
			wg.Wait()
			hits, misses := float64(after.Hits-before.Hits), float64(after.Misses-before.Misses)
			return rate, hits / max(hits+misses, 1)
		}
		var quiet, busy, quietHit, busyHit []float64
		for range rounds {
			r, h := measure(false)
			quiet, quietHit = append(quiet, r), append(quietHit, h)
			r, h = measure(true)
			busy, busyHit = append(busy, r), append(busyHit, h)
		}
		fmt.Printf("  %-14v without updates %s Verify/s (hits %.1f%%); with updates %s Verify/s (hits %.1f%%, %.0f reads of Redis per update): %.2fx\n", layout,
			kops(median(quiet)), 100*median(quietHit), kops(median(busy)), 100*median(busyHit),
			median(busy)*(1-median(busyHit))/100, median(busy)/median(quiet))
		cached.Close()
		writer.Close()
	}
}

// mustLayout is the layout a client with opts runs on addr's server.
func mustLayout(addr string, opts []rjwt.Option) (rjwt.Layout, error) {
	c, err := rjwt.New(opts...)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.Layout(context.Background())
}

// memoryTable prints used_memory growth per session over 20,000 sessions
// with 29 bytes of private data, at one and four sessions per user, for
// each layout the server runs (lean only with hash-field expiry).
func (b *bench) memoryTable() {
	ctx := b.ctx
	data := map[string]any{"plan": "free", "role": "user"} // {"plan":"free","role":"user"}: 29 bytes
	raw, _ := json.Marshal(data)
	const sessions = 20000
	fmt.Printf("\nused_memory growth per session, %d sessions with %d bytes of private data (multiple mode, TTL 1 h):\n", sessions, len(raw))
	for _, layout := range []rjwt.Layout{rjwt.LayoutClassic, rjwt.LayoutLean} {
		prefix := "tbl" + strconv.Itoa(int(layout)) + ":"
		c, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr(b.addr), rjwt.WithPrefix(prefix), rjwt.WithMultiple(true), rjwt.WithLayout(layout))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := c.Layout(ctx); err != nil {
			fmt.Printf("  %-14v not on this server (%v)\n", layout, err)
			c.Close()
			continue
		}
		for _, per := range []int{1, 4} {
			before := usedMemory(b.rdb)
			for i := range sessions {
				if _, err := c.Sign(ctx, "u"+strconv.Itoa(i/per), rjwt.WithDataSession(data)); err != nil {
					log.Fatal(err)
				}
			}
			after := usedMemory(b.rdb)
			fmt.Printf("  %-14v %d per user: %6.1f B per session (keys under the prefix: %d)\n", layout, per,
				float64(after-before)/sessions, b.countKeys(rjwt.EscapePattern(prefix)+"*"))
			b.unlinkAll(rjwt.EscapePattern(prefix) + "*")
		}
		c.Close()
	}
}

// unlinkAll deletes every key matching pattern (SCAN, UNLINK).
func (b *bench) unlinkAll(pattern string) {
	iter := b.rdb.Scan(b.ctx, 0, pattern, 1000).Iterator()
	var keys []string
	for iter.Next(b.ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		log.Fatal(err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		b.rdb.Unlink(b.ctx, keys[:n]...)
		keys = keys[n:]
	}
}

// redisMicros is the time Redis spent in commands since the last CONFIG
// RESETSTAT (every cmdstat's usec, but CONFIG's own) divided by calls.
func (b *bench) redisMicros(calls float64) float64 {
	var usec float64
	for _, line := range strings.Split(b.rdb.Info(b.ctx, "commandstats").Val(), "\n") {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_config") {
			continue
		}
		for _, kv := range strings.Split(strings.TrimSpace(line), ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				f, _ := strconv.ParseFloat(v, 64)
				usec += f
			}
		}
	}
	return usec / max(calls, 1)
}

// countKeys is how many keys match pattern (SCAN, never KEYS).
func (b *bench) countKeys(pattern string) int {
	n := 0
	iter := b.rdb.Scan(b.ctx, 0, pattern, 1000).Iterator()
	for iter.Next(b.ctx) {
		n++
	}
	if err := iter.Err(); err != nil {
		log.Fatal(err)
	}
	return n
}

// layouts prints, for each kind of session, the fields of a fresh session's
// hash and its MEMORY USAGE, and the answer key Sign leaves.
func (b *bench) layouts(data any) {
	ctx := b.ctx
	kinds := []struct {
		name string
		opts []rjwt.Option
		sign []rjwt.SignOption
		pair bool
	}{
		{"multiple", []rjwt.Option{rjwt.WithMultiple(true)}, nil, false},
		{"single", nil, nil, false},
		{"multiple, pair", []rjwt.Option{rjwt.WithMultiple(true)}, nil, true},
		{"multiple, meta", []rjwt.Option{rjwt.WithMultiple(true)}, []rjwt.SignOption{rjwt.WithMeta(map[string]string{"ua": "Firefox/140"})}, false},
		{"multiple, idle", []rjwt.Option{rjwt.WithMultiple(true), rjwt.WithIdleTimeout("30 minutes")}, nil, false},
	}
	fmt.Println("  fresh sessions, field by field (MEMORY USAGE of the hash; answer key):")
	for i, k := range kinds {
		c, err := rjwt.New(append([]rjwt.Option{rjwt.WithSecret(secret), rjwt.WithAddr(b.addr), rjwt.WithPrefix("mem:"), rjwt.WithLayout(rjwt.LayoutClassic)}, k.opts...)...)
		if err != nil {
			log.Fatal(err)
		}
		id := "k" + strconv.Itoa(1000+i)
		opts := append([]rjwt.SignOption{rjwt.WithDataSession(data)}, k.sign...)
		var tok string
		if k.pair {
			p, err := c.SignPair(ctx, id, opts...)
			if err != nil {
				log.Fatal(err)
			}
			tok = p.Token
		} else if tok, err = c.Sign(ctx, id, opts...); err != nil {
			log.Fatal(err)
		}
		c.Close()
		_, nano, _ := strings.Cut(sessionOf(tok), ":")
		key := "mem:{" + id + "}:" + nano
		fields := b.rdb.HGetAll(ctx, key).Val()
		names := make([]string, 0, len(fields))
		for f, v := range fields {
			names = append(names, f+"="+v)
		}
		slices.Sort(names)
		op := "mem:{" + id + "}:op:" + nano
		answer := "none"
		if n := b.rdb.MemoryUsage(ctx, op, 0).Val(); n > 0 {
			answer = fmt.Sprintf("%d B, PTTL %d ms", n, b.rdb.PTTL(ctx, op).Val().Milliseconds())
		}
		fmt.Printf("    %-16s hash %3d B  index %3d B  answer key: %-4s  %s\n", k.name, b.rdb.MemoryUsage(ctx, key, 0).Val(),
			b.rdb.MemoryUsage(ctx, "mem:{"+id+"}:idx", 0).Val(), answer, strings.Join(names, " "))
	}
}

func usedMemory(rdb *redis.Client) int64 {
	info, err := rdb.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		log.Fatal(err)
	}
	n, _ := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	return n
}

// scale loads live sessions (10 per user) with many calls in flight, then
// measures Sign, Verify, Sessions and RevokeAll at 50 in flight at each
// count.
func (b *bench) scale(counts []int, rounds int, d time.Duration) {
	ctx := b.ctx
	c, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr(b.addr), rjwt.WithPrefix("scale:"), rjwt.WithMultiple(true), layoutOpt)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	const perUser, sampleUsers = 10, 100
	// The users Verify and Sessions work on: a uniform sample of
	// sampleUsers of every user loaded so far (reservoir sampling by user),
	// with all their sessions' tokens. Every size works on as many users and
	// sessions (1,000 tokens, 1,100 keys): only the number of live sessions
	// around them changes. (A plain EXISTS of random users, below, shows
	// what a working set that grows with the size costs Redis itself.)
	slot := map[int64]int{} // user → its sample slot, or -1 when not sampled
	var sample [][]string   // per slot: the user's tokens
	var sampled []int64     // per slot: the user
	var mu sync.Mutex
	loaded := 0
	fmt.Printf("\nscale: ops/s at 50 in flight (median of %d), %d sessions per user; Verify and Sessions on the sessions\n", rounds, perUser)
	fmt.Printf("of %d users sampled among all; EXISTS: a plain go-redis client's EXISTS of a random user's index key\n", sampleUsers)
	fmt.Printf("among all (what a working set growing with the size costs Redis itself)\n")
	fmt.Printf("  %10s %10s %10s %10s %10s %10s %12s %8s\n", "sessions", "Sign", "Verify", "Sessions", "RevokeAll", "EXISTS", "used_memory", "load s")
	var first [5]float64
	var redisTime []string
	defer func() {
		fmt.Println("  Redis's own time per call (INFO commandstats, every command's usec / calls made; µs):")
		fmt.Printf("  %10s %10s %10s\n", "sessions", "Verify", "Sessions")
		for _, l := range redisTime {
			fmt.Println(l)
		}
	}()
	for _, target := range counts {
		start := time.Now()
		var next atomic.Int64
		next.Store(int64(loaded))
		var wg sync.WaitGroup
		for range 256 {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(target) {
						return
					}
					tok, err := c.Sign(ctx, "s"+strconv.FormatInt(i/perUser, 10), rjwt.WithTTL("1 hour"))
					if err != nil {
						log.Fatal(err)
					}
					u := i / perUser
					mu.Lock()
					j, seen := slot[u]
					if !seen {
						j = -1
						if len(sample) < sampleUsers {
							j = len(sample)
							sample, sampled = append(sample, nil), append(sampled, u)
						} else if r := int(rand.Int64N(u + 1)); r < sampleUsers {
							j = r
							slot[sampled[j]] = -1 // out for good
							sample[j], sampled[j] = nil, u
						}
						slot[u] = j
					}
					if j >= 0 {
						sample[j] = append(sample[j], tok)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		loaded = target
		load := time.Since(start)
		var toks []string
		for _, t := range sample {
			toks = append(toks, t...)
		}
		// (A plain multiple-mode Sign leaves no answer key to expire: the
		// load is all live sessions.)
		var k atomic.Int64
		var r [5][]float64
		var inRedis [2][]float64 // Redis's own µs per Verify, per Sessions
		for round := range rounds {
			// Sign: users of this size's own (5,000), so that every size
			// signs into indexes of as many sessions.
			r[0] = append(r[0], run(50, d, func() error {
				_, err := c.Sign(ctx, "sx"+strconv.Itoa(target)+"-"+strconv.FormatInt(k.Add(1)%5000, 10), rjwt.WithTTL("1 minute"))
				return err
			}))
			b.rdb.ConfigResetStat(ctx)
			r[1] = append(r[1], run(50, d, func() error {
				_, err := c.Verify(ctx, toks[int(k.Add(1))%len(toks)])
				return err
			}))
			inRedis[0] = append(inRedis[0], b.redisMicros(r[1][len(r[1])-1]*d.Seconds()))
			b.rdb.ConfigResetStat(ctx)
			r[2] = append(r[2], run(50, d, func() error {
				_, err := c.Sessions(ctx, "s"+strconv.FormatInt(sampled[int(k.Add(1))%len(sampled)], 10))
				return err
			}))
			inRedis[1] = append(inRedis[1], b.redisMicros(r[2][len(r[2])-1]*d.Seconds()))
			// RevokeAll of users made for it, 10 sessions each.
			users := 2000
			for u := range users {
				for range perUser {
					if _, err := c.Sign(ctx, "ra"+strconv.Itoa(target)+"-"+strconv.Itoa(round)+"-"+strconv.Itoa(u), rjwt.WithTTL("1 minute")); err != nil {
						log.Fatal(err)
					}
				}
			}
			var u atomic.Int64
			r[3] = append(r[3], run(50, d, func() error {
				_, err := c.RevokeAll(ctx, "ra"+strconv.Itoa(target)+"-"+strconv.Itoa(round)+"-"+strconv.FormatInt(u.Add(1)%int64(users), 10))
				return err
			}))
			r[4] = append(r[4], run(50, d, func() error {
				return b.rdb.Exists(ctx, "scale:{s"+strconv.FormatInt((k.Add(7919)%int64(target))/perUser, 10)+"}:idx").Err()
			}))
		}
		var m [5]float64
		for i := range m {
			m[i] = median(r[i])
		}
		if first[0] == 0 {
			first = m
		}
		redisTime = append(redisTime, fmt.Sprintf("  %10d %10.2f %10.2f", target, median(inRedis[0]), median(inRedis[1])))
		fmt.Printf("  %10d %10s %10s %10s %10s %10s %11.0fM %8.1f", target, kops(m[0]), kops(m[1]), kops(m[2]), kops(m[3]), kops(m[4]), float64(usedMemory(b.rdb))/1e6, load.Seconds())
		if m != first {
			fmt.Printf("   vs first: %+.0f%% %+.0f%% %+.0f%% %+.0f%% %+.0f%%", pct(m[0], first[0]), pct(m[1], first[1]), pct(m[2], first[2]), pct(m[3], first[3]), pct(m[4], first[4]))
		}
		fmt.Println()
	}
}

func pct(a, b float64) float64 { return (a/b - 1) * 100 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func kops(v float64) string {
	if v >= 1e6 {
		return fmt.Sprintf("%.2fM", v/1e6)
	}
	return fmt.Sprintf("%.1fk", v/1e3)
}

// signCost prints Sign / SET EX at 50 in flight (interleaved rounds) and
// what one Sign costs inside Redis: EVALSHA's usec_per_call from INFO
// commandstats over a run of Signs alone, and the commands it called.
func (b *bench) signCost(rounds int, d time.Duration) {
	var ratios, signs, sets []float64
	for range rounds {
		sg := b.rate("sign", 50, d)
		st := b.rate("setex", 50, d)
		signs, sets, ratios = append(signs, sg), append(sets, st), append(ratios, sg/st)
	}
	fmt.Printf("Sign / go-redis SET EX at 50 in flight: %.2fx (%s vs %s ops/s, median of %d)\n", median(ratios), kops(median(signs)), kops(median(sets)), rounds)
	var costs []float64
	var stats string
	for range rounds {
		b.rdb.ConfigResetStat(b.ctx)
		b.rate("sign", 50, d)
		stats = b.rdb.Info(b.ctx, "commandstats").Val()
		for _, line := range strings.Split(stats, "\n") {
			if strings.HasPrefix(line, "cmdstat_evalsha:") {
				for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "cmdstat_evalsha:")), ",") {
					if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
						f, _ := strconv.ParseFloat(v, 64)
						costs = append(costs, f)
					}
				}
			}
		}
	}
	fmt.Printf("Sign inside Redis (EVALSHA usec_per_call, median of %d): %.2f us; commands of the last run:\n", rounds, median(costs))
	for _, line := range strings.Split(stats, "\n") {
		if strings.HasPrefix(line, "cmdstat_") {
			fmt.Println("  " + strings.TrimSpace(line))
		}
	}
}

// profile prints, for each of series (Sign and the SET EX baseline,
// uncached Verify and the EXISTS baseline) at inflight calls in flight, n
// calls each (after a warm-up of n/10): this process's CPU per call
// (getrusage: rjwt's or go-redis's work, the JWT, the syscalls), Redis's
// CPU per call (INFO cpu: commands, scripts and its I/O) and Redis's time
// inside the commands per call (INFO commandstats; for Sign, EVALSHA's
// usec_per_call, the script with every command it calls; for Verify every
// command's usec over the calls). A fixed number
// of calls, so that a redis-server run under callgrind counts the same
// work each time.
func (b *bench) profile(n, inflight int, series []string) {
	fmt.Printf("profile at %d in flight, %d calls each (CPU per call, us):\n", inflight, n)
	fmt.Printf("  %-8s %10s %10s %10s %12s\n", "series", "client", "redis", "in cmds", "calls/s")
	for _, op := range series {
		runN(inflight, n/10, func() error { return b.op(op) })
		b.rdb.ConfigResetStat(b.ctx)
		rc0 := redisCPU(b.rdb)
		c0 := cpuTime()
		start := time.Now()
		runN(inflight, n, func() error { return b.op(op) })
		el := time.Since(start)
		c1 := cpuTime()
		rc1 := redisCPU(b.rdb)
		var inCmds float64
		switch op {
		case "sign", "sign-ap":
			inCmds = b.commandMicros("evalsha")
		case "setex":
			inCmds = b.commandMicros("set")
		default:
			inCmds = b.redisMicros(float64(n))
		}
		fmt.Printf("  %-8s %10.2f %10.2f %10.2f %12s\n", op, (c1-c0).Seconds()*1e6/float64(n), (rc1-rc0)*1e6/float64(n), inCmds, kops(float64(n)/el.Seconds()))
	}
}

// commandMicros is usec_per_call of command name since the last CONFIG
// RESETSTAT (INFO commandstats; for EVALSHA, the script with every command
// it called).
func (b *bench) commandMicros(name string) float64 {
	for _, line := range strings.Split(b.rdb.Info(b.ctx, "commandstats").Val(), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
					f, _ := strconv.ParseFloat(v, 64)
					return f
				}
			}
		}
	}
	return math.NaN()
}

// runN is n calls of f by inflight goroutines.
func runN(inflight, n int, f func() error) {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := f(); err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is redis-server's user and system CPU time, in seconds (INFO
// cpu: its main thread and the others).
func redisCPU(rdb *redis.Client) float64 {
	info, err := rdb.InfoMap(context.Background(), "cpu").Result()
	if err != nil {
		log.Fatal(err)
	}
	u, _ := strconv.ParseFloat(info["CPU"]["used_cpu_user"], 64)
	s, _ := strconv.ParseFloat(info["CPU"]["used_cpu_sys"], 64)
	return u + s
}
