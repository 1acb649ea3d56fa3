package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

// TestProofScript: a jti is recorded once for a session bound to the key;
// the same call run again (its own mark) is not a replay; a session gone or
// bound to another key records nothing.
func TestProofScript(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	s := New(rdb, Config{Prefix: "p:"})
	defer s.Close()
	ctx := context.Background()
	const id, nano = "alice", "abcdefghijklmnopqrstu"
	hash, key := s.Session(id, nano), s.ProofKey(id, nano, "jti-1")
	run := func(jkt, mark string) int64 {
		t.Helper()
		cmd, err := s.run(ctx, "dpop", proofScript, []string{hash, key}, jkt, 60_000, mark)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := cmd.Int64()
		return n
	}
	if n := run("K", "m1"); n != 0 {
		t.Fatalf("no session: %d", n)
	}
	rdb.HSet(ctx, hash, "d", "", "j", "K")
	if n := run("other", "m1"); n != 0 {
		t.Fatalf("another key: %d", n)
	}
	if n := run("K", "m1"); n != 1 {
		t.Fatalf("first: %d", n)
	}
	if n := run("K", "m1"); n != 1 {
		t.Fatalf("the same call again: %d", n)
	}
	if n := run("K", "m2"); n != -1 {
		t.Fatalf("a replay: %d", n)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("kept %v", ttl)
	}
	if KeySlot(key) != KeySlot(hash) {
		t.Fatalf("the replay key %q is not in the session's slot", key)
	}
	st, err := s.RecordProof(ctx, id, nano, "K", "jti-2", time.Second)
	if err != nil || st != ProofRecorded {
		t.Fatalf("RecordProof: %v %v", st, err)
	}
	if st, _ = s.RecordProof(ctx, id, nano, "K", "jti-2", time.Second); st != ProofReplayed {
		t.Fatalf("RecordProof again: %v", st)
	}
}
