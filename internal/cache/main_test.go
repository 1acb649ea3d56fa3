package cache

import (
	"testing"

	"go.uber.org/goleak"
)

// The cache's goroutines (trackers, watches, fills) are all stopped by
// Close; the root package's tests run it against real servers, and these
// check that nothing here outlives a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
