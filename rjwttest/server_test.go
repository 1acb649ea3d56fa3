package rjwttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwttest"
)

// NewServer serves what the embedded Redis cannot: the local cache answers
// from memory on it.
func TestNewServerServesTheCache(t *testing.T) {
	c := rjwttest.NewServer(t, rjwt.WithLocalCache(100))
	ctx := context.Background()
	tok := rjwttest.Token(t, c, "alice")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := c.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if c.CacheStats().Hits > 0 {
			return
		}
	}
	t.Fatal("Verify of one live session never answered from the cache in 10 s")
}
