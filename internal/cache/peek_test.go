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
