package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DPoP (RFC 9449): the replay set of proofs' jti values.

var proofScript = load("proof")

// proofInfix names a proof's replay key, in the session's slot: base +
// "dpop:" + nano + ":" + base64url(SHA-256(jti)).
const proofInfix = "dpop:"

// ProofStatus is what RecordProof found.
type ProofStatus int

// RecordProof's answers.
const (
	ProofRecorded ProofStatus = 1  // the jti is new for this session: recorded
	ProofReplayed ProofStatus = -1 // the jti was seen before: a replay
	ProofUnbound  ProofStatus = 0  // the session's hash is gone, or not bound to jkt
)

// ProofKey is the replay key of a proof's jti for session id:nano.
func (k Keys) ProofKey(id, nano, jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return k.UserBase(id) + proofInfix + nano + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// RecordProof accepts a proof's jti once for session id:nano, bound to the
// key whose thumbprint is jkt, remembering it for keep (at least 1 ms). One
// round trip (a script, SET NX PX under the session's hash tag); safe to
// run twice: a second run of one call finds its own mark.
func (s *Store) RecordProof(ctx context.Context, id, nano, jkt, jti string, keep time.Duration) (ProofStatus, error) {
	mark := rand.Text()
	cmd, err := s.run(ctx, "dpop", proofScript, []string{s.Session(id, nano), s.ProofKey(id, nano, jti)},
		jkt, max(keep.Milliseconds(), 1), mark)
	if err != nil {
		return 0, err
	}
	n, err := cmd.Int()
	if err != nil {
		return 0, s.Wrap("dpop", err)
	}
	return ProofStatus(n), nil
}

// Live reports, for introspection, whether session id:nano is live (its
// index entry and hash exist) and its current refresh id ("" for a session
// without refresh tokens), without recording a use. One round trip (a
// pipeline of reads in the session's slot).
func (s *Store) Live(ctx context.Context, id, nano string) (bool, string, error) {
	if err := s.avail.Err(); err != nil {
		return false, "", fmt.Errorf("rjwt: introspect: %w", err)
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	if lean, err := s.isLean(ctx); err != nil {
		return false, "", s.layoutErr("introspect", err)
	} else if lean {
		if live, rti, done, err := s.leanLive(ctx, id, nano); done || live {
			return live, rti, err
		}
	}
	var zs *redis.FloatCmd
	var hm *redis.SliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		zs = p.ZScore(ctx, s.index(id), nano)
		hm = p.HMGet(ctx, s.Session(id, nano), "c", "r")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, "", s.Wrap("introspect", err)
	}
	if zs.Err() != nil || hm.Err() != nil || len(hm.Val()) != 2 || hm.Val()[0] == nil {
		return false, "", nil
	}
	rti, _ := hm.Val()[1].(string)
	return true, rti, nil
}
