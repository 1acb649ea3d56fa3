package main

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// A call that ends in time is answered with its own result, never with the
// cancellation its own end causes (which made logins answer 503 on a busy
// machine).
func TestBoundedAnswersACallThatEndedInTime(t *testing.T) {
	for i := range 2000 {
		v, err := bounded(context.Background(), time.Minute, func(context.Context) (int, error) {
			runtime.Gosched() // let the caller reach its select first, or not
			return i, nil
		})
		if err != nil || v != i {
			t.Fatalf("call %d: %v, %v", i, v, err)
		}
	}
}

func TestBoundedGivesUpAfterItsTime(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	_, err := bounded(context.Background(), 10*time.Millisecond, func(context.Context) (int, error) {
		<-release
		return 1, nil
	})
	if err != context.DeadlineExceeded {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}
