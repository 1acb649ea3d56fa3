package store

import (
	"strings"
	"testing"
)

func TestKeyLayoutRoundTripsEveryID(t *testing.T) {
	k := Keys{Prefix: "p:"}
	nano := strings.Repeat("A", NanoidLen)
	ids := []string{"alice", "*", "a:b", "{x}", "}", "{", "%", "%7B", "%257B", "a}:" + nano, "x\ny", "ü"}
	seen := map[string]string{}
	for _, id := range ids {
		key := k.Session(id, nano)
		if key != k.UserBase(id)+nano {
			t.Fatalf("Session(%q) = %q; want UserBase+nano", id, key)
		}
		if other, dup := seen[key]; dup {
			t.Fatalf("ids %q and %q share the key %q", id, other, key)
		}
		seen[key] = id
		if n := strings.Count(key, "{"); n != 1 {
			t.Errorf("key %q of id %q has %d opening braces; want exactly the hash tag's", key, id, n)
		}
		gotID, gotNano, ok := k.ParseSession(key)
		if !ok || gotID != id || gotNano != nano {
			t.Errorf("ParseSession(%q) = %q, %q, %v; want %q, %q", key, gotID, gotNano, ok, id, nano)
		}
		if _, _, ok := k.ParseSession(k.Index(id)); ok {
			t.Errorf("index key of %q parsed as a session key", id)
		}
		if _, _, ok := k.ParseSession(k.op(id, nano)); ok {
			t.Errorf("answer key of %q parsed as a session key", id)
		}
		// The lean hash is the user's index too (a change to it may concern
		// every session of the user), and no classic key.
		if got, ok := k.ParseIndex(k.Lean(id)); !ok || got != id {
			t.Errorf("ParseIndex(Lean(%q)) = %q, %v", id, got, ok)
		}
		if _, _, ok := k.ParseSession(k.Lean(id)); ok || k.Lean(id)+":" != k.UserBase(id) {
			t.Errorf("lean key %q of %q: a session key, or not the key base without its ':'", k.Lean(id), id)
		}
	}
	for _, key := range []string{"", "p:", "other:{a}:" + nano, "p:{a}:short", "p:a:" + nano, "p:{a}" + nano, "p:{a}:" + strings.Repeat("*", NanoidLen)} {
		if _, _, ok := k.ParseSession(key); ok {
			t.Errorf("ParseSession(%q) accepted a key that is not a session", key)
		}
	}
}

func TestClassify(t *testing.T) {
	k := Keys{Prefix: "p:"}
	nano := strings.Repeat("A", NanoidLen)
	for _, id := range []string{"alice", "a}:idx", "{x}", "a:b", "%7B"} {
		for key, want := range map[string]KeyKind{k.Session(id, nano): SessionKey, k.Index(id): IndexKey, k.op(id, nano): AnswerKey, k.Lean(id): LeanKey} {
			kind, got := k.Classify(key)
			if kind != want || got != id {
				t.Errorf("Classify(%q) = %v, %q; want %v, %q", key, kind, got, want, id)
			}
		}
	}
	for _, key := range []string{"p:", "q:{a}:idx", "p:{a}:other", "p:a:idx", "p:{a}:op:short", "p:{}", "p:{a}}", "q:{a}"} {
		if kind, _ := k.Classify(key); kind != OtherKey {
			t.Errorf("Classify(%q) = %v; want OtherKey", key, kind)
		}
	}
}
