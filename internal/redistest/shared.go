package redistest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// sharedTB is the testing.TB of harness parts that live as long as the test
// binary (see Shared).
type sharedTB struct {
	testing.TB // nil: only the methods below are used by the harness
	mu         sync.Mutex
	cleanups   []func()
}

var shared = &sharedTB{}

// Shared is a testing.TB for harness parts a whole test package shares: a
// Cluster or Sentinel setup started once (with a sync.Once, by the first test
// that needs it) instead of once per test, since each takes seconds to start.
// Main stops what was started with it after the tests, before it exits. Its
// Fatal and Fatalf panic (a sync.Once can recover the panic and hand the
// error to each test that wanted the setup), and its Log writes to stderr.
// Use Cluster.For to get a Cluster whose methods fail the calling test.
func Shared() testing.TB { return shared }

func (s *sharedTB) Helper()      {}
func (s *sharedTB) Name() string { return "shared" }
func (s *sharedTB) Cleanup(f func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, f)
	s.mu.Unlock()
}
func (s *sharedTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (s *sharedTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (s *sharedTB) Log(args ...any)                   { fmt.Fprintln(os.Stderr, args...) }
func (s *sharedTB) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// closeShared runs the shared cleanups, last registered first.
func closeShared() {
	shared.mu.Lock()
	fs := shared.cleanups
	shared.cleanups = nil
	shared.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
