package cache

import "bytes"

// Invalidations read ahead of go-redis.
//
// When every core is busy (Verify answered from memory in tight loops), the
// goroutine that reads the invalidation subscriber waits for the scheduler:
// nothing polls the network while every P has work, until the runtime's
// monitor does, every 10ms, and then it queues behind the busy goroutines.
// Measured with four goroutines verifying from the cache on two cores, a
// revocation took 14 ms at the median and 120 ms at p99 to be seen. So the
// hits themselves look at the subscriber's socket (connWatch.peek: a
// non-blocking MSG_PEEK on a duplicate of its descriptor, at most once per
// checkEvery per node) and apply what has arrived there before go-redis
// reads it: the keys an invalidation names are dropped at once, by whoever
// looks first (go-redis's reader applies them again later, harmlessly).
// What cannot be read whole (a message still arriving) makes the look
// unsure, and that Verify asks Redis.
//
// The peek sees only what is still in the socket. On a machine whose CPUs
// are busy with other processes too, the kernel can hold go-redis's reader
// thread off the CPU for tens of milliseconds between its read of an
// invalidation and anything else: the bytes are out of the socket and not
// applied, and hits answered stale meanwhile (measured: Verify calls begun
// up to 40 ms after a Revoke returned still accepted the token, at a load
// average of 13-20 on two cores). So the subscriber's connection applies
// what it reads before go-redis sees it (subConn), and counts those bytes
// applied; the look compares what the socket has received in all
// (TCP_INFO) with what is queued and what was applied, and is unsure while
// anything is in between (connWatch.inFlight).

// parseInvalidations walks the RESP2 pub/sub messages at the start of b and
// calls drop for the keys of each invalidation (nil keys: a null
// invalidation, everything may have changed). sure is false when b ends in
// the middle of a message or holds something it cannot read.
func parseInvalidations(b []byte, drop func(keys []string)) (sure bool) {
	for len(b) > 0 {
		if b[0] != '*' {
			return false // every pub/sub message is an array: this is the tail of one go-redis has begun
		}
		v, rest, ok := respValue(b, 0)
		if !ok {
			return false
		}
		b = rest
		msg, ok := v.([]any)
		if !ok || len(msg) < 2 {
			return false
		}
		kind, _ := msg[0].(string)
		channel, _ := msg[1].(string)
		switch {
		case len(msg) == 2 && kind == "pong":
			continue
		case len(msg) == 3 && (kind == "subscribe" || kind == "unsubscribe"):
			continue
		case len(msg) != 3 || kind != "message":
			return false // not a pub/sub message: the tail of one go-redis has begun
		case channel != "__redis__:invalidate":
			continue
		}
		switch p := msg[2].(type) {
		case nil:
			// A null invalidation (FLUSHDB) is left to go-redis's reader,
			// which flushes: read ahead, it is only a reason to ask Redis.
			return false
		case string:
			drop([]string{p})
		case []any:
			drop(keysOf(p))
		}
	}
	return true
}

// keysOf is the keys an invalidation names.
func keysOf(p []any) []string {
	keys := make([]string, 0, len(p))
	for _, k := range p {
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys
}

// applyReplies applies the invalidations among the whole RESP2 replies at
// the start of b (a null one as nil keys: everything may have changed) and
// says how many bytes they take; ok is false for bytes that are no RESP2.
func applyReplies(b []byte, drop func(keys []string)) (used int, ok bool) {
	for len(b) > used {
		v, rest, ok := respValue(b[used:], 0)
		if !ok {
			// An incomplete reply waits for its end; one that cannot be
			// read at all is garbled.
			return used, incomplete(b[used:])
		}
		used = len(b) - len(rest)
		msg, isArray := v.([]any)
		if !isArray || len(msg) != 3 {
			continue
		}
		if kind, _ := msg[0].(string); kind != "message" {
			continue
		}
		if channel, _ := msg[1].(string); channel != "__redis__:invalidate" {
			continue
		}
		switch p := msg[2].(type) {
		case nil:
			drop(nil)
		case string:
			drop([]string{p})
		case []any:
			drop(keysOf(p))
		}
	}
	return used, true
}

// incomplete says whether b could be the start of a RESP2 reply.
func incomplete(b []byte) bool {
	if len(b) == 0 || !bytes.ContainsRune([]byte("+-:$*"), rune(b[0])) {
		return false
	}
	return len(b) < 1<<20 // a reply larger than that is not an invalidation's
}

// respValue reads one RESP2 value: a bulk or simple string (string), an
// integer or error (ignored: nil is returned as a value only for nulls, so
// they read as ""), an array ([]any), a null (nil).
func respValue(b []byte, depth int) (v any, rest []byte, ok bool) {
	if len(b) == 0 || depth > 4 {
		return nil, nil, false
	}
	end := bytes.Index(b, []byte("\r\n"))
	if end < 1 {
		return nil, nil, false
	}
	head, rest := b[1:end], b[end+2:]
	switch b[0] {
	case '+', '-', ':':
		return "", rest, true
	case '$':
		n, ok := atoi(head)
		if !ok {
			return nil, nil, false
		}
		if n < 0 {
			return nil, rest, true
		}
		if len(rest) < n+2 {
			return nil, nil, false
		}
		return string(rest[:n]), rest[n+2:], true
	case '*':
		n, ok := atoi(head)
		if !ok {
			return nil, nil, false
		}
		if n < 0 {
			return nil, rest, true
		}
		if n > 1<<16 {
			return nil, nil, false
		}
		out := make([]any, 0, min(n, len(rest)/3+1))
		for range n {
			var e any
			if e, rest, ok = respValue(rest, depth+1); !ok {
				return nil, nil, false
			}
			out = append(out, e)
		}
		return out, rest, true
	}
	return nil, nil, false
}

func atoi(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
