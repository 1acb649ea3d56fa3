package redistest_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/redistest"
)

func TestServerKillRestart(t *testing.T) {
	s := redistest.Start(t, "--maxmemory", "7mb")
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	if v, err := rdb.ConfigGet(ctx, "maxmemory").Result(); err != nil || v["maxmemory"] != "7340032" {
		t.Fatalf("extra args not applied: maxmemory %v, %v", v, err)
	}
	if fi, err := os.Stat(s.Dir()); err != nil || !fi.IsDir() {
		t.Fatalf("Dir %q: %v", s.Dir(), err)
	}
	if !s.Alive() {
		t.Fatal("a started server is not Alive")
	}

	s.Kill()
	if s.Alive() {
		t.Fatal("a killed server is Alive")
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING on a killed server succeeded")
	}

	port := s.Port
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if !s.Alive() || s.Port != port {
		t.Fatalf("after Restart: Alive %v, port %d (was %d)", s.Alive(), s.Port, port)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if v, err := rdb.ConfigGet(ctx, "maxmemory").Result(); err != nil || v["maxmemory"] != "7340032" {
		t.Fatalf("extra args lost on Restart: maxmemory %v, %v", v, err)
	}
}
