package store

import (
	"strings"
	"unicode/utf8"
)

// Key layout. With the prefix "rjwt:", user "alice" has:
//
//	rjwt:{alice}:<nanoid>   a hash per session: field "d" holds the private
//	                        session data (JSON, always present, maybe "");
//	                        "c" (created, Redis ms); "s" (last use, Redis
//	                        ms, written by Verify when the last use, else
//	                        "c", is a minute old, and by Refresh: absent
//	                        means "c"); "o" (when the caller issued the
//	                        Sign, as the difference from "c", ms: a small
//	                        integer; written in both modes, so that a
//	                        single-mode Sign sees a newer multiple-mode
//	                        login on the same prefix); "w" (the end of the
//	                        Sign's write window, as the difference from
//	                        "c" in seconds, rounded up: see op:<id>); with
//	                        WithIdleTimeout "i"
//	                        (idle timeout ms) and "x" (the absolute end: the
//	                        refresh token's, else the token's expiry, Redis
//	                        ms); "m" (device details, a JSON object) with
//	                        WithMeta; "u" (auth_time, Unix s) when
//	                        WithAuthTime gave one (else it is "c" + "o")
//	                        and "q" (amr, space-separated) with WithAMR;
//	                        with a refresh token also "r" (current
//	                        refresh id), "p" (the one it replaced), "t"
//	                        (rotation time, Redis ms) and "a" (access TTL
//	                        ms). The key expires with the session: without
//	                        "i" its expiry is the absolute end (nothing but
//	                        Refresh moves it), with "i" after "i" unused
//	                        (Verify extends it, never past "x"). Fields are
//	                        few and short so that the hash stays a small
//	                        listpack: what can be derived is not stored.
//	                        Older layouts are still read: sessions signed
//	                        before this one have "s" and "x" always and "o"
//	                        as Unix ms; before those, no "c", "s", "x".
//	rjwt:{alice}:idx        a sorted set indexing the user's sessions:
//	                        member nanoid, score the session key's expiry in
//	                        Redis's clock (Unix ms), moved by idle extensions.
//	                        The index itself lives at least as long as the
//	                        user's latest "x". Expired entries stay until a
//	                        Sign finds the index holding 8 entries or more
//	                        (or as many as the cap) and prunes them, or the
//	                        event monitor does: every reader checks the
//	                        hash. The index is the authority: a session
//	                        verifies only while it has both its hash and
//	                        its index entry, so an evicted index logs its
//	                        user out rather than hide live sessions from
//	                        RevokeAll.
//	rjwt:{alice}:op:<id>    the answer of one Revoke, RevokeAll or IncrData
//	                        (id: a request id), kept 60s so that a call
//	                        Redis ran twice (a retry after a lost reply)
//	                        reports what the first run did. With id a
//	                        session's nanoid, what stops a Sign run again
//	                        from recreating that session once it was
//	                        revoked: a tombstone written by whatever ends
//	                        the session inside the Sign's write window (its
//	                        caller's deadline plus the skew plus 1s, 60s
//	                        without a deadline; the hash's "w"), kept until
//	                        the window ends; or the Sign's own answer, which
//	                        it writes only when that answer is not 0 or the
//	                        session could expire inside the window. A plain
//	                        Sign writes none: while the session lives, its
//	                        hash is what a second run finds. A run after the
//	                        window is refused as late, by the same clock.
//	rjwt:{alice}:op:why:<nanoid>  why that session ended, one byte
//	                        (scripts/lib/why.lua), kept as long as the
//	                        session would have lived, at most an hour.
//
// The lean layout (lean.go, scripts/lib/lean.lua), where the server has
// hash-field expiry (Redis 7.4+, Valkey 9+), keeps instead:
//
//	rjwt:{alice}            one hash per user: a field per session (its
//	                        nanoid) whose value is the session's record
//	                        (the fields above, packed: lib/lean.lua) and
//	                        whose own expiry (HPEXPIRE) is the session's,
//	                        as the classic hash's key expiry is. The hash is
//	                        the index: a field is the session and its index
//	                        entry at once, so it has no expiry of its own
//	                        and Redis deletes it with its last field.
//	rjwt:{alice}:op:...     answer keys, tombstones and end reasons, as
//	                        above (they live a minute or an hour, not the
//	                        session's life).
//
// The lean scripts are the classic ones with lib/lean.lua in front, which
// maps their commands on a session's hash and on the index onto the user's
// lean hash; a session whose classic hash exists (signed before the switch)
// is served from its classic keys, and the index's commands merge both, so
// a switch logs nobody out. Its name is the tag alone, which no classic
// key is, and the shortest name a user's key can have: at one session per
// user the key's own overhead is most of the memory.
//
// The braces make "{alice}" the Redis Cluster hash tag, so all keys of one user
// live in one slot and one Lua script can touch them all. Inside the braces the
// id is escaped ('%' → "%25", '{' → "%7B", '}' → "%7D") so that no id can end
// the tag early or reach into another user's keys. Nanoids are 21 characters of
// [A-Za-z0-9_-], which makes every session key decode to exactly one user.

// NanoidLen is the length of the session part of a session name, and of
// refresh and request ids.
const NanoidLen = 21

// MaxIDLength is the longest user id, in bytes.
const MaxIDLength = 512

const (
	indexSuffix = "idx"
	opInfix     = "op:"
)

// Keys builds and parses the key names under one prefix.
type Keys struct{ Prefix string }

var idEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")
var idUnescaper = strings.NewReplacer("%25", "%", "%7B", "{", "%7D", "}")

// UserBase is the part shared by all keys of one user: prefix + "{" + id + "}:".
func (k Keys) UserBase(id string) string {
	if !strings.ContainsAny(id, "%{}") {
		return k.Prefix + "{" + id + "}:"
	}
	return k.Prefix + "{" + idEscaper.Replace(id) + "}:"
}

// Session is the key of session id:nano, built in one allocation.
func (k Keys) Session(id, nano string) string {
	if !strings.ContainsAny(id, "%{}") {
		return k.Prefix + "{" + id + "}:" + nano
	}
	return k.UserBase(id) + nano
}

// Index is the key of the user's session index.
func (k Keys) Index(id string) string { return k.index(id) }

// index is Index, built in one allocation.
func (k Keys) index(id string) string {
	if !strings.ContainsAny(id, "%{}") {
		return k.Prefix + "{" + id + "}:" + indexSuffix
	}
	return k.UserBase(id) + indexSuffix
}

// op is the key that remembers the answer of one request.
func (k Keys) op(id, req string) string { return k.UserBase(id) + opInfix + req }

// ParseSession reverses the layout: it returns the user id and nanoid of a
// session key under this prefix, and ok=false for any other key (indexes and
// answer keys included).
func (k Keys) ParseSession(key string) (id, nano string, ok bool) {
	rest, found := strings.CutPrefix(key, k.Prefix)
	if !found || len(rest) < NanoidLen+4 || rest[0] != '{' {
		return "", "", false
	}
	nano = rest[len(rest)-NanoidLen:]
	tag := rest[1 : len(rest)-NanoidLen]
	tag, found = strings.CutSuffix(tag, "}:")
	if !found || !ValidNanoid(nano) || strings.ContainsAny(tag, "{}") {
		return "", "", false
	}
	id = idUnescaper.Replace(tag)
	if !ValidID(id) {
		return "", "", false
	}
	return id, nano, true
}

// ParseIndex returns the user id of an index key under this prefix (the
// classic sorted set, or the lean hash, which is the lean layout's index:
// a change to either may concern every session of the user), and ok=false
// for any other key.
func (k Keys) ParseIndex(key string) (id string, ok bool) {
	rest, found := strings.CutPrefix(key, k.Prefix)
	if !found || len(rest) < 2 || rest[0] != '{' {
		return "", false
	}
	tag, found := strings.CutSuffix(rest[1:], "}:"+indexSuffix)
	if !found {
		tag, found = strings.CutSuffix(rest[1:], "}")
	}
	if !found || strings.ContainsAny(tag, "{}") {
		return "", false
	}
	id = idUnescaper.Replace(tag)
	return id, ValidID(id)
}

// ValidID says whether id can name a user: non-empty, at most MaxIDLength
// bytes, valid UTF-8.
func ValidID(id string) bool {
	return id != "" && len(id) <= MaxIDLength && utf8.ValidString(id)
}

// ValidNanoid says whether s has a nanoid's shape.
func ValidNanoid(s string) bool {
	if len(s) != NanoidLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// KeyKind says what a key under the prefix is.
type KeyKind int

// The kinds of key Classify tells apart.
const (
	OtherKey   KeyKind = iota // not rjwt's, or a layout this version does not know
	SessionKey                // a session's hash
	IndexKey                  // a user's index
	AnswerKey                 // a Revoke or RevokeAll answer, kept 60s
	LeanKey                   // a user's lean hash: a field per session
)

// Classify tells what key is and, for rjwt's keys, whose: the user id.
func (k Keys) Classify(key string) (KeyKind, string) {
	if id, _, ok := k.ParseSession(key); ok {
		return SessionKey, id
	}
	rest, ok := strings.CutPrefix(key, k.Prefix)
	if !ok || !strings.HasPrefix(rest, "{") {
		return OtherKey, ""
	}
	if tag, ok := strings.CutSuffix(rest[1:], "}"); ok {
		if id := idUnescaper.Replace(tag); !strings.ContainsAny(tag, "{}") && ValidID(id) {
			return LeanKey, id
		}
		return OtherKey, ""
	}
	end := strings.LastIndex(rest, "}:")
	if end < 2 || strings.ContainsAny(rest[1:end], "{}") {
		return OtherKey, ""
	}
	id := idUnescaper.Replace(rest[1:end])
	if !ValidID(id) {
		return OtherKey, ""
	}
	switch tail := rest[end+2:]; {
	case tail == indexSuffix:
		return IndexKey, id
	case strings.HasPrefix(tail, opInfix) && ValidNanoid(tail[len(opInfix):]):
		return AnswerKey, id
	}
	return OtherKey, ""
}

// EscapePattern escapes s for literal use inside a Redis glob pattern
// (rjwt.EscapePattern).
func EscapePattern(s string) string {
	if !strings.ContainsAny(s, `\*?[]`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', '*', '?', '[', ']':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
