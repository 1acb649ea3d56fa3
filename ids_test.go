package rjwt

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLenMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"alice", `a"b\c`, "<>&", "\x00\x01\x1f", "\n\r\t\b\f", "ü€𝄞", "\u2028\u2029", strings.Repeat("<", 512)} {
		b, _ := json.Marshal(s)
		if got, want := jsonLen(s), len(b)-2; got != want {
			t.Errorf("jsonLen(%q) = %d; encoding/json writes %d", s, got, want)
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
