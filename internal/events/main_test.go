package events

import (
	"testing"

	"go.uber.org/goleak"
)

// The monitor's goroutines (the state machine, the prober, the keyspace
// subscribers) all end in Stop; the root package's tests drive it against
// real servers, and this checks nothing here outlives a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMergeKeyspaceFlags(t *testing.T) {
	for have, want := range map[string]string{"": "Kgx", "Ex": "ExKg", "AK": "AK", "A": "AK", "Kgx": "Kgx", "KEA": "KEA"} {
		if got := mergeKeyspaceFlags(have); got != want {
			t.Errorf("mergeKeyspaceFlags(%q) = %q, want %q", have, got, want)
		}
	}
}
