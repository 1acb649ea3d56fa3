package rjwt

import (
	"fmt"
	"time"
)

// WithReplicaAck makes revocations survive the failover of their master:
// Revoke, RevokeAll and a Refresh that revokes a session (a reused refresh
// token) return nil only once at least replicas replicas acknowledged the
// revocation (Redis WAIT, sent on the connection that wrote it, to the
// master of the user's slot). If fewer acknowledge within timeout, the call
// returns an error wrapping ErrUnavailable that says so: the revocation was
// made on the master, but may not survive a failover; calling again is safe
// (and waits again).
//
// The default is off: Redis replicates asynchronously, so a revocation
// acknowledged by a master that dies before its replica received it is lost
// when the replica is promoted, and the revoked token verifies again until
// it expires. That window is short (the replication delay, usually under a
// millisecond), but a logout or a theft response is exactly what must not
// be undone.
//
// Cost: Revoke and RevokeAll stay one round trip (the script and WAIT are
// pipelined) that lasts until the replica acknowledges, about one more
// master-to-replica round trip: on loopback it measured about 80 µs more per
// revoke (BenchmarkRevokeReplicaAck, docs/cluster.md). Each revocation holds
// a pooled connection while it waits; with fewer than replicas replicas
// connected, every revocation waits the full timeout and fails, so keep the
// timeout short (100 ms to 1 s) and the pool large enough for the revokes
// in flight. Refresh waits only when it revokes. Sign and Verify are
// unchanged.
//
// replicas must be at least 1, and timeout positive and below the Redis
// client's read timeout (go-redis's default is 3 seconds). Needs a
// *redis.Client (single node or Sentinel) or a *redis.ClusterClient.
func WithReplicaAck(replicas int, timeout time.Duration) Option {
	return func(c *config) error {
		if replicas < 1 {
			return fmt.Errorf("rjwt: WithReplicaAck: %d replicas; at least 1 (leave the option out to not wait)", replicas)
		}
		if timeout <= 0 {
			return fmt.Errorf("rjwt: WithReplicaAck: timeout %v is not positive (WAIT 0 would block forever)", timeout)
		}
		c.replicaAck, c.ackTimeout = replicas, timeout
		return nil
	}
}
