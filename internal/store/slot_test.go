package store

import "testing"

// TestKeySlot checks the CRC against the Cluster spec's test vector and
// slots CLUSTER KEYSLOT gave (Redis 7); the cluster tests of the cache
// compare it with CLUSTER KEYSLOT on a real cluster.
func TestKeySlot(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, the spec says 0x31c3", got)
	}
	for key, want := range map[string]int{
		"":                     0,
		"foo":                  12182,
		"bar":                  5061,
		"{user1000}.following": 3443,
		"{user1000}.followers": 3443,
		"foo{}{bar}":           8363, // empty first tag: the whole key
		"foo{{bar}}zap":        4015, // tag "{bar"
		"foo{bar}{zap}":        5061, // first tag only
		"c:{alice}:idx":        KeySlot("alice"),
	} {
		if got := KeySlot(key); got != want {
			t.Errorf("KeySlot(%q) = %d, want %d", key, got, want)
		}
	}
	k := Keys{Prefix: "p:"}
	if got, want := k.Slot("a{b}"), KeySlot(k.Session("a{b}", "abcdefghijklmnopqrstu")); got != want {
		t.Errorf("Slot(a{b}) = %d, its session key's slot is %d", got, want)
	}
}
