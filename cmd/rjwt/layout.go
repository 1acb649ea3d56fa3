package main

import (
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/store"
)

// stats needs to tell rjwt's keys apart across the keyspace, which the
// public API does not offer; internal/store, the owner of the key layout,
// does (Keys.Classify), so the command knows nothing of the layout itself.
// Keys under the prefix that are none of rjwt's are counted as "other":
// another application's keys, or a newer layout.

type keyKind = store.KeyKind

const (
	kindOther   = store.OtherKey
	kindSession = store.SessionKey
	kindIndex   = store.IndexKey
	kindAnswer  = store.AnswerKey
	kindLean    = store.LeanKey
)

// prefixPattern is the SCAN pattern of every key under prefix.
func prefixPattern(prefix string) string { return rjwt.EscapePattern(prefix) + "*" }

// classifyKey says what key is and whose (the user id).
func classifyKey(prefix, key string) (keyKind, string) {
	return store.Keys{Prefix: prefix}.Classify(key)
}
