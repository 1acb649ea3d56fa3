package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// hintScanCalls bounds each SCAN walk of a prefix hint: at most this many
// SCAN calls of about scanCount keys, so a hint costs ~10,000 keys however
// large the database.
const hintScanCalls = 10

// warnEmptyPrefix tells the operator, on stderr, when the prefix holds no
// rjwt key at all, which is a wrong -prefix far more often than an empty
// application, and names the prefixes that do hold some. checked says the
// caller already walked the prefix and found none. The hint is best effort:
// a failed SCAN skips it.
func (c *cli) warnEmptyPrefix(ctx context.Context, rdb *redis.Client, checked bool) {
	if msg := c.prefixHint(ctx, rdb, checked); msg != "" {
		fmt.Fprintln(c.stderr, "rjwt: note: "+msg)
	}
}

// prefixHint is warnEmptyPrefix's message, "" when the prefix has rjwt keys
// (or a SCAN failed).
func (c *cli) prefixHint(ctx context.Context, rdb *redis.Client, checked bool) string {
	rjwtKey := func(prefix, key string) bool {
		kind, _ := classifyKey(prefix, key)
		return kind == kindSession || kind == kindIndex || kind == kindLean
	}
	if !checked {
		under := false
		err := c.scanBounded(ctx, rdb, prefixPattern(c.prefix), func(k string) bool {
			under = rjwtKey(c.prefix, k)
			return !under
		})
		if err != nil || under {
			return ""
		}
	}
	found := map[string]int{}
	looked := 0
	err := c.scanBounded(ctx, rdb, "*", func(k string) bool {
		looked++
		// rjwt's keys are the prefix, then "{user}"; a prefix holds no "{".
		if i := strings.IndexByte(k, '{'); i >= 0 && rjwtKey(k[:i], k) {
			found[k[:i]]++
		}
		return true
	})
	if err != nil {
		return ""
	}
	msg := fmt.Sprintf("no rjwt session or index keys under prefix %q", c.prefix)
	if len(found) == 0 {
		return msg + fmt.Sprintf("; none under any prefix among the %d key(s) looked at (a bounded SCAN)", looked)
	}
	prefixes := make([]string, 0, len(found))
	for p := range found {
		prefixes = append(prefixes, p)
	}
	sort.Slice(prefixes, func(i, j int) bool {
		if found[prefixes[i]] != found[prefixes[j]] {
			return found[prefixes[i]] > found[prefixes[j]]
		}
		return prefixes[i] < prefixes[j]
	})
	if len(prefixes) > 5 {
		prefixes = prefixes[:5]
	}
	parts := make([]string, len(prefixes))
	for i, p := range prefixes {
		parts[i] = fmt.Sprintf("%q (%d key(s))", p, found[p])
	}
	return msg + "; rjwt keys were found under " + strings.Join(parts, ", ") +
		fmt.Sprintf(" among the %d key(s) looked at: give the application's prefix with -prefix or RJWT_PREFIX", looked)
}

// scanBounded calls each for the keys matching pattern, over at most
// hintScanCalls SCAN calls, until each returns false.
func (c *cli) scanBounded(ctx context.Context, rdb *redis.Client, pattern string, each func(string) bool) error {
	var cursor uint64
	for range hintScanCalls {
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		keys, next, err := rdb.Scan(cctx, cursor, pattern, scanCount).Result()
		cancel()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !each(k) {
				return nil
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
	return nil
}
