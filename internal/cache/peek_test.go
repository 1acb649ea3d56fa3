package cache

import (
	"reflect"
	"testing"
)

func TestParseInvalidations(t *testing.T) {
	msg := func(payload string) string {
		return "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + payload
	}
	for _, tc := range []struct {
		name string
		in   string
		want [][]string
		sure bool
	}{
		{"one key", msg("*1\r\n$5\r\nabcde\r\n"), [][]string{{"abcde"}}, true},
		{"two messages and a pong", msg("*2\r\n$1\r\na\r\n$2\r\nbc\r\n") + "*2\r\n$4\r\npong\r\n$1\r\n7\r\n" + msg("*1\r\n$1\r\nd\r\n"),
			[][]string{{"a", "bc"}, {"d"}}, true},
		{"a null invalidation", msg("*-1\r\n"), nil, false},
		{"a null bulk", msg("$-1\r\n"), nil, false},
		{"the keys of a message go-redis has begun", "*2\r\n$1\r\na\r\n$2\r\nbc\r\n", nil, false},
		{"cut in the middle", msg("*1\r\n$5\r\nabc"), nil, false},
		{"the tail of a message go-redis has begun", "$5\r\nabcde\r\n", nil, false},
		{"garbage", "hello", nil, false},
		{"another channel", "*3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$3\r\nbar\r\n", nil, true},
	} {
		var got [][]string
		sure := parseInvalidations([]byte(tc.in), func(keys []string) { got = append(got, keys) })
		if sure != tc.sure || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q sure=%v, want %q sure=%v", tc.name, got, sure, tc.want, tc.sure)
		}
	}
}

// TestApplyRepliesAcrossReads: the subscriber's reads apply each
// invalidation once its reply is whole, however the stream is cut, and
// keep the start of an unfinished reply for the next read.
func TestApplyRepliesAcrossReads(t *testing.T) {
	msg := func(payload string) string {
		return "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + payload
	}
	stream := ":42\r\n+OK\r\n*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n" +
		msg("*1\r\n$5\r\nabcde\r\n") + "*2\r\n$4\r\npong\r\n$1\r\n7\r\n" + msg("*2\r\n$1\r\na\r\n$2\r\nbc\r\n") + msg("*-1\r\n")
	want := [][]string{{"abcde"}, {"a", "bc"}, nil}
	for cut := range len(stream) {
		var got [][]string
		drop := func(keys []string) { got = append(got, keys) }
		used, ok := applyReplies([]byte(stream[:cut]), drop)
		if !ok {
			t.Fatalf("cut at %d: a whole prefix read as garbled", cut)
		}
		carry := stream[used:cut] + stream[cut:]
		used2, ok := applyReplies([]byte(carry), drop)
		if !ok || used2 != len(carry) || !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d: got %q (ok %v, %d of %d bytes), want %q", cut, got, ok, used2, len(carry), want)
		}
	}
	if _, ok := applyReplies([]byte("hello"), func([]string) {}); ok {
		t.Fatal("garbage read as RESP")
	}
}
