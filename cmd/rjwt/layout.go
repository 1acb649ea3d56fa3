package main

import (
	"strings"

	"github.com/rjwt/rjwt"
)

// This file is the command's only knowledge of rjwt's key layout (the
// core's keys.go); everything else goes through the public API. stats needs
// it because the core offers no way to count sessions and users across the
// keyspace. With prefix P, user u (escaped: '%' → %25, '{' → %7B, '}' → %7D)
// has
//
//	P{u}:<nanoid>   a hash per session (field d: the private data)
//	P{u}:idx        a sorted set indexing the user's sessions
//	P{u}:op:<id>    the 60 s answer of one Sign, Revoke or RevokeAll
//
// Keys under P that match neither are counted as "other": the layout may
// gain keys, and stats says so rather than guessing.

type keyKind int

const (
	kindOther keyKind = iota
	kindSession
	kindIndex
	kindAnswer
)

// prefixPattern is the SCAN pattern of every key under prefix.
func prefixPattern(prefix string) string { return rjwt.EscapePattern(prefix) + "*" }

// classifyKey tells a session key from an index key from anything else
// under prefix. user is the escaped user id between the braces: one string
// per user, enough to count users without unescaping.
func classifyKey(prefix, key string) (kind keyKind, user string) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || !strings.HasPrefix(rest, "{") {
		return kindOther, ""
	}
	end := strings.Index(rest, "}:")
	if end < 2 || strings.ContainsAny(rest[1:end], "{}") {
		return kindOther, ""
	}
	user, tail := rest[1:end], rest[end+2:]
	switch {
	case tail == "idx":
		return kindIndex, user
	case isNanoid(tail):
		return kindSession, user
	case strings.HasPrefix(tail, "op:") && isNanoid(tail[3:]):
		return kindAnswer, user
	}
	return kindOther, ""
}

// isNanoid: 21 characters of [A-Za-z0-9_-], as the core's session ids.
func isNanoid(s string) bool {
	if len(s) != 21 {
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
