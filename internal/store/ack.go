package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replica acknowledgement. Redis replicates asynchronously: a master answers
// a write before its replicas have it, so a revocation acknowledged by a
// master that dies before its replica received it is lost when the replica
// is promoted, and the revoked token verifies again. With Config.ReplicaAck
// = n, each revocation is followed by WAIT n timeout on the very connection
// that wrote it (WAIT counts the replicas that acknowledged that
// connection's last write; on another connection it would measure nothing),
// on the master of the user's slot. Revoke and RevokeAll send the script and
// WAIT in one pipeline: one round trip, which lasts until the n-th replica
// acknowledges. Refresh sends WAIT only when the script revoked the session
// (a reused refresh token), as a second round trip on the same connection,
// so a rotation costs nothing more.
//
// A revocation whose reply was lost is retried on another connection; its
// script answers from the first run's answer key and renews that key, a
// write, so that WAIT on the retry's connection covers the first run too.
// Likewise a revocation that finds nothing to end writes a one-second
// answer key when it will WAIT (ackFlag), so that a call made again after
// an AckError waits for the first call's revocation: WAIT waits for the
// connection's last write, and Redis 7.2 on records none for a command
// that wrote nothing.
//
// WAIT cannot go inside the script or a MULTI (Redis answers it there at
// once, without waiting), and on a Cluster client go-redis would route a
// keyless WAIT to any master, so both commands go to one node client's
// pinned connection (redis.Conn) instead.
//
// WAIT makes the revocation durable against the failover of its master, as
// long as the acknowledging replica is the one promoted; it does not make
// Redis strongly consistent (see the Redis documentation of WAIT).

// AckError is a revocation that ran on the master but that fewer replicas
// than asked acknowledged within the timeout. It wraps ErrUnavailable (and
// WAIT's own error, if WAIT failed).
type AckError struct {
	Op        string
	Want, Got int
	Timeout   time.Duration
	Err       error // WAIT's failure; nil when WAIT answered too few
}

func (e *AckError) Error() string {
	why := fmt.Sprintf("%d of %d replicas acknowledged it within %v", e.Got, e.Want, e.Timeout)
	if e.Err != nil {
		why = fmt.Sprintf("WAIT failed (%v)", e.Err)
	}
	return fmt.Sprintf("rjwt: %s: %v: the revocation was made on the master, but %s, so it may not survive a failover; calling again is safe", e.Op, ErrUnavailable, why)
}

// Unwrap makes errors.Is(err, ErrUnavailable) hold.
func (e *AckError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrUnavailable, e.Err}
	}
	return []error{ErrUnavailable}
}

// AcksSupported reports whether replica acknowledgement works with rdb: a
// single node or Sentinel client (*redis.Client) or a Cluster client.
func AcksSupported(rdb redis.UniversalClient) error {
	switch rdb.(type) {
	case *redis.Client, *redis.ClusterClient:
		return nil
	}
	return fmt.Errorf("replica acknowledgement needs a *redis.Client (single node or Sentinel) or a *redis.ClusterClient, not %T", rdb)
}

// master is the client whose connections reach the master of key: on a
// Cluster the node serving key's slot (from the client's slot map, without a
// round trip), else the client itself (a Sentinel client dials the current
// master).
func (s *Store) master(ctx context.Context, key string) (*redis.Client, error) {
	switch r := s.rdb.(type) {
	case *redis.ClusterClient:
		return r.MasterForKey(ctx, key)
	case *redis.Client:
		return r, nil
	}
	return nil, errors.New(AcksSupported(s.rdb).Error())
}

// ackFlag is the revocation scripts' ARGV saying the caller will WAIT.
func (s *Store) ackFlag() string {
	if s.ack > 0 {
		return "1"
	}
	return ""
}

// runRevocation runs a script that revokes. With replica acknowledgement on,
// the script and WAIT go in one pipeline on one connection to the key's
// master, and a short count is an *AckError.
func (s *Store) runRevocation(ctx context.Context, op string, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	if s.ack <= 0 {
		return s.run(ctx, op, sc, keys, args...)
	}
	return s.retry(ctx, op, sc, func(ctx context.Context, run *redis.Script, _ string) (*redis.Cmd, error) {
		node, err := s.master(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		conn := node.Conn()
		defer conn.Close()
		var cmd *redis.Cmd
		var wait *redis.IntCmd
		send := func() {
			// The pipeline's error is its first command's, which cmd and
			// wait carry too.
			_, _ = conn.Pipelined(ctx, func(p redis.Pipeliner) error {
				cmd = run.EvalSha(ctx, p, keys, args...)
				wait = redis.NewIntCmd(ctx, "wait", s.ack, s.ackTimeout.Milliseconds())
				_ = p.Process(ctx, wait)
				return nil
			})
		}
		send()
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			if err := run.Load(ctx, conn).Err(); err != nil {
				return nil, err
			}
			send()
		}
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		return cmd, s.acked(op, wait)
	})
}

// runRefresh runs the refresh script. With replica acknowledgement on, it
// runs on one connection to the key's master and, when the script revoked
// the session (a reused refresh token), WAITs on that connection.
func (s *Store) runRefresh(ctx context.Context, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	const op = "refresh"
	if s.ack <= 0 {
		return s.run(ctx, op, sc, keys, args...)
	}
	return s.retry(ctx, op, sc, func(ctx context.Context, run *redis.Script, _ string) (*redis.Cmd, error) {
		node, err := s.master(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		conn := node.Conn()
		defer conn.Close()
		cmd := run.Run(ctx, conn, keys, args...)
		if err := cmd.Err(); err != nil {
			return cmd, err
		}
		if res, _ := cmd.Slice(); len(res) > 0 {
			if status, _ := res[0].(int64); status == -1 {
				return cmd, s.acked("refresh (reused token: session revoked)", conn.Wait(ctx, s.ack, s.ackTimeout))
			}
		}
		return cmd, nil
	})
}

// acked checks WAIT's answer.
func (s *Store) acked(op string, wait *redis.IntCmd) error {
	n, err := wait.Result()
	if err == nil && int(n) >= s.ack {
		return nil
	}
	return &AckError{Op: op, Want: s.ack, Got: int(n), Timeout: s.ackTimeout, Err: err}
}
