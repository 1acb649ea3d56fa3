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
	}
	for _, key := range []string{"", "p:", "other:{a}:" + nano, "p:{a}:short", "p:a:" + nano, "p:{a}" + nano, "p:{a}:" + strings.Repeat("*", NanoidLen)} {
		if _, _, ok := k.ParseSession(key); ok {
			t.Errorf("ParseSession(%q) accepted a key that is not a session", key)
		}
	}
}
