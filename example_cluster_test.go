package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
)

// A Redis Cluster: give rjwt a go-redis ClusterClient. Every key of a user
// shares the hash tag {id}, so each operation is one script on one master;
// the helper calls walk every master; with WithKeyspaceEvents rjwt
// subscribes to every master, including replicas promoted later.
// WithReplicaAck makes each revocation wait until the user's master's
// replica has it, so that a failover cannot bring a revoked token back.
// (This example needs a running cluster, so it has no Output to check; the
// tests run the same calls on one, see topology_test.go.)
func ExampleWithRedisClient_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close() // rjwt does not close a client it was given

	c, err := rjwt.New(
		rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))),
		rjwt.WithRedisClient(rdb),
		rjwt.WithKeyspaceEvents(true),
		rjwt.WithReplicaAck(1, 500*time.Millisecond),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	ctx := context.Background()
	token, err := c.Sign(ctx, "alice")
	if err != nil {
		fmt.Println(err) // errors.Is(err, rjwt.ErrUnavailable): try later
		return
	}
	claims, err := c.Verify(ctx, token)
	if err != nil {
		fmt.Println(err)
		return
	}
	switch err := c.Revoke(ctx, claims.Session); {
	case errors.Is(err, rjwt.ErrUnavailable):
		// Revoked on the master, but not yet acknowledged by a replica (or
		// not reached): calling Revoke again is safe.
	case err != nil:
		fmt.Println(err)
	}
}

// Sentinel: give rjwt a go-redis failover client; it finds the master
// through the Sentinels and follows a failover.
func ExampleWithRedisClient_sentinel() {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()

	c, err := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithRedisClient(rdb), rjwt.WithReplicaAck(1, 500*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	token, err := c.Sign(context.Background(), "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = token
}
