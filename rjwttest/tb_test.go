package rjwttest_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// fakeT is a testing.TB that records Fatalf and runs its cleanups when
// told: what go test's t does, for the tests of New's own failures and
// cleanup, and for the Example (which has no t of its own).
type fakeT struct {
	testing.TB // unset: calling anything not below panics
	mu         sync.Mutex
	fatal      string
	cleanups   []func()
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return "fake" }

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run calls fn in a goroutine of its own, as go test runs a test (Fatalf
// ends it), and returns what it passed to Fatalf, "" if nothing.
func (f *fakeT) run(fn func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

// end runs the cleanups, last registered first, as go test does when a
// test ends.
func (f *fakeT) end() {
	f.mu.Lock()
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// exampleT stands for the t that go test gives a test function, in
// ExampleNew. Its cleanups run at end().
func exampleT() *fakeT { return &fakeT{} }
