package rjwt

import (
	"strings"
	"testing"
)

func TestKeyLayoutRoundTripsEveryID(t *testing.T) {
	c := &Client{prefix: "p:"}
	nano := strings.Repeat("A", nanoidLen)
	ids := []string{"alice", "*", "a:b", "{x}", "}", "{", "%", "%7B", "%257B", "a}:" + nano, "x\ny", "ü"}
	seen := map[string]string{}
	for _, id := range ids {
		key := c.userBase(id) + nano
		if other, dup := seen[key]; dup {
			t.Fatalf("ids %q and %q share the key %q", id, other, key)
		}
		seen[key] = id
		if n := strings.Count(key, "{"); n != 1 {
			t.Errorf("key %q of id %q has %d opening braces; want exactly the hash tag's", key, id, n)
		}
		gotID, gotNano, ok := c.parseKey(key)
		if !ok || gotID != id || gotNano != nano {
			t.Errorf("parseKey(%q) = %q, %q, %v; want %q, %q", key, gotID, gotNano, ok, id, nano)
		}
		if _, _, ok := c.parseKey(c.indexKey(c.userBase(id))); ok {
			t.Errorf("index key of %q parsed as a session key", id)
		}
	}
	for _, key := range []string{"", "p:", "other:{a}:" + nano, "p:{a}:short", "p:a:" + nano, "p:{a}" + nano, "p:{a}:" + strings.Repeat("*", nanoidLen)} {
		if _, _, ok := c.parseKey(key); ok {
			t.Errorf("parseKey(%q) accepted a key that is not a session", key)
		}
	}
}

func TestSplitSession(t *testing.T) {
	nano := strings.Repeat("b", nanoidLen)
	for _, id := range []string{"u", "a:b:c", "*", "x\n"} {
		gotID, gotNano, err := splitSession(sessionName(id, nano))
		if err != nil || gotID != id || gotNano != nano {
			t.Errorf("splitSession(%q) = %q, %q, %v", sessionName(id, nano), gotID, gotNano, err)
		}
	}
}
