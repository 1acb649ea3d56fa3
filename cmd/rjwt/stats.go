package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN: about 1,000 keys a round trip,
// none of which holds Redis for long.
const scanCount = 1000

// memorySample is how many session keys (and as many index keys) stats
// measures with MEMORY USAGE.
const memorySample = 100

type statsOut struct {
	Prefix   string `json:"prefix"`
	Sessions int64  `json:"sessions"`
	Users    int64  `json:"users"`
	Indexes  int64  `json:"indexes"`
	// LeanHashes counts the users' hashes of the lean layout, whose
	// fields (HLEN) are counted in Sessions.
	LeanHashes int64 `json:"leanHashes"`
	OtherKeys  int64 `json:"otherKeys"`
	DBKeys     int64 `json:"dbKeys"`
	Scan       struct {
		Calls      int    `json:"calls"`
		DurationMs int64  `json:"durationMs"`
		Note       string `json:"note"`
	} `json:"scan"`
	Memory      *memoryStats      `json:"memory,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
	ConfigError string            `json:"configError,omitempty"`
	Warnings    []string          `json:"warnings"`
	Notes       []string          `json:"notes"`
}

type memoryStats struct {
	SampledSessions int   `json:"sampledSessions"`
	SessionBytes    int64 `json:"sessionBytes"` // average MEMORY USAGE of a session hash
	SampledIndexes  int   `json:"sampledIndexes"`
	IndexBytes      int64 `json:"indexBytes"` // average MEMORY USAGE of a user's index
	// BytesPerSession is a session's hash plus its share of its user's index.
	BytesPerSession int64 `json:"bytesPerSession"`
}

const scanNote = "SCAN walks the whole database whatever the prefix: O(keyspace), in steps of about 1000 keys; KEYS is never sent"

// runStats counts sessions and users under the prefix, measures a sample's
// memory, and checks the settings rjwt depends on.
func runStats(ctx context.Context, c *cli, _ []string) error {
	cn, err := c.connect(nil) // the client checks the prefix
	if err != nil {
		return err
	}
	defer cn.Close()
	rdb := cn.rdb

	out := statsOut{Prefix: c.prefix, Warnings: []string{}, Notes: []string{}}
	out.Scan.Note = scanNote
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, c.timeout) }

	cctx, cancel := call()
	out.DBKeys, err = rdb.DBSize(cctx).Result()
	cancel()
	if err != nil {
		return fmt.Errorf("DBSIZE: %w", err)
	}

	users := make(map[string]struct{})
	var sessSample, idxSample reservoir
	var classic int64 // sessions of the classic layout
	start := time.Now()
	pattern := prefixPattern(c.prefix)
	var cursor uint64
	for {
		cctx, cancel := call()
		keys, next, err := rdb.Scan(cctx, cursor, pattern, scanCount).Result()
		cancel()
		if err != nil {
			return fmt.Errorf("SCAN: %w", err)
		}
		out.Scan.Calls++
		var lean []string
		for _, k := range keys {
			switch kind, user := classifyKey(c.prefix, k); kind {
			case kindSession:
				out.Sessions++
				classic++
				users[user] = struct{}{}
				sessSample.add(k)
			case kindIndex:
				out.Indexes++
				idxSample.add(k)
			case kindAnswer:
				// a Revoke's answer, gone within 60s
			case kindLean:
				out.LeanHashes++
				users[user] = struct{}{}
				lean = append(lean, k)
			default:
				out.OtherKeys++
			}
		}
		if len(lean) > 0 { // one pipeline of HLEN per SCAN step
			cctx, cancel := call()
			cmds, err := rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
				for _, k := range lean {
					p.HLen(cctx, k)
				}
				return nil
			})
			cancel()
			if err != nil {
				return fmt.Errorf("HLEN: %w", err)
			}
			for _, cmd := range cmds {
				out.Sessions += cmd.(*redis.IntCmd).Val()
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	out.Scan.DurationMs = time.Since(start).Milliseconds()
	out.Users = int64(len(users))

	if out.Memory, err = measure(ctx, c, rdb, sessSample.keys, idxSample.keys, classic, out.Indexes); err != nil {
		if isUnavailable(err) {
			return err
		}
		out.Notes = append(out.Notes, "MEMORY USAGE failed, no bytes per session: "+err.Error())
	}
	if err := checkConfig(ctx, c, rdb, &out); err != nil {
		return err
	}
	if out.LeanHashes > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d user(s) on the lean layout (one hash per user, a field per session): their sessions are counted by HLEN; bytes per session cover the classic layout only", out.LeanHashes))
	}
	if out.Sessions == 0 && out.Indexes == 0 {
		if hint := c.prefixHint(ctx, rdb, true); hint != "" {
			out.Notes = append(out.Notes, hint)
		}
	}
	if out.OtherKeys > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d key(s) under the prefix are neither sessions nor indexes: another application's keys, or a newer rjwt layout", out.OtherKeys))
	}

	if c.json {
		return c.printJSON(out)
	}
	return printStats(c, &out)
}

// reservoir keeps a uniform random sample of up to memorySample keys.
type reservoir struct {
	seen int
	keys []string
}

func (r *reservoir) add(k string) {
	r.seen++
	if len(r.keys) < memorySample {
		r.keys = append(r.keys, k)
	} else if i := rand.IntN(r.seen); i < memorySample {
		r.keys[i] = k
	}
}

// measure runs MEMORY USAGE on the sampled keys in one pipeline. Keys that
// expired since the walk are left out.
func measure(ctx context.Context, c *cli, rdb *redis.Client, sess, idx []string, nSess, nIdx int64) (*memoryStats, error) {
	if len(sess) == 0 {
		return nil, nil
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	pipe := rdb.Pipeline()
	sc := make([]*redis.IntCmd, len(sess))
	for i, k := range sess {
		sc[i] = pipe.MemoryUsage(cctx, k)
	}
	ic := make([]*redis.IntCmd, len(idx))
	for i, k := range idx {
		ic[i] = pipe.MemoryUsage(cctx, k)
	}
	if _, err := pipe.Exec(cctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	avg := func(cmds []*redis.IntCmd) (int, int64) {
		var n int
		var sum int64
		for _, cmd := range cmds {
			if v, err := cmd.Result(); err == nil {
				n++
				sum += v
			}
		}
		if n == 0 {
			return 0, 0
		}
		return n, sum / int64(n)
	}
	m := &memoryStats{}
	m.SampledSessions, m.SessionBytes = avg(sc)
	m.SampledIndexes, m.IndexBytes = avg(ic)
	m.BytesPerSession = m.SessionBytes
	if nSess > 0 {
		m.BytesPerSession += m.IndexBytes * nIdx / nSess
	}
	return m, nil
}

// checkConfig reads the settings rjwt depends on and turns the harmful ones
// into warnings. CONFIG refused (managed Redis often renames or forbids it)
// is a warning, not a failure; an unreachable Redis is a failure.
func checkConfig(ctx context.Context, c *cli, rdb *redis.Client, out *statsOut) error {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cfg := make(map[string]string)
	for _, name := range []string{"maxmemory-policy", "maxmemory", "notify-keyspace-events"} {
		// One name per CONFIG GET: Redis before 7 takes only one.
		v, err := rdb.ConfigGet(cctx, name).Result()
		if err != nil {
			if isUnavailable(err) {
				return fmt.Errorf("CONFIG GET: %w", err)
			}
			out.ConfigError = err.Error()
			out.Warnings = append(out.Warnings, fmt.Sprintf(
				"CONFIG GET refused (%v), as managed Redis often does: cannot check maxmemory-policy and notify-keyspace-events. "+
					"Make sure maxmemory-policy is noeviction and, for session events, notify-keyspace-events includes Kgx (your provider's console)", err))
			return nil
		}
		if val, ok := v[name]; ok {
			cfg[name] = val
		}
	}
	out.Config = cfg

	policy, ok := cfg["maxmemory-policy"]
	switch {
	case !ok:
	case policy == "noeviction":
	case strings.HasPrefix(policy, "volatile-"):
		out.Notes = append(out.Notes, fmt.Sprintf(
			"maxmemory-policy %s evicts only keys with a TTL; every rjwt key has one (sessions, and each index lives as long as its user's longest session), "+
				"so under memory pressure sessions can end before their TTL and an evicted index hides its user's sessions from sessions/revoke-all until they expire. noeviction makes Sign fail instead", policy))
	case strings.HasPrefix(policy, "allkeys-"):
		out.Warnings = append(out.Warnings, fmt.Sprintf(
			"maxmemory-policy %s can evict any key, including a user's index: then sessions, revoke-all and single-mode Sign no longer see that user's live sessions, "+
				"and evicted sessions log users out early. Use noeviction (or a volatile-* policy)", policy))
	default:
		out.Warnings = append(out.Warnings, fmt.Sprintf("maxmemory-policy %s is neither noeviction nor volatile-*: it may evict rjwt's indexes and sessions", policy))
	}
	if nke, ok := cfg["notify-keyspace-events"]; ok && !hasKeyspaceFlags(nke) {
		out.Notes = append(out.Notes, fmt.Sprintf(
			"notify-keyspace-events is %q, without all of Kgx: session events (watch, WithKeyspaceEvents) need them; rjwt adds them itself with WithKeyspaceEvents(true) where CONFIG SET is allowed", nke))
	}
	return nil
}

// hasKeyspaceFlags reports whether notify-keyspace-events has K, g and x
// ("A" stands for g, x and the other classes).
func hasKeyspaceFlags(v string) bool {
	return strings.Contains(v, "K") &&
		(strings.Contains(v, "A") || strings.Contains(v, "g") && strings.Contains(v, "x"))
}

func printStats(c *cli, out *statsOut) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "prefix\t%q\n", out.Prefix)
	fmt.Fprintf(tw, "live sessions\t%d\n", out.Sessions)
	fmt.Fprintf(tw, "users\t%d\n", out.Users)
	fmt.Fprintf(tw, "user indexes\t%d\n", out.Indexes)
	if out.LeanHashes > 0 {
		fmt.Fprintf(tw, "lean user hashes\t%d\n", out.LeanHashes)
	}
	fmt.Fprintf(tw, "other keys\t%d\n", out.OtherKeys)
	fmt.Fprintf(tw, "database keys\t%d (DBSIZE)\n", out.DBKeys)
	fmt.Fprintf(tw, "scan\t%d SCAN call(s) in %dms; %s\n", out.Scan.Calls, out.Scan.DurationMs, out.Scan.Note)
	if m := out.Memory; m != nil {
		fmt.Fprintf(tw, "bytes per session\t~%d (session hash ~%d, MEMORY USAGE of %d sampled; user index ~%d, of %d sampled)\n",
			m.BytesPerSession, m.SessionBytes, m.SampledSessions, m.IndexBytes, m.SampledIndexes)
	}
	for _, name := range []string{"maxmemory-policy", "maxmemory", "notify-keyspace-events"} {
		if v, ok := out.Config[name]; ok {
			fmt.Fprintf(tw, "%s\t%q\n", name, v)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(c.stdout, "warning: %s\n", w)
	}
	for _, n := range out.Notes {
		fmt.Fprintf(c.stdout, "note: %s\n", n)
	}
	return nil
}
